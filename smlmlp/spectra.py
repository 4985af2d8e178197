"""The pass over a movie's frames that makes its block sums (stage 1).

:func:`accumulate_spectrum` streams the frames of a stack (or a range of them)
into a :class:`~smlmlp.block_sums.BlockSums`, :func:`accumulate_regions` those of
several rectangles of the frames at once, and :class:`SpectrumAccumulator` is the
pass itself, fed chunk by chunk. What the sums are (each block's fluctuation power
``P_b`` about its straight-line trend, summed over groups of blocks), and how they
merge (:func:`merge_sums`, here too), is told in :mod:`smlmlp.block_sums`.

Fiducial markers (beads that never blink, :mod:`smlmlp.fiducials`), found in
frames sampled over the whole stack before the pass, are left out: their pixels
are set to zero in every shifted frame (no fluctuation there), and the pixel pairs
their holes take from each lag are taken off the coverage (:mod:`smlmlp.holes`).

To limit cancellation, every frame of a block is shifted by the block's first
frame before its FFT (the block fluctuations do not depend on the shift, and the
first frame is at hand in every pass, range job and entry point alike). The
per-frame FFTs, the sums within a block and its fluctuation power ``P_b`` are
float32 (the shift leaves the two terms of ``P_b`` of the same size); the sums
over blocks and groups are float64. The trend's terms come from the block's sums
of the spectra and of the spectra weighted by time, taken in the pass that sums
the power (the Fourier transform is linear): no transform per block.

On the CPU every pass runs on all workers. Frames up to 512x512 pixels are
shared out by whole blocks: each worker takes a block's frames in sub-batches
(4 MiB of float32 at most) through the shift, the FFT and every sum over their
frames, then works out the block's fluctuation power and blinking map; the
crops of each finished group are made on a worker too. The blocks join their
groups in frame order, and the arithmetic is that of one worker, so the bits do
not depend on the number of workers.
Larger frames are shared by rows instead, the FFT itself running on all workers,
in sub-batches of 16 MiB at most.
Tiles of the field (regions) go side by side through the same passes: one FFT
call and one sum per pass for all of them.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from .backend import Backend, get_backend, single_threaded_blas
from .block_sums import (
    BLOCK_FRAMES,
    MIN_BLOCK_FRAMES,
    TREND_TERMS,
    BlockSums,
    merge_sums,
    plan_blocks,
    stored_crop,
)
from .clipping import CLIPPING_ARRAYS, ClipCounter, ClipTally
from .computer import chunk_frames as memory_chunk_frames
from .coverage import add_to_edges, coverage_from_edges, edge_shape
from .dropped import dropped_frames
from .fiducials import Fiducials, movie_fiducials
from .holes import MapHoles
from .level import LEVEL_ROUNDING, level_bins, level_transforms, level_window

__all__ = [
    "BlockSums",
    "ProgressCallback",
    "SpectrumAccumulator",
    "accumulate_regions",
    "accumulate_spectrum",
    "check_regions",
    "default_chunk_frames",
    "merge_sums",
    "reference_dtype",
    "shift_by_reference",
]

#: The blinking map (:func:`coverage_crop`) is summed over one block in this many
#: (blocks 0, 4, 8, ... of the movie): it enters only as sums over large parts of
#: the frame, which a quarter of the frames gives as well, at a quarter of the cost.
BLINKING_MAP_EVERY = 4
#: Clipped values, at the movie's ceiling (saturated pixels, :meth:`BlockSums.saturation`)
#: or its floor (:meth:`BlockSums.floor_clipping`), are looked for in one block in this
#: many (blocks 0, 16, 32, ...): clipping recurs through a movie, and the search reads
#: the raw frames once more.
CLIPPING_EVERY = 16
#: Closed groups kept on the GPU before their crops come back to the host in one
#: copy (the GPU is not made to wait for the host every group of frames).
PENDING_GROUPS = 32
#: Groups per slab of the accumulator's store of crops when the caller does not say
#: how many frames will come (another slab when they are more).
STORE_SLAB_GROUPS = 32
#: Working memory of a chunk when the caller does not size chunks from the free memory.
DEFAULT_CHUNK_BYTES = 64 * 2**20
# bytes of a float32 frame that the CPU workers take by whole blocks (a core's L2 cache)
CACHE_BLOCK_BYTES = 2**20
# bytes of float32 frames a worker takes through shift, FFT and sums at once: each pass
# over its block's sums then serves several spectra (10 frames of 256², 4 of 512²)
WORKER_BATCH_BYTES = 4 * 2**20
# the same for larger frames, shared by rows (4 frames of 1024², 1 of 2048²; a batch's
# spectra stay under the allocator's 32 MiB, beyond which each is mapped afresh)
SHARED_BATCH_BYTES = 16 * 2**20
#: Bytes of float32 frames shifted at once on the CPU (a band of rows of every frame
#: of a batch: it stays in a core's cache between the cast and the subtraction).
SHIFT_BAND_BYTES = 2**19
#: The same for the tiles of a grid, copied out of the frames' strided view: a row of
#: tiles at a time where it fits (bands of SHIFT_BAND_BYTES cut 64-row tiles in two,
#: and cost more than one buffered subtraction; ``benchmarks/bench_shift.py``).
GRID_SHIFT_BAND_BYTES = 2**21
#: Elements per band of the block's folds on the CPU (in place, but for one float32
#: temporary of a band): large bands, few calls, a band of every tile at once.
FOLD_BAND_ELEMENTS = 2**18
#: Elements per band of the block's blinking map on the CPU (its float64 temporaries).
MAP_BAND_ELEMENTS = 2**15
#: Pixels of the regions whose groups' crops and coverage one task works out when
#: frames are shared by rows: each thread's temporaries, and the memory its allocator
#: keeps for them, stay small (two 512² regions per task raised the peak of a 4 x 4
#: map over 2048² frames from 279 to 302 MB), while small tiles go many to a task.
GROUP_TASK_PIXELS = 2**16
#: Closed blocks per CPU worker whose terms may still be on the workers (each holds
#: its sums and the chunk its frames came in).
BLOCKS_AHEAD = 1
#: Group arrays this large or larger: before a group closes, the one closed before it
#: is waited for (its worker crops it, then gives its arrays back for the next group),
#: so that no new arrays are made and at most two groups' arrays are held, the one
#: being cropped and the open one (the 16 tiles of 2048² frames: 17 MB each).
#: Smaller ones are not waited for.
GROUP_WAIT_BYTES = 8 * 2**20
ProgressCallback = Callable[[int, int], None]


def _summed_products(first: Any, second: Any, out: Any) -> Any:
    """``out = sum over t of first[t] * second[t]`` (CPU), in frame order for every
    element; a lone frame takes a plain product (einsum is slow over one term)."""
    if first.shape[0] == 1:
        return np.multiply(first[0], second[0], out=out)
    return np.einsum("t...,t...->...", first, second, out=out)


def reference_dtype(frames_dtype: Any) -> np.dtype:
    """The type a block's reference frame is kept in: integers of at most 16 bits as
    they are (every one of them is a float32 exactly: the frames less it are the
    same float32 numbers, in half the memory or less), anything else as float32.

    Examples
    --------
    >>> reference_dtype(np.uint16), reference_dtype(np.int32), reference_dtype(np.float64)
    (dtype('uint16'), dtype('float32'), dtype('float32'))
    """
    dtype = np.dtype(frames_dtype)
    if dtype.kind in "ui" and dtype.itemsize <= 2:
        return dtype
    return np.dtype(np.float32)


def shift_by_reference(frames: Any, reference: Any, out: Any, rows: slice, xp: Any = np) -> None:
    """``out[..., rows, :] = frames - reference`` in float32.

    ``frames`` ``(n, ..., height, width)``, ``reference`` ``(..., height, width)``
    in the type :func:`reference_dtype` gives. Integers of at most 16 bits are
    cast to float32 (exactly) before they are subtracted; other frames are
    subtracted in the type of ``frames`` and ``reference`` together, then rounded.
    On the CPU, frames ``(n, regions, height, width)`` of 16-bit integers or
    float32 are copied in by a plain cast, in bands of rows, and the reference's
    band cast once for all the frames: the same bits as a float32 ``subtract``,
    which casts as it goes (buffered) and takes 1.3 to 1.7 times as long. The
    strided view of a grid's tiles, ``(n, rows, columns, height, width)``, is
    shifted one row of tiles at a time in the same way (``benchmarks/bench_shift.py``:
    0.7 of the one buffered ``subtract`` on 10 frames of 256² in 4 x 4 tiles).

    Examples
    --------
    >>> frames = np.array([[[1, 2], [65535, 0]]], np.uint16)
    >>> out = np.empty(frames.shape, np.float32)
    >>> shift_by_reference(frames, frames[0, ::-1], out, slice(None))
    >>> out[0].tolist()
    [[-65534.0, 2.0], [65534.0, -2.0]]
    """
    dtype = np.dtype(frames.dtype)
    exact = dtype == np.float32 or reference_dtype(dtype) == dtype  # references as read
    if xp is not np or not exact or frames.ndim > 5:
        xp.subtract(
            frames[..., rows, :],
            reference[..., rows, :],
            out=out[..., rows, :],
            dtype=np.float32 if np.dtype(reference.dtype).kind in "ui" else None,
            casting="unsafe",
        )
        return
    if frames.ndim < 5:
        _shift_in_bands(frames, reference, out, rows, SHIFT_BAND_BYTES)
        return
    for tile_row in range(frames.shape[1]):  # a grid's tiles: a row of them at a time
        part = (slice(None), tile_row)
        _shift_in_bands(frames[part], reference[tile_row], out[part], rows, GRID_SHIFT_BAND_BYTES)


def _shift_in_bands(frames: Any, reference: Any, out: Any, rows: slice, band_bytes: int) -> None:
    """:func:`shift_by_reference` on the CPU in bands of about ``band_bytes`` of
    float32 (frames ``(n, ..., height, width)`` of 16-bit integers or float32)."""
    top, stop, _ = rows.indices(frames.shape[-2])
    row_bytes = 4 * math.prod(frames.shape[:-2]) * frames.shape[-1]
    step = max(1, band_bytes // max(1, row_bytes))
    for start in range(top, stop, step):
        band = slice(start, min(start + step, stop))
        target = out[..., band, :]
        np.copyto(target, frames[..., band, :], casting="unsafe")
        np.subtract(target, reference[..., band, :].astype(np.float32), out=target)


def default_chunk_frames(frame_shape: tuple[int, int], budget_bytes: int | None = None) -> int:
    """Frames per chunk for a working-memory budget (default :data:`DEFAULT_CHUNK_BYTES`).

    Examples
    --------
    >>> default_chunk_frames((256, 256), budget_bytes=64 * 2**20)
    56
    """
    budget = DEFAULT_CHUNK_BYTES if budget_bytes is None else int(budget_bytes)
    return memory_chunk_frames(frame_shape, budget_bytes=budget)  # given budget: no probe


def check_regions(
    regions: Sequence[tuple[slice, slice]], frame_shape: tuple[int, int], name: str = "channel 0"
) -> list[tuple[slice, slice]]:
    """Checked ``(rows, columns)`` rectangles of frames of ``frame_shape``: at least one,
    inside the frame, all of one shape (they are summed side by side).

    Examples
    --------
    >>> check_regions([(slice(0, 8), slice(0, 8)), (slice(8, 16), slice(0, 8))], (16, 8))
    [(slice(0, 8, 1), slice(0, 8, 1)), (slice(8, 16, 1), slice(0, 8, 1))]
    >>> check_regions([(slice(0, 8), slice(0, 8)), (slice(8, 12), slice(0, 8))], (16, 8))
    Traceback (most recent call last):
        ...
    ValueError: channel 0: regions must all have one shape, got [(8, 8), (4, 8)]
    """
    checked = []
    for rows, columns in regions:
        rows = slice(*rows.indices(int(frame_shape[0])))
        columns = slice(*columns.indices(int(frame_shape[1])))
        empty = rows.stop <= rows.start or columns.stop <= columns.start
        if rows.step != 1 or columns.step != 1 or empty:
            raise ValueError(
                f"{name}: a region must be a non-empty rectangle, got {(rows, columns)}"
            )
        checked.append((rows, columns))
    if not checked:
        raise ValueError(f"{name}: no region given")
    shapes = [(r.stop - r.start, c.stop - c.start) for r, c in checked]
    if len(set(shapes)) > 1:
        raise ValueError(f"{name}: regions must all have one shape, got {shapes}")
    return checked


def _regular_grid(regions: list[tuple[slice, slice]]) -> tuple[int, int, int, int] | None:
    """``(top, left, rows, columns)`` of checked regions that tile a regular grid row
    by row without gaps (tiles of the field), else None.

    Examples
    --------
    >>> tiles = [(slice(r, r + 4), slice(c, c + 5)) for r in (2, 6) for c in (0, 5, 10)]
    >>> _regular_grid(tiles), _regular_grid(tiles[::-1])
    ((2, 0, 2, 3), None)
    """
    rows, columns = regions[0]
    height, width = rows.stop - rows.start, columns.stop - columns.start
    tops = sorted({r.start for r, _ in regions})
    lefts = sorted({c.start for _, c in regions})
    grid = [
        (top, top + height, left, left + width)
        for top in range(tops[0], tops[0] + len(tops) * height, height)
        for left in range(lefts[0], lefts[0] + len(lefts) * width, width)
    ]
    given = [(r.start, r.stop, c.start, c.stop) for r, c in regions]
    if len(regions) < 2 or given != grid:
        return None
    return tops[0], lefts[0], len(tops), len(lefts)


# -------------------------------------------------------------- the accumulator
class _OpenSums(NamedTuple):
    """The open block's float32 sums over its frames (shifted by its first frame).

    ``power``: the squares of the spectra, interleaved (re^2, im^2); ``spectrum``:
    the spectra, interleaved (re, im); ``moment``: the spectra weighted by their
    frame's time in the block (:meth:`SpectrumAccumulator._time_weights`);
    ``diagonal``: the products of diagonal neighbours
    ``f[i, j] f[i + 1, j + 1] + f[i, j + 1] f[i + 1, j]`` (in blocks of the blinking
    map). The sum and moment are taken of the spectra, read anyway for the power,
    so that the block's trend comes off without transforms of its own; the
    blinking map takes the frames' sum and moment back by inverse transforms.
    """

    power: Any
    spectrum: Any
    moment: Any
    diagonal: Any


class _OpenBlock:
    """A block of frames being summed: its first frame (absolute number and frame,
    the reference the frames are shifted by, of :func:`reference_dtype`), whether it
    adds to the blinking map, its sums (:class:`_OpenSums`, taken at its first
    sub-batch), its frames received and added, the frames waiting for the rest of
    a sub-batch, the worker task adding its latest frames, its search for clipped values
    (a :class:`ClipCounter`, or None when it is not searched), and the frames'
    spectra at the lowest frequencies with their times (for the fit by the halves'
    mean levels, :meth:`SpectrumAccumulator._block_level`).

    Dropped frames (:func:`smlmlp.dropped.dropped_frames`) count among the frames
    received, not among those summed; ``offsets`` are then the times (frames since
    the block's first) of the frames kept, in order (None while none was dropped:
    they are ``0, 1, 2, ...``), and the reference is the first frame kept.
    """

    __slots__ = (
        "first_frame",
        "reference",
        "map_block",
        "clipping",
        "sums",
        "used",
        "received",
        "dropped",
        "offsets",
        "processed",
        "waiting",
        "waiting_n",
        "task",
        "window",
        "times",
    )

    def __init__(
        self, first_frame: int, reference: Any, map_block: bool, clipping: ClipCounter | None
    ) -> None:
        self.first_frame = first_frame
        self.reference = reference
        self.map_block = map_block
        self.clipping = clipping
        self.sums: _OpenSums | None = None
        self.used = False  # whether the sums hold its frames (zeroed at its first)
        self.received = 0
        self.dropped = 0
        self.offsets: list[int] | None = None
        self.processed = 0
        self.waiting: list[Any] = []
        self.waiting_n = 0
        self.task: Future | None = None
        # complex64 (frames, regions, 2K + 1, columns): the summed frames' spectra at
        # the lowest frequencies (level_window, level_transforms)
        self.window: Any = None
        self.times: Any = None  # (frames,) float64: their times, as summed

    @property
    def kept(self) -> int:
        """Frames received and not dropped."""
        return self.received - self.dropped


class _GroupStore:
    """The closed groups in frame order: their counts, and their crops and coverage
    written in place into zeroed slabs ``(capacity, regions, S, S)`` (float64, on
    the host).

    The sums handed out are views of a slab rather than a stack of copies, and a
    slab's pages are touched only where a group writes (the coverage of groups
    without a blinking map stays untouched zeros). A group's slots are written
    once, so views handed out stay valid while more groups come.
    """

    def __init__(self, group_shape: tuple[int, ...], capacity: int) -> None:
        self.group_shape = tuple(int(n) for n in group_shape)
        self.capacity = max(1, int(capacity))
        self.slabs: list[tuple[np.ndarray, np.ndarray]] = []
        self.first_frames: list[int] = []
        self.n_frames: list[int] = []
        self.dof: list[int] = []
        self.tallies: list[ClipTally] = []
        self.levels: list[tuple[Any, Any]] = []  # (level moments, level spread), by region
        # the level bins made of each group's moments on the host as it closes
        # (:func:`level_bins`), None until then (and on the GPU: at the end)
        self.bins: list[np.ndarray | None] = []

    def __len__(self) -> int:
        return len(self.first_frames)

    def claim(
        self, first_frame: int, n_frames: int, dof: int, tally: ClipTally, level: tuple
    ) -> tuple[np.ndarray, np.ndarray]:
        """Record the next group's counts, :class:`ClipTally` and ``(level moments, level
        spread)``; its ``(crop, coverage)`` slots (zeros)."""
        slab, offset = divmod(len(self), self.capacity)
        if slab == len(self.slabs):
            shape = (self.capacity, *self.group_shape)
            self.slabs.append((np.zeros(shape), np.zeros(shape)))
        self.first_frames.append(int(first_frame))
        self.n_frames.append(int(n_frames))
        self.dof.append(int(dof))
        self.tallies.append(tally)
        self.levels.append(level)
        self.bins.append(None)
        crops, coverages = self.slabs[slab]
        return crops[offset], coverages[offset]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(crops, coverages)`` of the groups recorded: views of the first slab
        when it holds them all, else joined."""
        count = len(self)
        if not self.slabs:
            empty = np.zeros((0, *self.group_shape))
            return empty, empty.copy()
        if len(self.slabs) == 1:
            crops, coverages = self.slabs[0]
            return crops[:count], coverages[:count]
        crops = np.concatenate([slab[0] for slab in self.slabs])[:count]
        return crops, np.concatenate([slab[1] for slab in self.slabs])[:count]


