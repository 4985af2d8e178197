"""Streaming accumulation of frame power spectra.

Everything the spatial autocorrelation needs from a movie is a few sums over
frames: the frame count, the sum of the frame spectra and the sum of the frame
power spectra. Sums split and merge exactly, so the same accumulator serves a
chunk in memory, a GPU batch and a cluster job holding a range of frames.

The mean autocorrelation of the temporal fluctuations ``f_t - mean_t(f)`` is the
inverse FFT of their mean power spectrum::

    sum_t |F(f_t - m)|^2 = sum_t |F(f_t)|^2 - |F(sum_t f_t)|^2 / n

To avoid cancellation, frames are shifted by a fixed reference image (by default
the mean of the first chunk) before the FFT; the identity holds for any shift.
The per-frame FFTs run in float32 and the frames of a chunk (of 32 frames when
large frames are shared by rows, below) are reduced in float32; the sums over
those are kept in float64.

On the CPU every pass runs on all workers. Frames up to about 512x512 pixels are
shared out: each worker carries its frames of the chunk, a cache-sized block at a
time, through the copy, the shift, the frame sum, the FFT and the squares, so a
block is read from memory once. Larger frames, of which a chunk holds few, are
shared by rows instead, the FFT itself running on all workers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .backend import Backend, get_backend
from .computer import chunk_frames as default_chunk_frames

FORMAT_VERSION = 1
# bytes of float32 frames taken through copy, FFT and sums at once (a core's L2 cache)
CACHE_BLOCK_BYTES = 2**20
# frames of partial float32 sums between two folds into the float64 sums, when the
# workers share each (large) frame
ROWS_FOLD_FRAMES = 32
ProgressCallback = Callable[[int, int], None]


def crop_size(crop_pix: int) -> int:
    """Effective (odd) side of the square crop centred on zero lag.

    Examples
    --------
    >>> crop_size(41), crop_size(40)
    (41, 41)
    """
    return 2 * (int(crop_pix) // 2) + 1


class SpectrumAccumulator:
    """Sums over frames from which the fluctuation autocorrelation follows.

    Parameters
    ----------
    frame_shape : tuple of int
        ``(height, width)`` of the frames.
    cuda : bool, optional
        Keep the sums and do the FFTs on the GPU (CuPy).
    parallel : bool, optional
        On the CPU, run the FFTs on every available core.
    reference : ndarray, optional
        Image subtracted from every frame before its FFT, to limit cancellation.
        The result does not depend on it (up to rounding). By default the mean of
        the first chunk added. Accumulators fed the same reference give sums that
        merge without any conversion.
    name : str, optional
        Channel name used in error messages.
    workers : int, optional
        Number of CPU FFT workers; wins over ``parallel``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> movie = rng.poisson(100, size=(40, 32, 32)).astype(np.uint16)
    >>> whole = SpectrumAccumulator((32, 32))
    >>> whole.add(movie)
    >>> parts = SpectrumAccumulator((32, 32))
    >>> parts.add(movie[:15])
    >>> other = SpectrumAccumulator((32, 32))
    >>> other.add(movie[15:])
    >>> _ = parts.merge(other)
    >>> merged, direct = parts.autocorrelation(9), whole.autocorrelation(9)
    >>> bool(np.abs(merged - direct).max() < 1e-6 * direct.max())
    True
    """

    def __init__(
        self,
        frame_shape: tuple[int, int],
        *,
        cuda: bool = False,
        parallel: bool = False,
        reference: Any = None,
        name: str = "channel 0",
        workers: int | None = None,
    ) -> None:
        height, width = (int(size) for size in frame_shape)
        if height < 1 or width < 1:
            raise ValueError(f"{name}: frame shape must be positive, got {frame_shape!r}")
        self.frame_shape = (height, width)
        self.name = name
        self.backend: Backend = get_backend(cuda=cuda, parallel=parallel, workers=workers)
        self.n_frames = 0
        xp = self.backend.xp
        self._sum_frames = xp.zeros((height, width), dtype=np.float64)
        self._sum_power = xp.zeros((height, width // 2 + 1), dtype=np.float64)
        self._reference = None
        self._buffers: list[Any] = []
        self._row_sums: tuple[np.ndarray, ...] | None = None
        self._rows_pending = 0
        self._pool: ThreadPoolExecutor | None = None
        if reference is not None:
            self._reference = self._check_reference(reference)

    # ------------------------------------------------------------------ input
    def _check_reference(self, reference: Any) -> Any:
        reference = self.backend.asarray(reference, dtype=np.float32)
        if tuple(reference.shape) != self.frame_shape:
            raise ValueError(
                f"{self.name}: reference image has shape {tuple(reference.shape)}, "
                f"frames have {self.frame_shape}"
            )
        return reference

    def _check_finite(self, chunk: Any) -> None:
        xp = self.backend.xp
        bad = ~xp.isfinite(chunk)
        n_bad = int(bad.sum())
        if n_bad:
            frame, row, column = (int(i) for i in xp.argwhere(bad)[0])
            raise ValueError(
                f"{self.name}: {n_bad} NaN or infinite pixel(s) in frames "
                f"{self.n_frames}..{self.n_frames + chunk.shape[0] - 1}; first at frame "
                f"{self.n_frames + frame}, row {row}, column {column}"
            )

    def add(self, frames: Any) -> None:
        """Add a chunk of frames of shape ``(n, height, width)``."""
        xp = self.backend.xp
        chunk = self.backend.asarray(frames)
        if chunk.ndim == 2:
            chunk = chunk[None]
        if chunk.ndim != 3 or tuple(chunk.shape[1:]) != self.frame_shape:
            raise ValueError(
                f"{self.name}: expected frames of shape (n, {self.frame_shape[0]}, "
                f"{self.frame_shape[1]}), got {tuple(chunk.shape)}"
            )
        if chunk.shape[0] == 0:
            return
        if chunk.dtype.kind in "fc":
            self._check_finite(chunk)
        if chunk.dtype.kind not in "uif":
            raise TypeError(f"{self.name}: frames must be real numbers, got dtype {chunk.dtype}")
        n_chunk = int(chunk.shape[0])
        if self._reference is None:
            self._reference = xp.mean(chunk, axis=0, dtype=np.float64).astype(np.float32)
        workers = 1 if self.backend.cuda else int(self.backend.workers or 1)
        if workers > 1 and self._split_by_rows(n_chunk, workers):
            self._add_by_rows(chunk, workers)
            results = []
        elif workers > 1 and n_chunk > 1:
            # every pass over the chunk (not only the FFT) runs on all workers: each
            # thread takes a slice of frames, with a single-threaded FFT
            threads = min(workers, n_chunk)
            edges = np.linspace(0, n_chunk, threads + 1).astype(int)
            futures = [
                self._worker_pool().submit(self._transform, chunk[a:b], slot, 1)
                for slot, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True))
            ]
            results = [future.result() for future in futures]
        else:
            results = [self._transform(chunk, 0, self.backend.workers)]
        for frame_sum, squares in results:
            self._sum_frames += frame_sum
            self._sum_power += squares[:, 0::2]
            self._sum_power += squares[:, 1::2]
        self.n_frames += n_chunk

    def _split_by_rows(self, n_chunk: int, workers: int) -> bool:
        """Whether the workers share each frame (by rows) rather than the chunk's frames.

        For frames beyond a core's cache, when the chunk holds few frames per
        worker (a large camera chip and a small memory budget): whole frames per
        thread would leave workers idle or unevenly loaded.
        """
        height, width = self.frame_shape
        return 4 * height * width > CACHE_BLOCK_BYTES and n_chunk < 4 * workers

    def _worker_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.backend.workers)
        return self._pool

    def _block_buffer(self, slot: int, n_frames: int) -> Any:
        """The float32 buffer of ``slot`` for at least ``n_frames`` frames, kept for reuse.

        Reused chunk after chunk: fresh allocations would cost page faults.
        """
        while len(self._buffers) <= slot:
            self._buffers.append(None)
        buffer = self._buffers[slot]
        if buffer is None or buffer.shape[0] < n_frames:
            buffer = self.backend.xp.empty((n_frames, *self.frame_shape), dtype=np.float32)
            self._buffers[slot] = buffer
        return buffer

    def _block_frames(self, n_frames: int) -> int:
        """Frames transformed together: about 1 MiB of float32 on the CPU.

        Copy, shift, sum, FFT and squares of a block that fits in a core's cache
        read the frames from memory once; on the GPU the whole chunk is one block.
        """
        if self.backend.cuda:
            return n_frames
        height, width = self.frame_shape
        return max(1, min(n_frames, CACHE_BLOCK_BYTES // (4 * height * width)))

    def _transform(self, frames: Any, slot: int, workers: int | None) -> tuple[Any, Any]:
        """Frame sum and interleaved (re^2, im^2) power sum of a slice of a chunk.

        The slice is taken block by block through the float32 buffer of ``slot``;
        a small block stays in cache through all its passes.
        """
        xp = self.backend.xp
        height, width = self.frame_shape
        n_frames = int(frames.shape[0])
        block = self._block_frames(n_frames)
        buffer = self._block_buffer(slot, block)
        frame_sum = xp.zeros((height, width), dtype=np.float32)
        power = xp.zeros((height, 2 * (width // 2 + 1)), dtype=np.float32)
        for first in range(0, n_frames, block):
            shifted = buffer[: min(block, n_frames - first)]
            xp.copyto(shifted, frames[first : first + shifted.shape[0]], casting="unsafe")
            xp.subtract(shifted, self._reference, out=shifted)
            # a plain reduction, not a BLAS product: BLAS threads left spinning after
            # a call would compete with the FFT workers that follow
            frame_sum += shifted.sum(axis=0)
            # |F|^2 summed over the block in one pass over the interleaved (re, im) floats
            parts = self.backend.rfft2(shifted, workers=workers).view(np.float32)
            power += xp.einsum("tij,tij->ij", parts, parts)
        return frame_sum, power

    def _add_by_rows(self, frames: Any, workers: int) -> None:
        """Add a chunk frame by frame, the workers sharing each frame.

        Each worker shifts a band of rows and adds it to a float32 partial frame
        sum; the FFT runs on all workers; each worker then adds the power of a band
        of spectrum rows to a float32 partial power sum. The partial sums go into
        the float64 ones every :data:`ROWS_FOLD_FRAMES` frames (chunks of large
        frames are short: folding each chunk would cost a pass per frame) and
        before any use of the sums.
        """
        height, width = self.frame_shape
        shifted = self._block_buffer(0, 1)[0]
        if self._row_sums is None:
            self._row_sums = tuple(
                np.empty((height, columns), dtype=np.float32)
                for columns in (width, 2 * (width // 2 + 1), 2 * (width // 2 + 1))
            )
        frame_sum, power, squares = self._row_sums
        bands = self._row_bands(workers)
        pool = self._worker_pool()

        def shift_rows(frame: Any, rows: slice, first: bool) -> None:
            np.copyto(shifted[rows], frame[rows], casting="unsafe")
            np.subtract(shifted[rows], self._reference[rows], out=shifted[rows])
            if first:
                frame_sum[rows] = shifted[rows]
            else:
                frame_sum[rows] += shifted[rows]

        def add_power(spectrum: np.ndarray, rows: slice, first: bool) -> None:
            # interleaved (re^2, im^2), paired up when folded
            parts = spectrum[rows].view(np.float32)
            if first:
                np.multiply(parts, parts, out=power[rows])
            else:
                np.multiply(parts, parts, out=squares[rows])
                power[rows] += squares[rows]

        for frame in frames:
            first = [self._rows_pending == 0] * len(bands)
            list(pool.map(shift_rows, [frame] * len(bands), bands, first))
            spectrum = self.backend.rfft2(shifted, workers=workers)
            list(pool.map(add_power, [spectrum] * len(bands), bands, first))
            self._rows_pending += 1
            if self._rows_pending >= ROWS_FOLD_FRAMES:
                self._fold_rows()

    def _row_bands(self, workers: int) -> list[slice]:
        edges = np.linspace(0, self.frame_shape[0], workers + 1).astype(int)
        return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def _fold_rows(self) -> None:
        """Move the partial sums of :meth:`_add_by_rows` into the float64 sums."""
        if not self._rows_pending:
            return
        frame_sum, power, _ = self._row_sums

        def fold(rows: slice) -> None:
            self._sum_frames[rows] += frame_sum[rows]
            self._sum_power[rows] += power[rows, 0::2]
            self._sum_power[rows] += power[rows, 1::2]

        list(self._worker_pool().map(fold, self._row_bands(self.backend.workers)))
        self._rows_pending = 0

    def release_buffer(self) -> None:
        """Free the block buffers and worker threads kept between :meth:`add` calls.

        The sums stay; a later :meth:`add` sets them up again.
        """
        self._fold_rows()
        self._buffers = []
        self._row_sums = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    # ------------------------------------------------------------------ merge
    def merge(self, other: SpectrumAccumulator) -> SpectrumAccumulator:
        """Add the frames summed in ``other`` (exact; in place, returns ``self``)."""
        if other.frame_shape != self.frame_shape:
            raise ValueError(
                f"cannot merge accumulators of frame shapes {self.frame_shape} "
                f"and {other.frame_shape}"
            )
        if other.n_frames == 0:
            return self
        self._fold_rows()
        other._fold_rows()
        xp = self.backend.xp
        other_frames = self.backend.asarray(other.backend.to_numpy(other._sum_frames))
        other_power = self.backend.asarray(other.backend.to_numpy(other._sum_power))
        other_reference = self.backend.asarray(other.backend.to_numpy(other._reference))
        if self._reference is None:
            self._reference = other_reference.copy()
        elif not bool(xp.array_equal(other_reference, self._reference)):
            # f - r_self = (f - r_other) + d with d = r_other - r_self, so
            # |F(f - r_self)|^2 = |F(f - r_other)|^2 + 2 Re(conj(D) F(f - r_other)) + |D|^2
            difference = other_reference.astype(np.float64) - self._reference.astype(np.float64)
            shift = self.backend.rfft2(difference)
            other_spectrum = self.backend.rfft2(other_frames)
            other_power = (
                other_power
                + 2.0 * (xp.conj(shift) * other_spectrum).real
                + other.n_frames * (shift.real**2 + shift.imag**2)
            )
            other_frames = other_frames + other.n_frames * difference
        self._sum_frames += other_frames
        self._sum_power += other_power
        self.n_frames += other.n_frames
        return self

    # ----------------------------------------------------------------- output
    def fluctuation_power(self) -> Any:
        """Summed power spectrum of the temporal fluctuations (half spectrum)."""
        if self.n_frames < 2:
            raise ValueError(
                f"{self.name}: at least 2 frames are needed, got {self.n_frames}"
            )
        self._fold_rows()
        xp = self.backend.xp
        spectrum = self.backend.rfft2(self._sum_frames)
        power = self._sum_power - (spectrum.real**2 + spectrum.imag**2) / self.n_frames
        return xp.maximum(power, 0.0)

    def autocorrelation(self, crop_pix: int) -> np.ndarray:
        """Mean spatial autocorrelation of the temporal fluctuations, cropped.

        Parameters
        ----------
        crop_pix : int
            Crop size; the crop has ``2 * (crop_pix // 2) + 1`` pixels per side,
            zero lag at its centre.

        Returns
        -------
        ndarray of float64
            Autocovariance per pixel (ADU^2) at lags ``-r..r`` in y (rows) and x
            (columns), ``r = crop_pix // 2``, averaged over frames (n - 1 degrees
            of freedom).

        Notes
        -----
        The FFT gives the circular autocorrelation, in which a lag ``l`` pairs only
        ``(H - |ly|) (W - |lx|)`` pixels with a neighbour inside the frame; the
        pairs across the frame edge are uncorrelated. Dividing by the overlap
        fraction ``(1 - |ly| / H) (1 - |lx| / W)`` makes it the unbiased
        autocovariance of a field that extends beyond the frame, as a sample does
        beyond the camera's field of view.
        """
        size = crop_size(crop_pix)
        height, width = self.frame_shape
        if size > height or size > width:
            raise ValueError(
                f"{self.name}: frames of {height}x{width} pixels are smaller than the "
                f"{size}x{size} crop; lower crop_pix"
            )
        xp = self.backend.xp
        ac = self.backend.irfft2(self.fluctuation_power(), self.frame_shape)
        half = size // 2
        rows = xp.arange(-half, half + 1) % height
        columns = xp.arange(-half, half + 1) % width
        crop = ac[rows[:, None], columns[None, :]]
        crop = self.backend.to_numpy(crop).astype(np.float64)
        lags = np.arange(-half, half + 1)
        overlap = np.outer(1.0 - np.abs(lags) / height, 1.0 - np.abs(lags) / width)
        return crop / (height * width * (self.n_frames - 1) * overlap)

    # -------------------------------------------------------------- save/load
    def state(self) -> dict[str, np.ndarray]:
        """The sums as host arrays (what :meth:`save` writes)."""
        self._fold_rows()
        to_numpy = self.backend.to_numpy
        reference = self._reference
        return {
            "format_version": np.array(FORMAT_VERSION),
            "frame_shape": np.array(self.frame_shape),
            "n_frames": np.array(self.n_frames),
            "sum_frames": to_numpy(self._sum_frames),
            "sum_power": to_numpy(self._sum_power),
            "reference": (
                np.zeros(self.frame_shape, np.float32) if reference is None else to_numpy(reference)
            ),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the sums to an ``.npz`` file, whole or not at all."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, **self.state())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, cuda: bool = False, parallel: bool = False
    ) -> SpectrumAccumulator:
        """Read sums written by :meth:`save`."""
        try:
            with np.load(path) as data:
                version = int(data["format_version"])
                if version != FORMAT_VERSION:
                    raise ValueError(f"{path}: unsupported accumulator format {version}")
                accumulator = cls(
                    tuple(int(v) for v in data["frame_shape"]),
                    cuda=cuda,
                    parallel=parallel,
                    name=Path(path).stem,
                )
                accumulator.n_frames = int(data["n_frames"])
                backend = accumulator.backend
                accumulator._sum_frames = backend.asarray(data["sum_frames"])
                accumulator._sum_power = backend.asarray(data["sum_power"])
                if accumulator.n_frames:
                    accumulator._reference = backend.asarray(data["reference"])
        except (KeyError, OSError, ValueError) as error:
            raise ValueError(f"{path}: not a readable spectrum accumulator ({error})") from error
        return accumulator


def accumulate_spectrum(
    stack: Any,
    *,
    start: int = 0,
    stop: int | None = None,
    chunk_frames: int | None = None,
    cuda: bool = False,
    parallel: bool = False,
    reference: Any = None,
    progress: ProgressCallback | None = None,
    name: str = "channel 0",
    workers: int | None = None,
) -> SpectrumAccumulator:
    """Stream frames ``start..stop`` of a stack into a :class:`SpectrumAccumulator`.

    The next chunk is read in a background thread while the current one is
    transformed, so file reading and FFTs overlap. Memory does not grow with the
    number of frames: at most two chunks are held at once.

    Parameters
    ----------
    stack : array-like
        ``(n_frames, height, width)`` stack supporting frame slicing: ndarray,
        memmap or :class:`smlmlp.loading.TiffMovie`.
    start, stop : int, optional
        Frame range (``stop=None``: to the end).
    chunk_frames : int, optional
        Frames per chunk; by default from :func:`smlmlp.computer.chunk_frames`.
    cuda, parallel : bool, optional
        Backend choice, see :func:`smlmlp.backend.get_backend`.
    reference : ndarray, optional
        Reference image, see :class:`SpectrumAccumulator`.
    progress : callable, optional
        Called as ``progress(frames_done, frames_total)`` after each chunk.
    name : str, optional
        Channel name used in error messages.
    workers : int, optional
        Number of CPU FFT workers (e.g. a cluster job's threads); wins over
        ``parallel``.

    Returns
    -------
    SpectrumAccumulator

    Examples
    --------
    >>> movie = np.random.default_rng(1).poisson(50, size=(30, 16, 16))
    >>> accumulate_spectrum(movie, chunk_frames=7).n_frames
    30
    """
    n_total = int(stack.shape[0])
    stop = n_total if stop is None else int(stop)
    if not 0 <= int(start) <= stop <= n_total:
        raise ValueError(f"{name}: invalid frame range {start}..{stop} of {n_total} frames")
    frame_shape = (int(stack.shape[1]), int(stack.shape[2]))
    if chunk_frames is None:
        chunk_frames = default_chunk_frames(frame_shape, cuda=cuda)
    if int(chunk_frames) < 1:
        raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
    chunk_frames = int(chunk_frames)
    accumulator = SpectrumAccumulator(
        frame_shape, cuda=cuda, parallel=parallel, reference=reference, name=name, workers=workers
    )
    bounds = [(a, min(a + chunk_frames, stop)) for a in range(int(start), stop, chunk_frames)]
    if not bounds:
        return accumulator

    def read(bound: tuple[int, int]) -> np.ndarray:
        return np.asarray(stack[bound[0] : bound[1]])

    try:
        with ThreadPoolExecutor(max_workers=1) as reader:
            pending = reader.submit(read, bounds[0])
            for index in range(len(bounds)):
                chunk = pending.result()
                if index + 1 < len(bounds):
                    pending = reader.submit(read, bounds[index + 1])
                accumulator.add(chunk)
                del chunk
                if progress is not None:
                    progress(accumulator.n_frames, stop - int(start))
    finally:
        accumulator.release_buffer()
    return accumulator
