"""``cupyx.scipy.ndimage`` of the stand-in: SciPy's filters with CuPy's arguments."""

from __future__ import annotations

import cupy
import scipy.ndimage as _ndimage

from cupyx.scipy.fft import _device


def gaussian_filter1d(
    input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0
):
    data = _device(input, "gaussian_filter1d")
    if output is not None and not isinstance(output, cupy.ndarray | type):
        raise TypeError(f"output must be a cupy.ndarray or a dtype, got {type(output)}")
    target = output._data if isinstance(output, cupy.ndarray) else output
    result = _ndimage.gaussian_filter1d(
        data, sigma, axis=axis, order=order, output=target, mode=mode, cval=cval, truncate=truncate
    )
    return output if isinstance(output, cupy.ndarray) else cupy.ndarray._from_data(result)