class SpectrumAccumulator:
    """Streams frames into :class:`BlockSums` (the machinery; the sums are plain data).

    Parameters
    ----------
    frame_shape : tuple of int
        ``(height, width)`` of the frames.
    block_frames, group_frames : int, optional
        Block and group lengths (see :func:`plan_blocks`); ``group_frames`` a
        multiple of ``block_frames``. By default 20 frames each.
    first_frame : int, optional
        Absolute number of the first frame added (blocks and groups are aligned
        on absolute frame numbers, so frame ranges merge exactly).
    cuda : bool, optional
        Do the FFTs on the GPU (CuPy).
    workers : int, optional
        Number of CPU FFT workers (default 1).
    name : str, optional
        Channel name used in error messages.
    regions : sequence of (slice, slice), optional
        Rectangles of one shape summed side by side (:func:`accumulate_regions`).
    expected_frames : int, optional
        Frames the caller means to add: the groups' crops are then stored in one
        slab of that many groups (more frames still fit).
    kept_crop : int, optional
        The largest crop the sums will be asked for (:func:`stored_crop`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> movie = rng.poisson(100, size=(40, 32, 32)).astype(np.uint16)
    >>> accumulator = SpectrumAccumulator((32, 32), block_frames=10)
    >>> accumulator.add(movie[:15])
    >>> accumulator.add(movie[15:])
    >>> sums = accumulator.sums()
    >>> sums.total_frames, sums.total_dof
    (40, 32)
    """

    def __init__(
        self,
        frame_shape: tuple[int, int],
        *,
        block_frames: int = BLOCK_FRAMES,
        group_frames: int | None = None,
        first_frame: int = 0,
        cuda: bool = False,
        workers: int | None = None,
        name: str = "channel 0",
        regions: Sequence[tuple[slice, slice]] | None = None,
        expected_frames: int | None = None,
        kept_crop: Any = None,
        fiducials: Fiducials | None = None,
    ) -> None:
        height, width = (int(size) for size in frame_shape)
        if height < 1 or width < 1:
            raise ValueError(f"{name}: frame shape must be positive, got {frame_shape!r}")
        self.input_shape = (height, width)
        self._regions = None if regions is None else check_regions(regions, (height, width), name)
        if self._regions is not None:
            rows, columns = self._regions[0]
            height, width = rows.stop - rows.start, columns.stop - columns.start
        self.n_regions = 1 if self._regions is None else len(self._regions)
        self._grid = None if self._regions is None else _regular_grid(self._regions)
        block_frames = int(block_frames)
        group_frames = block_frames if group_frames is None else int(group_frames)
        if block_frames < 1 or group_frames < block_frames or group_frames % block_frames:
            raise ValueError(
                f"{name}: group_frames ({group_frames}) must be a positive multiple of "
                f"block_frames ({block_frames})"
            )
        self.frame_shape = (height, width)
        self.block_frames, self.group_frames = block_frames, group_frames
        self.first_frame = int(first_frame)
        self.name = name
        self.backend: Backend = get_backend(cuda=cuda, workers=None if cuda else workers or 1)
        self.n_frames = 0
        self._masked, self._fiducial_counts, holes = self._fiducial_pixels(fiducials)
        xp = self.backend.xp
        half_width = width // 2 + 1
        # the open block (:class:`_OpenBlock`): float32 sums of the interleaved spectra
        # and their squares, folded into float64 once per block; its frames come
        # in fixed sub-batches. Closed blocks wait in order for their terms (worked on
        # a worker) to join their group; the sums of a finished block are reused.
        self._block: _OpenBlock | None = None
        self._closed: deque[tuple[_OpenBlock, Any]] = deque()
        self._spare_sums: list[_OpenSums] = []
        # and the float64 terms of finished blocks, once added to their group
        self._spare_block_power: list[Any] = []
        self._spare_block_edges: list[Any] = []
        self._sub = self._sub_batch_frames()
        # frames of a core's cache are summed a whole block per worker, each block's
        # terms apart from its group's (also with one worker: the same bits)
        self._terms_apart = not self.backend.cuda and self._frame_bytes <= CACHE_BLOCK_BYTES
        # the open group: summed block fluctuation power
        regions = self.n_regions
        self._group_power = xp.zeros((regions, height, half_width), dtype=np.float64)
        # the open group's blinking map, as the few rows its coverage crop needs
        side = stored_crop((height, width), kept_crop)
        map_shape = (regions, height - 1, width - 1)
        # and around the fiducials' holes in it, what their lost pairs need
        self._holes = None if holes is None else MapHoles(holes, side, xp)
        self._group_density = xp.zeros(
            edge_shape(map_shape, side, self._holes), dtype=np.float64
        )
        self._group_mapped = False  # whether the open group's blinking map holds a block
        self._group_n = self._group_dof = 0
        self._group_tally = ClipTally.nothing(regions, xp)  # its search for clipping
        # the lowest frequencies fitted by the frames' mean levels, and the open
        # group's sums of them (BlockSums.level_bins, level_spread)
        # the rows ky = 0..K, -K..-1 and columns kx = 0..K of level_window
        self._level_columns = level_window(self.frame_shape)[1]
        self._level_rows = 2 * self._level_columns - 1
        self._level_transforms = level_transforms(self.frame_shape)  # on the host
        # the mean levels of the halves from row ky = 0 of a spectrum, from its real
        # and its imaginary parts: the sums over the frame and over its left half
        # (its own mirror: a real left half), each over its area; made on the device
        device = self._level_transforms
        if xp is not np:
            device = level_transforms(self.frame_shape, xp)
        direct, mirrored = device.direct[:, 0], device.mirrored[:, 0]
        whole = xp.zeros((2, device.columns))
        whole[0, 0] = 1.0  # the zero frequency's real part: the sum over the frame
        left = xp.stack([direct.real + mirrored.real, mirrored.imag - direct.imag])
        area, share = math.prod(self.frame_shape), device.share
        halves = [left / (area * share), (whole - left) / (area * (1.0 - share))]
        self._level_halves = xp.stack(halves, axis=-1)  # (real, imaginary; columns; l, r)
        self._group_level = self._no_level()
        self._dropped: defaultdict[int, int] = defaultdict(int)  # by group's first frame
        # the sums of no frame (its shape and crop); the closed groups, stored in
        # place: the worker tasks writing theirs, or (GPU) crops not yet copied
        self._no_groups = BlockSums.empty(self.frame_shape, block_frames, group_frames, kept_crop)
        if expected_frames is None:
            capacity = STORE_SLAB_GROUPS
        else:
            last = self.first_frame + max(int(expected_frames), 1) - 1
            capacity = last // group_frames - self.first_frame // group_frames + 1
        self._store = _GroupStore((regions, side, side), capacity)
        self._pending_groups: list[Any] = []
        # a closed group's arrays come back zeroed from the worker that crops it
        self._spare_power: list[Any] = []
        self._spare_density: list[Any] = []
        self._finished = False
        self._buffer: Any = None
        self._uploader = self.backend.uploader()
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()  # each thread's scratch arrays

    def _fiducial_pixels(
        self, fiducials: Fiducials | None
    ) -> tuple[Any, list[tuple[int, int]], np.ndarray | None]:
        """The flat indices of the fiducials' pixels in a sub-batch's frame of regions
        side by side (None when there are none), each region's ``(fiducials,
        masked pixels)`` and the regions' masks ``(regions, height, width)`` (None
        when there are none)."""
        regions = self._regions or [(slice(0, self.input_shape[0]), slice(0, self.input_shape[1]))]
        if fiducials is None or not fiducials.mask.any():
            return None, [(0, 0)] * len(regions), None
        mask = np.asarray(fiducials.mask, bool)
        if mask.shape != self.input_shape:
            raise ValueError(
                f"{self.name}: fiducial mask of shape {mask.shape}, frames {self.input_shape}"
            )
        cut = np.stack([mask[rows, columns] for rows, columns in regions])
        counts = []
        for rows, columns in regions:
            inside = [
                rows.start <= row < rows.stop and columns.start <= column < columns.stop
                for row, column in fiducials.spots.tolist()
            ]
            counts.append((sum(inside), int(mask[rows, columns].sum())))
        flat = np.flatnonzero(cut)
        if not flat.size:
            return None, counts, None
        return self.backend.xp.asarray(flat), counts, cut

    def _no_level(self) -> tuple[Any, Any]:
        """Zero ``(level moments, level spread)`` of every region (:meth:`_block_level`)."""
        xp, regions = self.backend.xp, self.n_regions
        shape = (regions, 2, self._level_rows, self._level_transforms.columns)
        return xp.zeros(shape, np.complex128), xp.zeros((regions, 3), np.float64)

    # ------------------------------------------------------------------ input
    def _check_finite(self, chunk: Any) -> None:
        xp = self.backend.xp
        bad = ~xp.isfinite(chunk)
        n_bad = int(bad.sum())
        if n_bad:
            frame, row, column = (int(i) for i in xp.argwhere(bad)[0])
            first = self.first_frame + self.n_frames
            raise ValueError(
                f"{self.name}: {n_bad} NaN or infinite pixel(s) in frames "
                f"{first}..{first + chunk.shape[0] - 1}; first at frame "
                f"{first + frame}, row {row}, column {column}"
            )

    def add(self, frames: Any) -> None:
        """Add the next chunk of frames, of shape ``(n, height, width)`` (whole frames
        when the accumulator sums regions of them).

        On the GPU, host frames are copied in their own type and cast there
        (:class:`smlmlp.backend.ChunkUploader`); device frames are used in place.
        With several CPU workers and frames of a core's cache, the chunk's blocks
        are summed on the workers while this returns (the chunk is kept until
        then); :meth:`region_sums` waits for them.
        """
        if self._finished:
            raise ValueError(f"{self.name}: no frame can be added after finish()")
        host = frames if isinstance(frames, np.ndarray) else None
        chunk = self.backend.asarray(self._uploader.upload(frames))
        if chunk.ndim == 2:
            chunk = chunk[None]
        if chunk.ndim != 3 or tuple(chunk.shape[1:]) != self.input_shape:
            raise ValueError(
                f"{self.name}: expected frames of shape (n, {self.input_shape[0]}, "
                f"{self.input_shape[1]}), got {tuple(chunk.shape)}"
            )
        if chunk.shape[0] == 0:
            return
        if chunk.dtype.kind in "fc":
            self._check_finite(chunk)
        if chunk.dtype.kind not in "uif":
            raise TypeError(f"{self.name}: frames must be real numbers, got dtype {chunk.dtype}")
        # looked for on the host when the frames come from there (no wait for the GPU)
        dropped = dropped_frames(chunk if host is None else host.reshape(chunk.shape))
        done, n_chunk = 0, int(chunk.shape[0])
        while done < n_chunk:
            position = self.first_frame + self.n_frames
            if self._block is None:
                block_index = position // self.block_frames
                map_block = block_index % BLINKING_MAP_EVERY == 0
                searched = block_index % CLIPPING_EVERY == 0
                clipping = ClipCounter(self.block_frames) if searched else None
                self._block = _OpenBlock(position, None, map_block, clipping)
            block_end = (position // self.block_frames + 1) * self.block_frames
            take = min(n_chunk - done, block_end - position)
            last = position + take == block_end
            frames = self._keep(self._block, chunk[done : done + take], dropped[done : done + take])
            self._feed(self._block, frames, last)
            done += take
            self.n_frames += take
            if last:
                self._close_block()

    def _keep(self, block: _OpenBlock, frames: Any, dropped: np.ndarray) -> Any:
        """The next ``frames`` of ``block`` but the dropped ones, whose number and
        the kept frames' times it records; the block's reference from its first
        frame kept."""
        if dropped.any() or block.offsets is not None:
            kept = np.flatnonzero(~dropped)
            if block.offsets is None:
                block.offsets = list(range(block.kept))
            block.offsets.extend((block.received + kept).tolist())
            if len(kept) < len(dropped):
                self._dropped[self._group_start(block.first_frame)] += len(dropped) - len(kept)
                block.dropped += len(dropped) - len(kept)
                frames = frames[self.backend.xp.asarray(kept)]
        block.received += int(dropped.shape[0])
        if block.reference is None and frames.shape[0]:
            first = self._cut(frames[:1])[0]
            first = first.astype(reference_dtype(first.dtype), order="C")  # a copy
            block.reference = first.reshape(self.n_regions, *self.frame_shape)
        return frames

    def _cut(self, chunk: Any) -> Any:
        """The chunk as ``(n, regions, height, width)``: a view of whole frames or of
        a lone region, or the regions copied side by side (they share every pass
        from here on); the tiles of a regular grid as a view ``(n, rows, columns,
        height, width)`` instead (the shift copies them side by side)."""
        if self._regions is None:
            return chunk[:, None]
        if len(self._regions) == 1:  # a view: one region needs no copy
            rows, columns = self._regions[0]
            return chunk[:, None, rows, columns]
        if self._grid is not None:
            top, left, n_rows, n_columns = self._grid
            height, width = self.frame_shape
            field = chunk[:, top : top + n_rows * height, left : left + n_columns * width]
            tiles = field.reshape(-1, n_rows, height, n_columns, width)
            return tiles.transpose(0, 1, 3, 2, 4)
        pieces = [chunk[:, rows, columns] for rows, columns in self._regions]
        return self.backend.xp.stack(pieces, axis=1)

    @property
    def batch_frames(self) -> int:
        """Frames transformed together (fixed by the frame shape): chunks of a
        multiple of it that start on a multiple of it are summed as they come,
        others partly wait (copied) for the rest of a batch."""
        return self._sub

    @property
    def _frame_bytes(self) -> int:
        """float32 bytes of one frame (all its regions)."""
        return 4 * self.n_regions * self.frame_shape[0] * self.frame_shape[1]

    @property
    def _blocks_on_workers(self) -> bool:
        """Whether whole blocks go to the CPU workers (several workers, frames of a
        core's cache) rather than each sub-batch being shared by rows."""
        workers = 1 if self.backend.cuda else int(self.backend.workers or 1)
        return workers > 1 and self._terms_apart

    def _feed(self, block: _OpenBlock, frames: Any, last: bool) -> None:
        """Add frames that all belong to ``block`` (``last``: its last ones, then
        finish it, :meth:`_finish_block`): on a worker, after the block's earlier
        frames (:attr:`_blocks_on_workers`; the task's result is the block's terms),
        or here."""
        if self._blocks_on_workers:
            task = self._worker_pool().submit(self._fill_after, block, frames, block.task, last)
            block.task = task
        else:
            self._fill(block, frames, on_worker=False)

    def _fill_after(
        self, block: _OpenBlock, frames: Any, previous: Future | None, last: bool
    ) -> Any:
        if previous is not None:
            previous.result()
        self._fill(block, frames, on_worker=True)
        return self._finish_block(block, on_worker=True) if last else None

    def _fill(self, block: _OpenBlock, frames: Any, on_worker: bool) -> None:
        """Add ``block``'s next frames (whole frames: cut here) to its sums in canonical
        sub-batches.

        The block's frames are taken in sub-batches of :meth:`_sub_batch_frames`
        frames aligned on the block's start, whatever the chunks they come in:
        frames of an unfinished sub-batch wait (copied) for the next chunk or the
        end of the block. Each sub-batch is added to the block's sums in frame
        order, so the sums are the same bits for any chunk length and any number
        of workers.
        """
        frames = self._cut(frames)
        n_frames, sub = int(frames.shape[0]), self._sub
        done = 0
        if block.waiting_n:
            done = min(n_frames, sub - block.waiting_n)
            block.waiting.append(frames[:done].copy())
            block.waiting_n += done
            if block.waiting_n == sub:
                self._process_waiting(block, on_worker)
        while n_frames - done >= sub:
            self._process(block, frames[done : done + sub], on_worker)
            done += sub
        if done < n_frames:
            block.waiting = [frames[done:].copy()]
            block.waiting_n = n_frames - done

    def _process_waiting(self, block: _OpenBlock, on_worker: bool) -> None:
        """Add the block's frames waiting for the rest of their sub-batch (at most one)."""
        if not block.waiting_n:
            return
        waiting = block.waiting
        frames = waiting[0] if len(waiting) == 1 else self.backend.xp.concatenate(waiting)
        block.waiting, block.waiting_n = [], 0
        self._process(block, frames, on_worker)

    def _sub_batch_frames(self) -> int:
        """Frames transformed together on the CPU: at most :data:`WORKER_BATCH_BYTES`
        of float32 for frames the workers take by whole blocks, or
        :data:`SHARED_BATCH_BYTES` for larger frames (the block's sums are read and
        written once per batch); the largest divisor of the block length that fits
        (a block holds sub-batches of equal length); a whole block on the GPU. Fixed
        by the frame shape, never by the chunks or workers."""
        if self.backend.cuda:
            return self.block_frames
        small = self._frame_bytes <= CACHE_BLOCK_BYTES
        largest = (WORKER_BATCH_BYTES if small else SHARED_BATCH_BYTES) // self._frame_bytes
        divisors = [n for n in range(1, max(1, largest) + 1) if self.block_frames % n == 0]
        return divisors[-1]

    def _worker_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.backend.workers)
        return self._pool

    def _frame_buffer(self, n_frames: int) -> Any:
        """The float32 buffer of at least ``n_frames`` frames, kept for reuse (fresh
        allocations would cost page faults)."""
        if self._buffer is None or self._buffer.shape[0] < n_frames:
            shape = (n_frames, self.n_regions, *self.frame_shape)
            self._buffer = self.backend.xp.empty(shape, dtype=np.float32)
        return self._buffer[:n_frames]

    def _open_sums(self, block: _OpenBlock) -> _OpenSums:
        """``block``'s float32 sums (:class:`_OpenSums`): spare ones or new, zeroed when
        the block gets its first frames."""
        height, width = self.frame_shape
        regions = self.n_regions
        xp = self.backend.xp
        if block.sums is None:
            try:  # (workers take spare sums at once: no test before the pop)
                block.sums = self._spare_sums.pop()
            except IndexError:
                spectral = (regions, height, 2 * (width // 2 + 1))
                block.sums = _OpenSums(
                    xp.empty(spectral, dtype=np.float32),
                    xp.empty(spectral, dtype=np.float32),
                    xp.empty(spectral, dtype=np.float32),
                    xp.empty((regions, height - 1, width - 1), dtype=np.float32),
                )
        if not block.used:
            for part in block.sums[:3] if not block.map_block else block.sums:
                part.fill(0)
            block.used = True
        return block.sums

    def _time_weights(self, block: _OpenBlock, first_index: int, count: int) -> Any:
        """Time of the block's summed frames ``first_index ..`` (``count`` of them),
        centred on a full block (float32)."""
        centre = 0.5 * (self.block_frames - 1)
        if block.offsets is not None:
            times = np.asarray(block.offsets[first_index : first_index + count]) - centre
            return self.backend.xp.asarray(times, dtype=np.float32)
        return self.backend.xp.arange(count, dtype=np.float32) + np.float32(first_index - centre)

    def _process(self, block: _OpenBlock, frames: Any, on_worker: bool) -> None:
        """Add one sub-batch of the block's frames (the next ones) to its sums.

        Shift by the block's first frame (float32), FFT, then the sums over the
        sub-batch's frames, in frame order, added to the block's: on a worker all
        by itself (its own scratch), here by bands of rows on the CPU workers.
        """
        n_frames = int(frames.shape[0])
        first_index = block.processed
        sums = self._open_sums(block)
        reference = block.reference
        if on_worker:
            shifted = self._scratch("shifted", (n_frames, self.n_regions, *self.frame_shape))
        else:
            shifted = self._frame_buffer(n_frames)
        # frames may be a grid's view (see _cut): shifted side by side in its shape
        target, base = shifted.reshape(frames.shape), reference.reshape(frames.shape[1:])

        def shift(rows: slice) -> None:
            shift_by_reference(frames, base, target, rows, self.backend.xp)

        small = on_worker or self._frame_bytes <= CACHE_BLOCK_BYTES
        self._by_rows(shift, alone=on_worker)
        if self._masked is not None:  # the fiducials' pixels: no fluctuation
            shifted.reshape(n_frames, -1)[:, self._masked] = 0
        if block.clipping is not None:  # the frames just read by the shift
            block.clipping.add(frames)
        spectra = self.backend.rfft2(shifted, workers=1 if small else self.backend.workers)
        weights = self._time_weights(block, first_index, n_frames)
        self._add_level_window(block, spectra, weights)
        means = None  # the blinking map is made of frames less their mean level
        if block.map_block:
            means = spectra[:, :, 0, 0].real * np.float32(1.0 / math.prod(self.frame_shape))
        if self.backend.cuda:
            self._accumulate_on_device(sums, spectra, shifted, weights, means)
        else:

            def accumulate(rows: slice) -> None:
                self._accumulate_bands(sums, spectra, shifted, weights, rows, means)

            self._by_rows(accumulate, alone=on_worker)
        block.processed += n_frames

    def _add_level_window(self, block: _OpenBlock, spectra: Any, times: Any) -> None:
        """Keep a sub-batch's spectra at the lowest frequencies: the rows of
        :func:`level_window`, the columns :func:`level_transforms` reads, in the
        block's ``(frames, regions, 2K + 1, columns)`` store of them (complex64), and
        their frames' ``times`` (:meth:`_time_weights`) beside them."""
        xp = self.backend.xp
        columns = self._level_transforms.columns
        if block.window is None:
            shape = (self.block_frames, self.n_regions, self._level_rows, columns)
            block.window = xp.empty(shape, np.complex64)
            block.times = xp.empty(self.block_frames, np.float64)
        first, count = block.processed, int(spectra.shape[0])
        block.times[first : first + count] = times
        store = block.window[first : first + count]
        steps = self._level_columns - 1  # rows ky = 0..K, then -K..-1: two plain slices
        store[:, :, : steps + 1] = spectra[:, :, : steps + 1, :columns]
        if steps:
            store[:, :, steps + 1 :] = spectra[:, :, -steps:, :columns]

    def _block_level(self, block: _OpenBlock) -> tuple[Any, Any]:
        """The block's ``(level moments, level spread)`` of every region: the mean
        levels of the frames' left and right halves less their straight line in
        time, ``l_t`` and ``r_t``, the frames' spectra ``F_t`` at the lowest
        frequencies summed weighted by them, ``(sum l F, sum r F)`` (complex, the
        spectra need not be less their line), and ``(sum l^2, sum r^2, sum l r)``;
        zeros where either half's levels are a straight line to rounding (or the
        block has none). :func:`level_bins` makes :attr:`BlockSums.level_bins` of
        the moments (linear in them: once for all the groups)."""
        xp = self.backend.xp
        if block.window is None or block.processed < MIN_BLOCK_FRAMES:
            return self._no_level()
        n = block.processed
        read = block.window[:n]  # complex64 (frames, regions, 2K + 1, columns)
        # the halves' mean levels from row ky = 0 (its own mirror: real left halves)
        top = read[:, :, 0, :]
        levels = top.real.astype(np.float64) @ self._level_halves[0]  # (frames, regions, 2)
        levels += top.imag.astype(np.float64) @ self._level_halves[1]  # l, r
        mean_time, spread = self._trend(block)
        times = block.times[:n] - mean_time
        levels -= levels.mean(axis=0)
        about_mean = (levels * levels).sum(axis=0)
        slope = (times @ levels.reshape(n, -1)).reshape(levels.shape[1:]) / spread
        levels -= times[:, None, None] * slope
        gram = xp.einsum("trj,trk->rjk", levels, levels)  # (regions, 2, 2)
        spreads = xp.stack([gram[:, 0, 0], gram[:, 1, 1], gram[:, 0, 1]], axis=1)
        fitted = (spreads[:, :2] > LEVEL_ROUNDING * about_mean).all(axis=1)
        levels *= fitted[:, None]
        # the spectra summed over the frames weighted by l and by r, in real terms:
        # (regions, 2, frames) @ (regions, frames, ..), a small product per region
        flat = read.view(np.float32).reshape(n, self.n_regions, -1).swapaxes(0, 1)
        weighted = xp.matmul(levels.transpose(1, 2, 0).astype(np.float32), flat)
        moments = weighted.view(np.complex64).reshape(self.n_regions, 2, *read.shape[2:])
        return moments.astype(np.complex128), spreads * fitted[:, None]

    def _accumulate_bands(
        self,
        sums: _OpenSums,
        spectra: Any,
        shifted: Any,
        weights: Any,
        rows: slice,
        means: Any,
    ) -> None:
        """Add a sub-batch's spectra and frames in ``rows`` to the block's sums (CPU),
        in bands of rows small enough for a core's cache; all the rows of several
        regions are taken together instead, when they fit (fewer, larger calls).
        ``means``: the frames' mean levels ``(frames, regions)`` in a block of the
        blinking map, else None."""
        top, stop, _ = rows.indices(self.frame_shape[0])
        n_frames, regions, height, half_width = spectra.shape
        region_bytes = 8 * half_width * n_frames * height
        if regions > 1 and (top, stop) == (0, height) and region_bytes <= CACHE_BLOCK_BYTES:
            step = CACHE_BLOCK_BYTES // region_bytes
            step = -(-regions // -(-regions // step))  # groups of even size
            rows = slice(0, height)
            for first in range(0, regions, step):
                group = slice(first, min(first + step, regions))
                terms = self._band_terms(
                    spectra[:, group],
                    shifted[:, group],
                    weights,
                    rows,
                    None if means is None else means[:, group],
                )
                self._add_terms(_OpenSums(*(part[group] for part in sums)), terms, rows)
            return
        step = max(1, CACHE_BLOCK_BYTES // (8 * half_width * n_frames * regions))
        if stop > top:  # bands of even height
            step = -(-(stop - top) // -(-(stop - top) // step))
        for start in range(top, stop, step):
            band = slice(start, min(start + step, stop))
            terms = self._band_terms(spectra, shifted, weights, band, means)
            self._add_terms(sums, terms, band)

    def _scratch(self, key: str, shape: tuple[int, ...]) -> Any:
        """This thread's float32 scratch array ``key`` of ``shape``, kept for reuse
        (fresh allocations of frame-sized temporaries would cost page faults)."""
        buffers = self._local.__dict__.setdefault("buffers", {})
        size = math.prod(shape)
        buffer = buffers.get(key)
        if buffer is None or buffer.size < size:
            buffer = buffers[key] = np.empty(size, np.float32)
        return buffer[:size].reshape(shape)

    def _band_terms(
        self, spectra: Any, shifted: Any, weights: Any, band: slice, means: Any
    ) -> tuple:
        """A sub-batch's sums over its frames for the rows ``band`` (CPU), as in
        :class:`_OpenSums`; the diagonal products (of the frames less their mean
        levels ``means``) None when the block adds nothing to the blinking map
        (``means`` None).

        The power is one ``einsum``, the sum and moment one matrix product
        (:meth:`_sum_and_moment`), into this thread's scratch (sums of products, no
        temporary as large as the frames), over the frames in order for every
        element whatever the band; a lone frame takes plain products (einsum is
        slow over one term). The terms live until this thread computes its next
        ones.
        """
        parts = spectra[:, :, band].view(np.float32)  # interleaved (re, im)
        start, stop, _ = band.indices(self.frame_shape[0])
        bottom = min(stop, self.frame_shape[0] - 1)
        lone = parts.shape[0] == 1

        def products(first: Any, second: Any, key: str) -> Any:
            return _summed_products(first, second, self._scratch(key, first.shape[1:]))

        diagonal = None
        if means is not None:
            diagonal = self._diagonal_products(shifted, means, start, bottom)
        if lone:
            moment = np.multiply(parts[0], weights[0], out=self._scratch("moment", parts.shape[1:]))
            spectrum = parts[0]
        else:
            spectrum, moment = self._sum_and_moment(parts, weights)
        return _OpenSums(products(parts, parts, "power"), spectrum, moment, diagonal)

    def _sum_and_moment(self, parts: Any, weights: Any) -> tuple[Any, Any]:
        """``(sum over t of parts[t], sum over t of weights[t] parts[t])`` (CPU), in
        this thread's scratch: a matrix product ``(2, frames) @ (frames, elements)``,
        which reads the spectra once for both (one for whole regions, one per region
        for a band of their rows). Each element is the same sum of products in frame
        order whatever its band."""
        n_frames, shape = parts.shape[0], parts.shape[1:]
        factors = np.empty((2, n_frames), np.float32)
        factors[0] = 1.0
        factors[1] = weights
        if parts[0].flags.c_contiguous:  # whole regions: one product for all of them
            flat = parts.reshape(n_frames, -1)
            out = self._scratch("sum_and_moment", (2, flat.shape[-1]))
            np.matmul(factors, flat, out=out)
            return out[0].reshape(shape), out[1].reshape(shape)
        # a band of rows of several regions: one product per region
        flat = parts.swapaxes(0, 1).reshape(shape[0], n_frames, -1)
        out = self._scratch("sum_and_moment", (shape[0], 2, flat.shape[-1]))
        np.matmul(factors, flat, out=out)
        return out[:, 0].reshape(shape), out[:, 1].reshape(shape)

    def _diagonal_products(self, shifted: Any, means: Any, start: int, bottom: int) -> Any:
        """Summed products of diagonal neighbours whose upper pixel is in rows
        ``start .. bottom`` (CPU): ``f[y, x] f[y+1, x+1] + f[y, x+1] f[y+1, x]``,
        ``f`` the frames less their mean levels ``means`` ``(frames, regions)``.

        The rows ``start .. bottom`` less the means go into this thread's scratch
        (a band: it stays in the core's cache), along each region's rows laid end
        to end, so every product is of two contiguous runs: the neighbour
        below-right of element ``p`` is element ``p + width + 1``, below-left
        ``p + width - 1``. The products that wrap from one row to the next land in
        the last column, which is dropped: the same products, summed in the same
        order, as on the 2-D views, in this thread's scratch (until its next terms).
        """
        n_frames, regions, _, width = shifted.shape
        rows = bottom - start
        if rows <= 0 or width < 2:
            return self.backend.xp.zeros((regions, max(rows, 0), max(width - 1, 0)), np.float32)
        band = shifted[:, :, start : bottom + 1]
        flat = self._scratch("centred", (n_frames, regions, (rows + 1) * width))
        np.subtract(band, means[:, :, None, None], out=flat.reshape(band.shape))
        length = rows * width - 1

        def summed(offset: int, neighbour: int, key: str) -> Any:
            whole = self._scratch(key, (regions, rows * width))
            out = whole[..., :length]
            one = flat[..., offset : offset + length]
            other = flat[..., neighbour : neighbour + length]
            _summed_products(one, other, out)
            return whole

        down = summed(0, width + 1, "down")
        down[..., :length] += summed(1, width, "up")[..., :length]
        return down.reshape(regions, rows, width)[..., : width - 1]

    @staticmethod
    def _add_terms(sums: _OpenSums, terms: _OpenSums, band: slice) -> None:
        """``sums[k][band] += terms[k]`` (the diagonal products on their own rows)."""
        for target, term in zip(sums, terms, strict=True):
            if term is not None:
                target[:, band.start : band.start + term.shape[-2]] += term

    def _accumulate_on_device(
        self, sums: _OpenSums, spectra: Any, shifted: Any, weights: Any, means: Any
    ) -> None:
        """Add a sub-batch's spectra and frames to the block's sums on the GPU.

        The spectra are summed, and weighted by a matrix product, then squared in
        place and summed by a plain reduction (CuPy's einsum would copy both
        operands into transposed layouts as large as the spectra). In a block of
        the blinking map (``means``, the frames' mean levels, not None) the frames
        less their means give the diagonal products.
        """
        xp = self.backend.xp
        parts = spectra.view(np.float32)  # interleaved (re, im)
        sums.spectrum[...] += parts.sum(axis=0)
        sums.moment[...] += xp.tensordot(weights, parts, axes=1)
        xp.multiply(parts, parts, out=parts)  # the squares, in place
        sums.power[...] += parts.sum(axis=0)
        if means is not None:
            shifted -= means[:, :, None, None]
            sums.diagonal[...] += (shifted[..., :-1, :-1] * shifted[..., 1:, 1:]).sum(0)
            sums.diagonal[...] += (shifted[..., :-1, 1:] * shifted[..., 1:, :-1]).sum(0)

    def _by_rows(self, work: Callable[[slice], None], alone: bool = False) -> None:
        """Run ``work(rows)`` over bands of rows on all CPU workers (all rows at once
        ``alone``, on the GPU, with one worker, or for frames that fit a core's cache,
        which the workers share by whole blocks instead). Each element's sums are the
        same whatever the bands."""
        workers = 1 if self.backend.cuda else int(self.backend.workers or 1)
        height = self.frame_shape[0]
        small = self._frame_bytes <= CACHE_BLOCK_BYTES
        if alone or workers == 1 or height < 2 or small:
            work(slice(None))
        else:
            list(self._worker_pool().map(work, self._row_bands(min(workers, height))))

    def _row_bands(self, workers: int) -> list[slice]:
        edges = np.linspace(0, self.frame_shape[0], workers + 1).astype(int)
        return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    # ----------------------------------------------------------- blocks, groups
    def _trend(self, block: _OpenBlock) -> tuple[float, float]:
        """``(mean time, sum of squared centred times)`` of the block's summed frames
        (times as in :meth:`_time_weights`), on the host."""
        n, centre = block.processed, 0.5 * (self.block_frames - 1)
        if block.offsets is not None:
            times = np.asarray(block.offsets[:n], np.float64)
            mean = float(times.mean())
            return mean - centre, float(((times - mean) ** 2).sum())
        return -centre + 0.5 * (n - 1), n * (n * n - 1) / 12.0

    def _add_block_fluctuation_power(self, target: Any, block: _OpenBlock, alone: bool) -> None:
        """``target +=`` the block's power about its own straight-line trend.

        ``sum |F|^2 - |sum F|^2 / n - |sum (t - mean t) F|^2 / sum (t - mean t)^2``,
        from the block's sums of the spectra (no transform). In float32: the frames
        are shifted by the block's first frame, so the terms are of the same size
        and little cancels. The block's power, spectrum and moment sums are used
        up (worked in place). ``alone``: on this thread only (a worker's).
        """
        xp = self.backend.xp
        sums, n = block.sums, block.processed
        mean_time, spread = self._trend(block)
        power, spectrum, slope = sums.power, sums.spectrum, sums.moment
        row_length = power.shape[-1]

        def remove_and_fold(rows: slice) -> None:
            for band in self._fold_bands(rows, row_length):
                total, centred = spectrum[:, band], slope[:, band]
                centred -= np.float32(mean_time) * total  # sum (t - mean t) F
                for squares, scale in ((total, n), (centred, spread)):
                    xp.multiply(squares, squares, out=squares)
                    squares *= np.float32(-1.0 / scale)
                    power[:, band] += squares
                if band.start == 0:  # each frame's mean level (see smlmlp.block_sums)
                    power[:, 0, 0:2] = 0.0
                part = target[:, band]  # interleaved (re, im): re + im
                part += power[:, band, 0::2]
                part += power[:, band, 1::2]

        self._by_rows(remove_and_fold, alone)

    def _fold_bands(self, rows: slice, row_length: int) -> list[slice]:
        """``rows`` in bands of :data:`FOLD_BAND_ELEMENTS` (all at once on the GPU)."""
        first, stop, _ = rows.indices(self.frame_shape[0])
        if self.backend.cuda:
            step = stop - first
        else:
            step = max(1, FOLD_BAND_ELEMENTS // (row_length * self.n_regions))
        return [slice(start, min(start + step, stop)) for start in range(first, stop, step)]

    def _add_block_density(self, target: Any, block: _OpenBlock, alone: bool) -> Any:
        """``target +=`` the edges (:func:`add_to_edges`) of the block's blinking map
        about its own trend (float64, pixel corners); returns ``target``. The sum
        and moment of the frames are the inverse transforms of the spectra's
        (``alone``: on this thread only).

        Products of diagonal neighbours' fluctuations: white noise and noise
        correlated along rows or columns add nothing to them. Worked in bands of
        :data:`MAP_BAND_ELEMENTS` on the CPU, so the float64 temporaries stay
        small; the map itself is never whole.
        """
        sums, n = block.sums, block.processed
        fft_workers = 1 if alone else self.backend.workers
        for part in (sums.spectrum, sums.moment):  # of frames less their mean level
            part[:, 0, 0:2] = 0.0
        total = self.backend.irfft2(sums.spectrum.view(np.complex64), self.frame_shape, fft_workers)
        if not alone and self._buffer is not None:
            # the frames' buffer is idle between batches: it holds the sum, so that
            # the two transforms' arrays are not both alive (a frame less at the peak)
            kept = self._buffer.reshape(-1)[: total.size].reshape(total.shape)
            kept[...] = total
            total = kept
        slope = self.backend.irfft2(sums.moment.view(np.complex64), self.frame_shape, fft_workers)
        diagonal = sums.diagonal
        mean_time, spread = self._trend(block)
        rows = self.frame_shape[0] - 1
        row_size = max(1, int(target.shape[-1]) * self.n_regions)
        step = rows if self.backend.cuda else max(1, MAP_BAND_ELEMENTS // row_size)
        for start in range(0, rows, step):
            stop = min(start + step, rows)
            frame_rows = slice(start, stop + 1)  # and the neighbours below
            band_total = total[:, frame_rows].astype(np.float64)
            band_slope = slope[:, frame_rows].astype(np.float64)
            band_slope -= mean_time * band_total
            mean = band_total / n
            band = diagonal[:, start:stop].astype(np.float64)
            products = mean[..., :-1, :-1] * mean[..., 1:, 1:]
            products += mean[..., :-1, 1:] * mean[..., 1:, :-1]
            band -= n * products
            band_slope_products = band_slope[..., :-1, :-1] * band_slope[..., 1:, 1:]
            band_slope_products += band_slope[..., :-1, 1:] * band_slope[..., 1:, :-1]
            band -= band_slope_products / spread
            add_to_edges(target, band, start, rows, self._holes)
        return target

    def _block_terms(self, block: _OpenBlock) -> tuple[Any, Any, tuple[Any, Any]]:
        """The block's ``(fluctuation power, blinking-map edges or None, (level moments,
        level spread))`` (:meth:`_block_level`), the first two from zero (float64),
        its sums used up; on this thread only. ``(None, None, zeros)`` for fewer than
        :data:`MIN_BLOCK_FRAMES` frames."""
        if block.processed < MIN_BLOCK_FRAMES or not block.used:
            return None, None, self._no_level()
        level = self._block_level(block)
        edges = None
        if block.map_block:  # before the power, which uses up the spectral sums
            edges = self._add_block_density(
                self._zeros(self._spare_block_edges, self._group_density), block, alone=True
            )
        power = self._zeros(self._spare_block_power, self._group_power)
        self._add_block_fluctuation_power(power, block, alone=True)
        return power, edges, level

    def _zeros(self, spares: list[Any], like: Any, zeroed: bool = False) -> Any:
        """Zeros like ``like``: a spare array, filled unless ``zeroed`` (its user
        zeroed it), or new (the workers take spares at once: no test before the
        pop). Arrays kept for reuse spare the page faults of fresh memory, which
        cost about as much as the arithmetic done on it."""
        try:
            array = spares.pop()
        except IndexError:
            return self.backend.xp.zeros_like(like)
        if not zeroed:
            array.fill(0.0)
        return array

    @property
    def _spares_kept(self) -> int:
        """Finished blocks' arrays kept for reuse: one per block in flight."""
        workers = int(self.backend.workers or 1) if self._blocks_on_workers else 0
        return 2 + BLOCKS_AHEAD * workers

    def _finish_block(self, block: _OpenBlock, on_worker: bool) -> Any:
        """Add the block's last, shorter sub-batch; its terms if they are worked out
        apart (:meth:`_block_terms`), else None (they go straight into the group)."""
        self._process_waiting(block, on_worker)
        return self._block_terms(block) if self._terms_apart else None

    def _close_block(self) -> None:
        """Queue the finished block for its group (its worker finishes it, or here)."""
        block, self._block = self._block, None
        if self._blocks_on_workers:
            pending = block.task  # its last frames' task finishes it
        else:
            pending = self._finish_block(block, on_worker=False)
        block.task = None
        self._closed.append((block, pending))
        # a few blocks on the workers at a time: the chunks they read stay few
        ahead = BLOCKS_AHEAD * int(self.backend.workers or 1) if self._blocks_on_workers else 0
        self._add_closed_blocks(keep=ahead)

    def _add_closed_blocks(self, keep: int = 0) -> None:
        """Add the closed blocks to their groups, in order, until ``keep`` are left
        (waiting for their workers); closes each group the next block leaves."""
        while len(self._closed) > keep:
            block, pending = self._closed.popleft()
            terms = pending.result() if isinstance(pending, Future) else pending
            first = block.first_frame
            if self._group_n and self._group_start(first) != self._group_start(first - 1):
                self._close_group(first - 1)
            if block.clipping is not None:  # (its counts let go before the block's terms)
                tally = block.clipping.tally(self.backend.xp, self.n_regions)
                self._group_tally = self._group_tally.plus(tally)
                block.clipping = None
            if block.kept >= MIN_BLOCK_FRAMES:
                if block.map_block:
                    self._group_mapped = True
                if self._terms_apart:
                    power, edges, (moments, spread) = terms
                    self._group_power += power
                    if len(self._spare_block_power) < self._spares_kept:
                        self._spare_block_power.append(power)
                    if edges is not None:
                        self._group_density += edges
                        if len(self._spare_block_edges) < self._spares_kept:
                            self._spare_block_edges.append(edges)
                else:
                    if block.map_block:
                        self._add_block_density(self._group_density, block, alone=False)
                    # after the map, which reads the sums this uses up
                    self._add_block_fluctuation_power(self._group_power, block, alone=False)
                    moments, spread = self._block_level(block)
                self._group_dof += block.kept - TREND_TERMS
                self._group_level[0][...] += moments
                self._group_level[1][...] += spread
            self._group_n += block.received
            if block.sums is not None and len(self._spare_sums) < self._spares_kept:
                self._spare_sums.append(block.sums)
            block.sums = None

    def _group_start(self, frame: int) -> int:
        return (frame // self.group_frames) * self.group_frames

    def _group_crop(self, power: Any, fft_workers: int | None = None, out: Any = None) -> Any:
        """Central crop of the circular autocorrelation of a summed power spectrum.

        The power is real, so its inverse transform along y is the conjugate of
        its real forward transform: ``rfft`` along y gives lags ``0..r`` (their
        conjugates) and ``-r..-1`` (as they are), half the work of a complex
        inverse. Then the inverse along x for the crop's rows only. The rows are
        written in place (no concatenated temporaries); the crop into ``out``
        when given.
        """
        height, width = self.frame_shape
        size = self._no_groups.stored_crop
        half = size // 2
        xp, fft = self.backend.xp, self.backend.fft
        workers = self.backend.workers if fft_workers is None else fft_workers
        options = {} if self.backend.cuda else {"workers": workers}
        regions, _, half_width = power.shape
        # lags -r..-1 are forward[r..1]; lags 0..r are their conjugates forward[0..r]*
        rows = xp.empty((regions, size, half_width), dtype=np.complex128)
        # by bands of columns on the CPU: no temporary as large as the spectrum
        step = half_width if self.backend.cuda else max(1, 2**20 // (16 * height * regions))
        for first in range(0, half_width, step):
            band = slice(first, first + step)
            forward = fft.rfft(power[..., band], axis=-2, **options)
            rows[:, :half, band] = forward[:, half:0:-1]
            xp.conjugate(forward[:, : half + 1], out=rows[:, half:, band])
        rows /= height
        ac_rows = fft.irfft(rows, n=width, axis=-1, **options)
        crop = xp.empty((regions, size, size), dtype=np.float64) if out is None else out
        crop[..., :half] = ac_rows[..., width - half :]
        crop[..., half:] = ac_rows[..., : half + 1]
        return crop

    def _group_arrays(
        self,
        power: Any,
        density: Any,
        dof: int,
        mapped: bool,
        out: tuple[Any, Any] | None = None,
        fft_workers: int | None = None,
        regions: range | None = None,
    ) -> tuple[Any, Any]:
        """One group's ``(crop, coverage)``, into ``out`` (zeros) or new arrays on the
        backend's device; ``mapped``: whether ``density`` holds a block's blinking map;
        ``regions``: those the arrays hold (all by default)."""
        size = self._no_groups.stored_crop
        xp = self.backend.xp
        if out is None:
            empty = (self.n_regions, size, size)
            out = (xp.zeros(empty), xp.zeros(empty))
        crop, coverage = out
        if dof:
            self._group_crop(power, fft_workers, out=crop)
            if density is not None and mapped:
                coverage[...] = coverage_from_edges(
                    density, self.frame_shape[0] - 1, size, self._holes, regions
                )
        return crop, coverage

    def _group_arrays_by_regions(
        self, power: Any, density: Any, dof: int, mapped: bool, out: tuple[Any, Any]
    ) -> None:
        """:meth:`_group_arrays` into ``out`` here (CPU), the regions shared among
        the workers when there are several of each (a region's arrays are its own:
        the same bits however they are shared), in tasks of at most
        :data:`GROUP_TASK_PIXELS` pixels of regions (one region at least)."""
        workers, regions = int(self.backend.workers or 1), self.n_regions
        if workers == 1 or regions == 1 or not dof:
            self._group_arrays(power, density, dof, mapped, out=out)
            return
        fitting = max(1, GROUP_TASK_PIXELS // (self.frame_shape[0] * self.frame_shape[1]))
        per_task = min(fitting, -(-regions // workers))

        def share(first: int) -> None:
            part = slice(first, first + per_task)
            part_density = None if density is None else density[part]
            part_out = (out[0][part], out[1][part])
            held = range(first, min(first + per_task, regions))
            self._group_arrays(power[part], part_density, dof, mapped, part_out, 1, held)

        list(self._worker_pool().map(share, range(0, regions, per_task)))

    def _crop_on_worker(
        self, power: Any, density: Any, dof: int, mapped: bool, out: tuple[Any, Any]
    ) -> None:
        """:meth:`_group_arrays` into the group's slots, on a worker; the group's
        arrays then zeroed for a later group."""
        self._group_arrays(power, density, dof, mapped, out=out, fft_workers=1)
        power.fill(0.0)
        self._spare_power.append(power)
        if mapped:
            density.fill(0.0)
            self._spare_density.append(density)

    def _close_group(self, last_frame: int) -> None:
        """Crop the finished group's autocorrelation and coverage into its slots of
        the store: on a worker while the blocks go to the workers (the group's
        arrays go with it; the next group takes arrays a worker has zeroed, or new
        ones), else here; on the GPU into device arrays copied in batches."""
        slots = self._store.claim(
            self._group_start(last_frame),
            self._group_n,
            self._group_dof,
            self._group_tally,
            self._group_level,
        )
        self._group_tally = ClipTally.nothing(self.n_regions, self.backend.xp)
        self._group_level = self._no_level()
        if not self.backend.cuda:
            self._store_bins(len(self._store) - 1)
        group = (self._group_power, self._group_density, self._group_dof, self._group_mapped)
        if not self.backend.cuda and self._blocks_on_workers and self._pool is not None:
            large = self._group_power.nbytes >= GROUP_WAIT_BYTES
            if large and not self._spare_power and self._pending_groups:
                self._pending_groups[-1].result()  # its arrays come back: no new ones
            self._pending_groups.append(self._pool.submit(self._crop_on_worker, *group, slots))
            self._group_power = self._zeros(self._spare_power, self._group_power, zeroed=True)
            if self._group_mapped:
                self._group_density = self._zeros(
                    self._spare_density, self._group_density, zeroed=True
                )
        else:
            if self.backend.cuda:  # one copy to the host per batch of groups
                self._pending_groups.append((slots, self._group_arrays(*group)))
                if len(self._pending_groups) >= PENDING_GROUPS:
                    self._copy_device_groups()
            else:
                self._group_arrays_by_regions(*group, out=slots)
            self._group_power[...] = 0
            if self._group_mapped:
                self._group_density[...] = 0
        self._group_mapped = False
        self._group_n = self._group_dof = 0

    def _store_bins(self, index: int) -> None:
        """The level bins of the stored group ``index`` (host), made of its moments
        here as it closes: a small product per group, on this thread (a worker's first
        product would make the BLAS library map a buffer of its own for it)."""
        moments, spread = self._store.levels[index]
        self._store.bins[index] = level_bins(moments, spread[..., 2], self._level_transforms)

    def _copy_device_groups(self) -> None:
        """Copy the GPU's pending crops to their slots (one copy for all of them)."""
        if not self._pending_groups:
            return
        xp = self.backend.xp
        slots, arrays = zip(*self._pending_groups, strict=True)
        crops = self.backend.to_numpy(xp.stack([crop for crop, _ in arrays]))
        coverages = self.backend.to_numpy(xp.stack([coverage for _, coverage in arrays]))
        for (crop_slot, coverage_slot), crop, coverage in zip(slots, crops, coverages, strict=True):
            crop_slot[...] = crop
            coverage_slot[...] = coverage
        self._pending_groups = []

    def _store_groups(self) -> None:
        """Wait until every closed group is in the store."""
        if self.backend.cuda:
            self._copy_device_groups()
            return
        for task in self._pending_groups:
            task.result()
        self._pending_groups = []

    def sums(self) -> BlockSums:
        """The :class:`BlockSums` of the frames added so far.

        An unfinished block or group is included as it stands (without changing
        the accumulator: more frames may follow).
        """
        if self._regions is not None:
            raise ValueError(f"{self.name}: this accumulator sums regions; use region_sums()")
        return self.region_sums()[0]

    def region_sums(self) -> list[BlockSums]:
        """:meth:`sums` of each region, in the order given (one for whole frames).

        The stored groups come as views (no copy); an open group is worked out on
        the side and joined to them.
        """
        self._add_closed_blocks()
        self._store_groups()
        extra: list[tuple[int, int, int, Any, Any, ClipTally, tuple]] = []  # open groups
        last = self.first_frame + self.n_frames - 1
        open_block = self._block
        block_n = 0 if open_block is None else open_block.received
        block_kept = 0 if open_block is None else open_block.kept
        block_power, block_density, block_level = self._open_block_terms()
        block_tally = self._open_block_tally()
        mapped = self._group_mapped
        open_n = self._group_n + block_n
        if open_n:
            block_first = last + 1 - block_n
            same_group = self._group_start(block_first) == self._group_start(block_first - 1)
            if self._group_n and not same_group:  # the open block starts a new group
                arrays = self._group_arrays(
                    self._group_power, self._group_density, self._group_dof, mapped
                )
                first = self._group_start(block_first - 1)
                extra.append(
                    (first, self._group_n, self._group_dof, *arrays, self._group_tally,
                     self._group_level)
                )  # fmt: skip
                power, density, n_frames, dof = None, None, block_n, 0
                tally, level = block_tally, block_level
                mapped = False
            else:
                power, density = self._group_power, self._group_density
                n_frames, dof = open_n, self._group_dof
                tally = self._group_tally.plus(block_tally)
                level = tuple(a + b for a, b in zip(self._group_level, block_level, strict=True))
            if block_power is not None:
                power = block_power if power is None else power + block_power
                if block_density is not None:
                    density = block_density if density is None else density + block_density
                    mapped = True
                dof += block_kept - TREND_TERMS
            if n_frames:
                arrays = self._group_arrays(power, density, dof, mapped)
                extra.append((self._group_start(last), n_frames, dof, *arrays, tally, level))
        store = self._store
        first_frames, counts, dofs = store.first_frames, store.n_frames, store.dof
        tallies, levels, known_bins = store.tallies, store.levels, store.bins
        crops, coverages = store.arrays()
        if extra:
            xp = self.backend.xp
            first_frames = first_frames + [part[0] for part in extra]
            counts = counts + [part[1] for part in extra]
            dofs = dofs + [part[2] for part in extra]
            tallies = tallies + [part[5] for part in extra]
            levels = levels + [part[6] for part in extra]
            known_bins = known_bins + [None] * len(extra)
            extra_crops = self.backend.to_numpy(xp.stack([part[3] for part in extra]))
            extra_coverages = self.backend.to_numpy(xp.stack([part[4] for part in extra]))
            crops = np.concatenate([crops, extra_crops])
            coverages = np.concatenate([coverages, extra_coverages])
        clipping, level_bins, level_spread = self._group_scalars(tallies, levels, known_bins)
        dropped = np.array([self._dropped.get(first, 0) for first in first_frames], np.int64)
        return [
            BlockSums(
                frame_shape=self.frame_shape,
                block_frames=self.block_frames,
                group_frames=self.group_frames,
                first_frames=np.array(first_frames, np.int64),
                n_frames=np.array(counts, np.int64),
                dof=np.array(dofs, np.int64),
                ac_sums=crops[:, region],
                coverage_sums=coverages[:, region],
                **{name: values[:, region] for name, values in clipping.items()},
                dropped_frames=dropped,
                level_bins=level_bins[:, region],
                level_spread=level_spread[:, region],
                fiducials=self._fiducial_counts[region][0],
                masked_pixels=self._fiducial_counts[region][1],
            )
            for region in range(self.n_regions)
        ]

    def _group_scalars(
        self,
        tallies: list[ClipTally],
        levels: list[tuple[Any, Any]],
        known_bins: list[np.ndarray | None],
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """The groups' :data:`CLIPPING_ARRAYS`, each ``(groups, regions)``, and their
        ``(level bins, level spread)``, ``(groups, regions, ...)``, on the host: from
        the GPU in one copy, the bins made of the groups' level moments at once
        (:func:`level_bins`); on the host the bins made as the groups closed
        (``known_bins``, None for a group still open)."""
        regions, xp = self.n_regions, self.backend.xp
        moments, spread = self._no_level()
        moments_size, spread_size = moments[0].size, spread[0].size
        searched = np.array([tally.searched for tally in tallies], np.int64)
        counts = ("ceiling_counts", "floor_counts", "above_floor_counts")
        if not self.backend.cuda:
            arrays = {
                name: np.array([tally[index] for tally in tallies]).astype(
                    np.int64 if name in counts else np.float64
                ).reshape(len(tallies), regions)
                for index, name in enumerate(CLIPPING_ARRAYS[:5])
            }
            arrays["searched_values"] = np.repeat(searched[:, None], regions, axis=1)
            group_spread = np.array([part for _, part in levels])
            group_spread = group_spread.reshape(len(levels), *spread.shape)
            missing = [index for index, bins in enumerate(known_bins) if bins is None]
            bins = list(known_bins)
            if missing:
                made = level_bins(
                    np.stack([levels[index][0] for index in missing]),
                    group_spread[missing, ..., 2],
                    self._level_transforms,
                )
                for index, part in zip(missing, made, strict=True):
                    bins[index] = part
            if not bins:
                shape = (0, regions, 4, self._level_rows, self._level_columns)
                return arrays, np.zeros(shape, np.complex128), group_spread
            return arrays, np.stack(bins), group_spread
        if tallies:
            rows = []
            for tally, (group_moments, group_spread) in zip(tallies, levels, strict=True):
                parts = [xp.stack([xp.asarray(part, np.float64) for part in tally[:5]]).T]
                parts.append(group_moments.reshape(regions, -1).view(np.float64))
                parts.append(group_spread.reshape(regions, -1))
                rows.append(xp.concatenate(parts, axis=1))
            table = self.backend.to_numpy(xp.stack(rows))  # (groups, regions, columns)
        else:
            table = np.zeros((0, regions, 5 + 2 * moments_size + spread_size))
        arrays = {
            name: table[:, :, index].astype(np.int64 if name in counts else np.float64)
            for index, name in enumerate(CLIPPING_ARRAYS[:5])
        }
        arrays["searched_values"] = np.repeat(searched[:, None], regions, axis=1)
        groups = len(table)
        group_moments = np.ascontiguousarray(table[:, :, 5 : 5 + 2 * moments_size])
        group_moments = group_moments.view(np.complex128).reshape(groups, *moments.shape)
        group_spread = table[:, :, 5 + 2 * moments_size :].reshape(groups, *spread.shape)
        bins = level_bins(group_moments, group_spread[..., 2], self._level_transforms)
        return arrays, bins, group_spread

    def finish(self) -> list[BlockSums]:
        """Close the last block and group, and return :meth:`region_sums`: views of
        the stored groups (no copy where the expected frames sized the store). No
        frame may be added after.

        Examples
        --------
        >>> movie = np.random.default_rng(2).poisson(80, size=(50, 24, 24))
        >>> accumulator = SpectrumAccumulator((24, 24), block_frames=10, group_frames=20)
        >>> accumulator.add(movie)
        >>> sums = accumulator.finish()[0]
        >>> sums.n_frames.tolist(), sums.dof.tolist()
        ([20, 20, 10], [16, 16, 8])
        >>> bool(np.allclose(sums.ac_sums, accumulate_spectrum(
        ...     movie, block_frames=10, group_frames=20).ac_sums, rtol=0, atol=1e-9))
        True
        """
        if not self._finished:
            block, self._block = self._block, None
            if block is not None:  # a shorter last block: its worker task is not the last
                if block.task is not None:
                    block.task.result()
                    block.task = None
                self._closed.append((block, self._finish_block(block, on_worker=False)))
            self._add_closed_blocks()
            if self._group_n:
                self._close_group(self.first_frame + self.n_frames - 1)
            self._finished = True
        return self.region_sums()

    def _open_block_terms(self) -> tuple[Any, Any, tuple[Any, Any]]:
        """The open block's fluctuation power, blinking-map edges and ``(level moments,
        level spread)`` (None, None and zeros when it has fewer than
        :data:`MIN_BLOCK_FRAMES` frames), waiting frames included; worked on a copy,
        so the accumulator is left as it was (more frames may complete the block)."""
        block = self._block
        if block is None or block.kept < MIN_BLOCK_FRAMES:
            return None, None, self._no_level()
        if block.task is not None:
            block.task.result()
        copy = _OpenBlock(block.first_frame, block.reference, block.map_block, None)
        if block.used:
            copy.sums = _OpenSums(*(part.copy() for part in block.sums))
            copy.used = True
        copy.received, copy.processed = block.received, block.processed
        copy.dropped, copy.offsets = block.dropped, block.offsets
        copy.waiting, copy.waiting_n = list(block.waiting), block.waiting_n
        if block.window is not None:
            copy.window, copy.times = block.window.copy(), block.times.copy()
        self._process_waiting(copy, on_worker=False)
        return self._block_terms(copy)

    def _open_block_tally(self) -> ClipTally:
        """The open block's :class:`ClipTally`, waiting frames included (worked on a
        copy, as :meth:`_open_block_terms`)."""
        block = self._block
        if block is None or block.clipping is None:
            return ClipTally.nothing(self.n_regions, self.backend.xp)
        if block.task is not None:
            block.task.result()
        clipping = block.clipping.copy()
        for frames in block.waiting:
            clipping.add(frames)
        return clipping.tally(self.backend.xp, self.n_regions)

    def release_buffer(self) -> None:
        """Free the buffers and worker threads kept between :meth:`add` calls.

        The sums stay; a later :meth:`add` sets them up again.
        """
        self._buffer = None
        self._local = threading.local()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def accumulate_spectrum(
    stack: Any,
    *,
    start: int = 0,
    stop: int | None = None,
    chunk_frames: int | None = None,
    block_frames: int | None = None,
    group_frames: int | None = None,
    time_windows: int = 1,
    cuda: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    name: str = "channel 0",
    kept_crop: Any = None,
    fiducials: bool = True,
) -> BlockSums:
    """Stream frames ``start..stop`` of a stack into :class:`BlockSums`.

    The next chunk is read in a background thread while the current one is
    transformed, so file reading and FFTs overlap. Memory does not grow with the
    number of frames: at most two chunks are held at once.

    Parameters
    ----------
    stack : array-like
        ``(n_frames, height, width)`` stack supporting frame slicing: ndarray,
        memmap or :class:`smlmlp.loading.TiffMovie`.
    start, stop : int, optional
        Frame range (``stop=None``: to the end). Ranges cut at multiples of
        ``block_frames`` merge (:func:`merge_sums`) into the sums of one pass.
    chunk_frames : int, optional
        Frames per chunk at most; by default :func:`default_chunk_frames` (callers
        size it from the free memory with :func:`smlmlp.computer.chunk_frames`).
        Rounded down to whole batches of :attr:`SpectrumAccumulator.batch_frames`
        where it holds one, the chunks then cut on the batches.
    block_frames, group_frames : int, optional
        By default :func:`plan_blocks` of the whole stack's frame count.
    time_windows : int, optional
        Windows of frames the PSF will be estimated in
        (:func:`smlmlp.time_windows.estimate_time_windows`): shorter groups, so
        that each window holds 20 or more (ignored with ``group_frames``).
    cuda : bool, optional
        FFTs on the GPU (CuPy).
    workers : int, optional
        Number of CPU FFT workers (default 1).
    progress : callable, optional
        Called as ``progress(frames_done, frames_total)`` after each chunk.
    name : str, optional
        Channel name used in error messages.
    kept_crop : int, optional
        The largest crop the sums will be asked for (:func:`stored_crop`); by
        default the largest the frames allow.
    fiducials : bool, optional
        Look for fiducial markers (bright points that never blink, such as beads)
        in frames sampled over the whole stack, and leave their pixels out
        (:mod:`smlmlp.fiducials`; every range of a movie leaves out the same).

    Returns
    -------
    BlockSums

    Examples
    --------
    >>> movie = np.random.default_rng(1).poisson(50, size=(30, 16, 16))
    >>> accumulate_spectrum(movie, chunk_frames=7).total_frames
    30
    """
    full = (slice(0, int(stack.shape[1])), slice(0, int(stack.shape[2])))
    return accumulate_regions(
        stack,
        [full],
        start=start,
        stop=stop,
        chunk_frames=chunk_frames,
        block_frames=block_frames,
        group_frames=group_frames,
        time_windows=time_windows,
        cuda=cuda,
        workers=workers,
        progress=progress,
        name=name,
        kept_crop=kept_crop,
        fiducials=fiducials,
    )[0]


def accumulate_regions(
    stack: Any,
    regions: list[tuple[slice, slice]],
    *,
    start: int = 0,
    stop: int | None = None,
    chunk_frames: int | None = None,
    block_frames: int | None = None,
    group_frames: int | None = None,
    time_windows: int = 1,
    cuda: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    name: str = "channel 0",
    kept_crop: Any = None,
    fiducials: bool = True,
) -> list[BlockSums]:
    """:func:`accumulate_spectrum` of several rectangles of the frames, in one pass.

    ``regions`` are ``(rows, columns)`` slices of one shape (tiles of the field,
    :mod:`smlmlp.field_tiles`); each gets its own :class:`BlockSums`, with the
    same blocks and groups. The chunks are read once, and the regions of each
    frame go side by side through every pass (one FFT call, one sum per pass for
    all of them), so small tiles cost about what the frame they cut costs.
    """
    n_total = int(stack.shape[0])
    stop = n_total if stop is None else int(stop)
    if not 0 <= int(start) <= stop <= n_total:
        raise ValueError(f"{name}: invalid frame range {start}..{stop} of {n_total} frames")
    planned_block, planned_group = plan_blocks(n_total, time_windows)
    block_frames = planned_block if block_frames is None else int(block_frames)
    if group_frames is None:
        group_frames = planned_group if block_frames == planned_block else block_frames
    if chunk_frames is None:
        chunk_frames = default_chunk_frames((int(stack.shape[1]), int(stack.shape[2])))
    if int(chunk_frames) < 1:
        raise ValueError(f"chunk_frames must be at least 1, got {chunk_frames}")
    chunk_frames = int(chunk_frames)
    accumulator = SpectrumAccumulator(
        (int(stack.shape[1]), int(stack.shape[2])),
        block_frames=block_frames,
        group_frames=group_frames,
        first_frame=int(start),
        cuda=cuda,
        workers=workers,
        name=name,
        regions=regions,
        expected_frames=stop - int(start),
        kept_crop=kept_crop,
        fiducials=movie_fiducials(stack) if fiducials else None,
    )
    from .prefetch import prefetch_chunks

    # chunks on the accumulator's batches where they hold one: no frame waits for another
    batch = accumulator.batch_frames
    if chunk_frames >= batch:
        chunk_frames -= chunk_frames % batch
    first = int(start) - int(start) % batch if chunk_frames % batch == 0 else int(start)
    bounds = [(max(a, int(start)), min(a + chunk_frames, stop))
              for a in range(first, stop, chunk_frames)]  # fmt: skip
    try:
        with single_threaded_blas():  # the pass's workers have the cores
            for chunk in prefetch_chunks(stack, bounds):
                accumulator.add(chunk)
                del chunk
                if progress is not None:
                    progress(accumulator.n_frames, stop - int(start))
            sums = accumulator.finish()
    finally:
        accumulator.release_buffer()
    return sums
