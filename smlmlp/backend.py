"""Array and FFT modules for the CPU (NumPy + SciPy) or the GPU (CuPy).

The accumulation of power spectra is written once against an array module
``xp`` and an FFT module ``fft``; this module chooses them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import scipy.fft

CUDA_INSTALL_HINT = (
    "install CuPy for your CUDA version, e.g. `pip install .[cuda12]` or `pip install .[cuda13]`"
)


class CudaUnavailableError(RuntimeError, ValueError):
    """``cuda=True`` was asked for where CuPy or a CUDA device is missing."""


@dataclass(frozen=True)
class Backend:
    """The array module, FFT module and FFT worker count used for one computation.

    Attributes
    ----------
    xp : module
        ``numpy`` or ``cupy``.
    fft : module
        ``scipy.fft`` or ``cupyx.scipy.fft``.
    workers : int or None
        Number of CPU FFT workers (``None`` on the GPU, where it does not apply).
    cuda : bool
        Whether the arrays live on the GPU.
    """

    xp: ModuleType
    fft: ModuleType
    workers: int | None
    cuda: bool

    def rfft2(self, frames: Any, workers: int | None = None) -> Any:
        """Real 2-D FFT over the last two axes (``workers`` overrides the backend's)."""
        if self.cuda:
            return self.fft.rfft2(frames, axes=(-2, -1))
        return self.fft.rfft2(frames, axes=(-2, -1), workers=workers or self.workers)

    def irfft2(self, spectrum: Any, shape: tuple[int, int]) -> Any:
        """Inverse of :meth:`rfft2` for frames of ``shape`` (odd widths included)."""
        if self.cuda:
            return self.fft.irfft2(spectrum, s=shape, axes=(-2, -1))
        return self.fft.irfft2(spectrum, s=shape, axes=(-2, -1), workers=self.workers)

    def asarray(self, array: Any, dtype: Any = None) -> Any:
        """Move ``array`` to this backend's device (no copy when already there)."""
        return self.xp.asarray(array, dtype=dtype)

    def to_numpy(self, array: Any) -> np.ndarray:
        """Bring ``array`` back to host memory as a NumPy array."""
        if self.cuda:
            return self.xp.asnumpy(array)
        return np.asarray(array)


def cuda_status() -> tuple[bool, str]:
    """Tell whether CuPy can use a CUDA device here.

    Returns
    -------
    tuple of (bool, str)
        ``(True, description)`` when a device is usable, else ``(False, reason)``.

    Examples
    --------
    >>> ok, why = cuda_status()
    >>> isinstance(ok, bool) and isinstance(why, str)
    True
    """
    try:
        import cupy
    except ImportError:
        return False, f"CuPy is not installed; {CUDA_INSTALL_HINT}"
    except Exception as error:  # a broken CuPy install raises many kinds of errors
        return False, f"CuPy failed to import ({error}); {CUDA_INSTALL_HINT}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:
        return False, f"CuPy is installed but CUDA is not usable ({error})"
    if count < 1:
        return False, "CuPy is installed but no CUDA device is visible"
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    if isinstance(name, bytes):
        name = name.decode()
    return True, f"{count} CUDA device(s), device 0: {name}"


def cpu_workers(parallel: bool) -> int:
    """Number of FFT workers: every available core when ``parallel``, else one."""
    if not parallel:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def get_backend(cuda: bool = False, parallel: bool = False, workers: int | None = None) -> Backend:
    """Choose the array and FFT modules.

    Parameters
    ----------
    cuda : bool, optional
        Use CuPy on the GPU. Raises ``RuntimeError`` naming what is missing when
        CuPy or a CUDA device is not available.
    parallel : bool, optional
        On the CPU, run the FFTs on every available core.
    workers : int, optional
        On the CPU, this many FFT workers (e.g. a cluster job's threads); wins
        over ``parallel``.

    Returns
    -------
    Backend

    Examples
    --------
    >>> backend = get_backend(parallel=False)
    >>> backend.xp.__name__, backend.workers
    ('numpy', 1)
    """
    if not cuda:
        if workers is not None and int(workers) < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        count = int(workers) if workers is not None else cpu_workers(parallel)
        return Backend(xp=np, fft=scipy.fft, workers=count, cuda=False)
    ok, reason = cuda_status()
    if not ok:
        raise CudaUnavailableError(f"cuda=True was requested but the GPU cannot be used: {reason}")
    import cupy
    import cupyx.scipy.fft

    return Backend(xp=cupy, fft=cupyx.scipy.fft, workers=None, cuda=True)
