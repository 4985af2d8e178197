"""``cupyx.scipy.fft`` of the stand-in: SciPy's FFTs with CuPy's arguments (no ``workers``)."""

from __future__ import annotations

from typing import Any

import cupy
import scipy.fft as _fft


def _device(x: Any, name: str) -> Any:
    if not isinstance(x, cupy.ndarray):
        raise TypeError(f"{name}: the input array must be a cupy.ndarray, got {type(x)}")
    return x._data


def _result(data: Any) -> Any:
    return cupy.ndarray._from_data(data)


def fft(x, n=None, axis=-1, norm=None, overwrite_x=False, *, plan=None):
    return _result(_fft.fft(_device(x, "fft"), n=n, axis=axis, norm=norm))


def ifft(x, n=None, axis=-1, norm=None, overwrite_x=False, *, plan=None):
    return _result(_fft.ifft(_device(x, "ifft"), n=n, axis=axis, norm=norm))


def rfft(x, n=None, axis=-1, norm=None, overwrite_x=False, *, plan=None):
    return _result(_fft.rfft(_device(x, "rfft"), n=n, axis=axis, norm=norm))


def irfft(x, n=None, axis=-1, norm=None, overwrite_x=False, *, plan=None):
    return _result(_fft.irfft(_device(x, "irfft"), n=n, axis=axis, norm=norm))


def fft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, *, plan=None):
    return _result(_fft.fft2(_device(x, "fft2"), s=s, axes=axes, norm=norm))


def ifft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, *, plan=None):
    return _result(_fft.ifft2(_device(x, "ifft2"), s=s, axes=axes, norm=norm))


def rfft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, *, plan=None):
    return _result(_fft.rfft2(_device(x, "rfft2"), s=s, axes=axes, norm=norm))


def irfft2(x, s=None, axes=(-2, -1), norm=None, overwrite_x=False, *, plan=None):
    return _result(_fft.irfft2(_device(x, "irfft2"), s=s, axes=axes, norm=norm))


def next_fast_len(target, real=False):
    return _fft.next_fast_len(target, real=real)
