"""A strict CuPy stand-in for tests: NumPy on the CPU behind CuPy's device-array rules.

Device arrays (:class:`ndarray`) hold a NumPy array but refuse every implicit
conversion CuPy refuses: ``numpy.asarray(x)``, operations mixing them with NumPy
arrays, assigning a NumPy array into them. Data crosses between host and device
only through the calls that do so in CuPy, and each crossing is counted
(:func:`standin_transfers`). Reductions and single-element indexing return 0-d
device arrays, as in CuPy, so that reading a value back (``int(x.sum())``) counts
as the transfer it is on a GPU.

This is a test double of CuPy's API for the CPU; it is not a GPU.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as _np
from numpy.lib.mixins import NDArrayOperatorsMixin

from . import cuda

__version__ = "14.2.0+standin"
#: Tells code and tests that this is the stand-in, not CuPy.
STANDIN = True

_IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed. "
    "Please use `.get()` to construct a NumPy array explicitly."
)

_lock = threading.Lock()
_counts = {"to_device": 0, "to_host": 0, "to_device_bytes": 0, "to_host_bytes": 0}


def standin_transfers() -> dict[str, int]:
    """Host-to-device and device-to-host copies (count and bytes) since the last reset."""
    with _lock:
        return dict(_counts)


def standin_reset_transfers() -> None:
    """Set the transfer counts to zero."""
    with _lock:
        for key in _counts:
            _counts[key] = 0
        standin_log.clear()


#: Where each transfer came from: ``(direction, bytes, "file:line function")`` of the
#: first caller outside the stand-in (the last 10 000).
standin_log: list[tuple[str, int, str]] = []


def _caller() -> str:
    frame = sys._getframe(2)
    while frame is not None and "gpu_standin" in frame.f_code.co_filename:
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}"


def _count(direction: str, nbytes: int) -> None:
    where = _caller()
    with _lock:
        _counts[direction] += 1
        _counts[f"{direction}_bytes"] += int(nbytes)
        standin_log.append((direction, int(nbytes), where))
        del standin_log[:-10000]


# ------------------------------------------------------------------------ operands
def _operand(value: Any) -> Any:
    """What a device operation may take: device arrays, scalars, 0-d NumPy values."""
    if isinstance(value, ndarray):
        return value._data
    if isinstance(value, _np.ndarray):
        if value.ndim == 0:
            return value
        raise TypeError(f"Unsupported type {type(value)}")
    if isinstance(value, list | tuple):
        return type(value)(_operand(item) for item in value)
    if isinstance(value, dict):
        return {key: _operand(item) for key, item in value.items()}
    return value


def _index(key: Any) -> Any:
    """An index: device arrays, or host integer arrays copied to the device (counted)."""
    if isinstance(key, ndarray):
        return key._data
    if isinstance(key, _np.ndarray) and key.ndim:
        _count("to_device", key.nbytes)
        return key
    if isinstance(key, tuple):
        return tuple(_index(item) for item in key)
    return key


def _wrap(result: Any) -> Any:
    """NumPy results as device arrays; NumPy scalars as 0-d device arrays (CuPy's way)."""
    if isinstance(result, _np.generic):
        return ndarray._from_data(_np.asarray(result))
    if isinstance(result, _np.ndarray):
        return ndarray._from_data(result)
    if isinstance(result, tuple):
        return tuple(_wrap(item) for item in result)
    if isinstance(result, list):
        return [_wrap(item) for item in result]
    return result


# --------------------------------------------------------------------- device array
class ndarray(NDArrayOperatorsMixin):  # noqa: N801 (CuPy's name)
    """A device array: NumPy data that refuses implicit conversion."""

    __slots__ = ("_data",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, shape: Any, dtype: Any = float, order: str = "C") -> None:
        self._data = _np.empty(shape, dtype=dtype, order=order)

    @classmethod
    def _from_data(cls, data: _np.ndarray) -> ndarray:
        array = cls.__new__(cls)
        array._data = data
        return array

    # conversions CuPy refuses ----------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> _np.ndarray:
        raise TypeError(_IMPLICIT)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.pop("out", None)
        kwargs = _operand(kwargs)
        if out is not None:
            for target in out:
                if not isinstance(target, ndarray):
                    raise TypeError(f"out must be a cupy.ndarray, got {type(target)}")
            kwargs["out"] = tuple(target._data for target in out)
        result = getattr(ufunc, method)(*_operand(inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        # a NumPy function given device arrays runs on the device (CuPy dispatches too)
        return _wrap(func(*_operand(args), **_operand(kwargs)))

    # explicit transfers ----------------------------------------------------------
    def get(self, stream: Any = None, order: str = "C", out: Any = None, blocking: bool = True):
        """Copy to the host (counted)."""
        _count("to_host", self._data.nbytes)
        if out is not None:
            out[...] = self._data
            return out
        return _np.array(self._data, order=order, copy=True)

    def set(self, arr: Any, stream: Any = None) -> None:
        """Copy the host array ``arr`` into this array (counted)."""
        if not isinstance(arr, _np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self._data.shape or arr.dtype != self._data.dtype:
            raise ValueError(
                f"Shape or dtype mismatch: {arr.shape} {arr.dtype} into "
                f"{self._data.shape} {self._data.dtype}"
            )
        _count("to_device", arr.nbytes)
        self._data[...] = arr

    def item(self) -> Any:
        _count("to_host", self._data.itemsize)
        return self._data.item()

    def tolist(self) -> Any:
        _count("to_host", self._data.nbytes)
        return self._data.tolist()

    def _scalar(self) -> Any:
        if self._data.size != 1:
            raise TypeError("only length-1 arrays can be converted to Python scalars")
        return self.item()

    def __int__(self) -> int:
        return int(self._scalar())

    def __float__(self) -> float:
        return float(self._scalar())

    def __complex__(self) -> complex:
        return complex(self._scalar())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                "The truth value of an array with more than one element is ambiguous. "
                "Use a.any() or a.all()"
            )
        return bool(self._scalar())

    def __index__(self) -> int:
        if self._data.ndim or self._data.dtype.kind not in "iu":
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self._scalar())

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self._scalar(), spec)
        _count("to_host", self._data.nbytes)
        return format(self._data, spec)

    def __repr__(self) -> str:
        _count("to_host", self._data.nbytes)
        return repr(self._data).replace("array(", "array(", 1)

    # array protocol --------------------------------------------------------------
    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {
            "shape": self._data.shape,
            "typestr": self._data.dtype.str,
            "data": (self._data.ctypes.data, False),
            "strides": self._data.strides if not self._data.flags.c_contiguous else None,
            "version": 3,
        }

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self):
        for row in self._data:
            yield _wrap(row)

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._data[_index(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, _np.ndarray) and value.ndim:
            raise TypeError(_IMPLICIT)
        self._data[_index(key)] = _operand(value)

    def __copy__(self) -> ndarray:
        return ndarray._from_data(self._data.copy())

    def __deepcopy__(self, memo: Any) -> ndarray:
        return self.__copy__()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("tobytes", "tofile", "dump", "dumps"):
            raise AttributeError(name)
        attribute = getattr(self._data, name)
        if callable(attribute):

            def method(*args: Any, **kwargs: Any) -> Any:
                return _wrap(attribute(*_operand(args), **_operand(kwargs)))

            return method
        return _wrap(attribute)


# ------------------------------------------------------------------------ transfers
def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> Any:
    """A device array: ``a`` itself when already one (cast on the device), else a copy
    of the host data. As in CuPy, a host array is converted to ``dtype`` on the host,
    then copied (the count holds the converted bytes)."""
    if isinstance(a, ndarray):
        if dtype is None or _np.dtype(dtype) == a.dtype:
            return a
        return ndarray._from_data(a._data.astype(dtype))
    data = _np.array(a, dtype=dtype, order=order or "K", copy=True)
    _count("to_device", data.nbytes)
    return ndarray._from_data(data)


def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", ndmin: int = 0):
    """A new device array (a device-side copy, or a counted copy of host data)."""
    if isinstance(obj, ndarray):
        data = _np.array(obj._data, dtype=dtype, copy=copy, order=order, ndmin=ndmin)
        return ndarray._from_data(data)
    data = _np.array(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin)
    _count("to_device", data.nbytes)
    return ndarray._from_data(data)


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, blocking: bool = True):
    """A host copy of a device array (counted); host data is returned as it is."""
    if isinstance(a, ndarray):
        return a.get(stream=stream, order=order, out=out)
    return _np.asarray(a, order=order)


