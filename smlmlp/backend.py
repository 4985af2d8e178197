"""Array and FFT modules for the CPU (NumPy + SciPy) or the GPU (CuPy).

The accumulation of power spectra is written once against an array module
``xp`` and an FFT module ``fft``; this module chooses them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import scipy.fft
from threadpoolctl import ThreadpoolController

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

    def irfft2(self, spectrum: Any, shape: tuple[int, int], workers: int | None = None) -> Any:
        """Inverse of :meth:`rfft2` for frames of ``shape`` (odd widths included;
        ``workers`` overrides the backend's)."""
        if self.cuda:
            return self.fft.irfft2(spectrum, s=shape, axes=(-2, -1))
        return self.fft.irfft2(spectrum, s=shape, axes=(-2, -1), workers=workers or self.workers)

    def asarray(self, array: Any, dtype: Any = None) -> Any:
        """Move ``array`` to this backend's device (no copy when already there)."""
        return self.xp.asarray(array, dtype=dtype)

    def uploader(self) -> ChunkUploader:
        """A :class:`ChunkUploader` that brings host chunks to this backend's device."""
        return ChunkUploader(self)

    def to_numpy(self, array: Any) -> np.ndarray:
        """Bring ``array`` back to host memory as a NumPy array."""
        if self.cuda:
            return self.xp.asnumpy(array)
        return np.asarray(array)


class ChunkUploader:
    """Host chunks of frames to the device, the copy of one overlapping the compute of
    the previous one.

    On the GPU each chunk is copied into one of two page-locked (pinned) host
    buffers, then to one of two device buffers on a copy stream of its own; the
    compute stream waits for that copy only. So while the GPU works on chunk
    ``k``, chunk ``k + 1`` crosses the bus (double buffering), and the raw frames
    cross in their own type (``uint16``: a quarter of float64): the cast runs on
    the device. A device buffer is reused two chunks later, once the work queued
    on it is done; a chunk returned by :meth:`upload` is therefore valid until the
    next call but one. Chunks already on the device pass through untouched.

    On the CPU, :meth:`upload` returns the chunk as it is.

    Parameters
    ----------
    backend : Backend

    Examples
    --------
    >>> uploader = ChunkUploader(get_backend())
    >>> chunk = np.ones((2, 4, 4), np.uint16)
    >>> uploader.upload(chunk) is chunk
    True
    """

    SLOTS = 2

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._pinned: list[Any] = [None] * self.SLOTS
        self._device: list[Any] = [None] * self.SLOTS
        self._copied: list[Any] = [None] * self.SLOTS  # copy out of each pinned buffer done
        self._queued: Any = None  # the compute queued before the previous upload
        self._next = 0
        self._stream: Any = None

    def upload(self, chunk: Any) -> Any:
        """``chunk`` on the backend's device, in its own data type."""
        if not self.backend.cuda or is_device_array(chunk):
            return chunk
        cupy = self.backend.xp
        chunk = np.ascontiguousarray(chunk)
        if self._stream is None:
            self._stream = cupy.cuda.Stream(non_blocking=True)
        compute = cupy.cuda.get_current_stream()
        queued = cupy.cuda.Event()
        queued.record(compute)  # everything asked of the GPU so far
        slot = self._next
        self._next = (slot + 1) % self.SLOTS
        if self._copied[slot] is not None:
            self._copied[slot].synchronize()  # the pinned buffer's last copy is done
        pinned = self._view(self._pinned, slot, chunk, pinned=True)
        pinned[...] = chunk
        device = self._view(self._device, slot, chunk, pinned=False)
        if self._queued is not None:
            # the device buffer's last chunk (two ago) was queued before this event
            self._stream.wait_event(self._queued)
        device.set(pinned, stream=self._stream)
        copied = cupy.cuda.Event()
        copied.record(self._stream)
        compute.wait_event(copied)
        self._copied[slot] = copied
        self._queued = queued
        return device

    def _view(self, buffers: list[Any], slot: int, chunk: np.ndarray, pinned: bool) -> Any:
        """A ``chunk``-shaped view of buffer ``slot``, grown when too small."""
        nbytes = int(chunk.nbytes)
        buffer = buffers[slot]
        if buffer is None or buffer.size < nbytes:
            if pinned:
                import cupyx

                buffer = cupyx.empty_pinned((nbytes,), dtype=np.uint8)
            else:
                buffer = self.backend.xp.empty((nbytes,), dtype=np.uint8)
            buffers[slot] = buffer
        return buffer[:nbytes].view(chunk.dtype).reshape(chunk.shape)


def is_device_array(array: Any) -> bool:
    """Whether ``array`` lives in GPU memory (a CuPy array or any CUDA array).

    Examples
    --------
    >>> is_device_array(np.zeros(3))
    False
    """
    return hasattr(array, "__cuda_array_interface__")


def array_module(array: Any) -> ModuleType:
    """The array module of ``array``: CuPy for a device array, else NumPy.

    Examples
    --------
    >>> array_module(np.zeros(3)).__name__
    'numpy'
    """
    if is_device_array(array):
        import cupy

        return cupy
    return np


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


#: The BLAS libraries loaded with NumPy (whose products the passes make), found once:
#: looking for them takes milliseconds, setting their threads microseconds.
_BLAS_LIBRARIES = ThreadpoolController().select(user_api="blas")


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """BLAS (OpenBLAS, MKL) on one thread inside, as before outside.

    A pass over the frames runs its own workers on every core it is given, and the
    stages' matrix products are small. A multi-threaded BLAS starts its threads for
    them, and OpenBLAS's threads then wait spinning on the cores: with a 4 x 4 map
    over the field (whose estimate makes the most products), two channels took 1.6
    times as long without the limit, in calls after the first of a process
    (``python benchmarks/bench_blas_threads.py``). The count is the process's, and
    OpenBLAS takes it back up only from the main thread: the limit is set and lifted
    there, and is left as it is in other threads (a pass there runs under the main
    thread's count).

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> with single_threaded_blas():
    ...     all(pool["num_threads"] == 1 for pool in threadpool_info()
    ...         if pool["user_api"] == "blas")
    True
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _BLAS_LIBRARIES.limit(limits=1):
        yield


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