def get_array_module(*args: Any) -> Any:
    if any(isinstance(arg, ndarray) for arg in args):
        return sys.modules[__name__]
    return _np


class _Ufunc:
    """A NumPy ufunc that takes device arrays only (and scalars)."""

    def __init__(self, ufunc: Any) -> None:
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = kwargs.pop("out", None)
        if out is not None and not isinstance(out, tuple):
            out = (out,)
        if out is not None:
            for target in out:
                if not isinstance(target, ndarray):
                    raise TypeError(f"out must be a cupy.ndarray, got {type(target)}")
            kwargs = {**_operand(kwargs), "out": tuple(target._data for target in out)}
            self._ufunc(*_operand(args), **kwargs)
            return out[0] if len(out) == 1 else out
        return _wrap(self._ufunc(*_operand(args), **_operand(kwargs)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ufunc, name)


def _device_function(function: Any) -> Any:
    def device_function(*args: Any, **kwargs: Any) -> Any:
        return _wrap(function(*_operand(args), **_operand(kwargs)))

    device_function.__name__ = getattr(function, "__name__", "function")
    device_function.__doc__ = getattr(function, "__doc__", None)
    return device_function


def __getattr__(name: str) -> Any:
    # NumPy's dtypes and constants as they are; its functions and ufuncs as device ones
    attribute = getattr(_np, name)
    if isinstance(attribute, _np.ufunc):
        return _Ufunc(attribute)
    if isinstance(attribute, type) or not callable(attribute):
        return attribute
    return _device_function(attribute)


class _MemoryPool:
    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        return None

    def set_limit(self, size: int | None = None, fraction: float | None = None) -> None:
        return None


_POOL = _MemoryPool()


def get_default_memory_pool() -> _MemoryPool:
    return _POOL


def get_default_pinned_memory_pool() -> _MemoryPool:
    return _POOL


__all__ = [
    "STANDIN",
    "array",
    "asarray",
    "asnumpy",
    "cuda",
    "get_array_module",
    "ndarray",
    "standin_reset_transfers",
    "standin_transfers",
]
