"""Streaming temporal covariance of background-subtracted movies.

The blinking of the emitters shows in the temporal correlation of the pixel
values. What :func:`smlmlp.blink_temporal_on` needs from a movie is, for lags
``l = 0 .. L``, the sum over pixels ``p`` and frame pairs of

    y_p(t + l) * z_p(t),    y_p(t) = b_p(t) - mean_t b_p(t),

with ``b_t = (1 - G)^2 * x_t`` the frame high-passed twice by its smooth spatial
background (a Gaussian filter ``G``: ``x - G*x``, then the same again) and ``z_p``
the sum of ``y`` over the four nearest neighbours of ``p`` (see Pixel pairs),
optionally summed over ``k x k`` pixel bins. This module accumulates these sums
with memory that does not grow with the number of frames.

Pixel pairs
-----------
Every product is of two different pixels, never of a pixel with itself. What
is independent from pixel to pixel then adds nothing to the sums, whatever its
time course: the shot and read noise (so the zero lag holds no white-noise
spike), the random telegraph noise of single sCMOS pixels, and the pattern of
the pixels' gains multiplied by a background that changes in time (an sCMOS
pixel 3 % more sensitive than its neighbours turns out-of-focus haze into a
slow flicker of its own, which the smooth filter cannot remove). The blinking
of an emitter lights neighbouring pixels together, so it keeps most of its
signal: the products are those of the pixels' own series weighted by the
spatial covariance at one pixel (about 80 to 95 % of that at zero for PSF
sigmas of 1.3 to 2 pixels), and :func:`pair_gain` divides that out. Without
bins, ``z_p`` is the sum over the four neighbours (zero outside the frame);
with ``k x k`` bins, the pixels of each bin are split as on a checkerboard and
the sum over its "black" pixels is paired with the sum over its "white" ones.

Background filter
-----------------
A smooth background that fluctuates slowly in time (out-of-focus haze) adds its
own slow decay to the curve. One subtraction of ``G*x`` leaves of a background of
spatial scale ``L`` about ``(w/L)^2 / 2`` (``w`` the filter width), the second
about the square of that. For the 3-sigma filter of a 200 nm PSF on 100 nm
pixels and haze of 16-pixel scale that is 7 % of the haze's fluctuations, then
0.5 %. The blinking keeps most of its signal: for a Gaussian PSF the lag sums of
the twice-filtered movie are 88 % of those of the once-filtered one (filter 3
PSF sigmas wide). Linear, like the single subtraction, so the decay's shape is
unchanged (see Binning).

Method
------
Two passes over the movie:

1. The per-pixel temporal mean of the raw frames is summed (float64). The
   background subtraction and the binning are linear, so the temporal mean of
   ``b`` is the same operation applied to the mean frame: the fluctuations
   ``y`` and ``z`` of the second pass are exactly centred, with no correction
   terms and no cancellation. This pass also rejects NaN or infinite pixels and constant
   stacks. It only sums frames; a file is read twice.
2. Frames are background-subtracted, paired (and binned), centred and
   collected into two buffers of ``L + B`` frames, one of ``y`` and one of ``z``
   (pixels along the first axis, time along the second). Each block of ``B``
   new frames of ``y`` is correlated with the same frames of ``z`` and the ``L``
   before them (kept from the previous block) by zero-padded real FFTs along
   time, of length ``n >= B + L`` so that no circular term reaches a
   lag ``<= L``. The cross spectra are summed over pixels in the frequency
   domain (in batches of pixels, to bound the temporaries) and one inverse FFT
   per block gives its contribution to the lag sums, kept in float64. Every
   frame pair ``(t - l, t)`` is counted exactly once, in the block holding
   ``t``.

Memory is the buffers (``16 (L + B)`` bytes per binned pixel), one read chunk
and the FFT temporaries of one pixel batch; :func:`plan_memory` sizes them from
a budget (:mod:`smlmlp.computer`).

Binning
-------
When ``L`` is so large that buffers of ``L + max(L, 64)`` frames of the full
frame do not fit half of the budget, pixels are summed over ``k x k`` bins
(after the background subtraction; partial bins at the right and bottom edges),
with the smallest ``k`` that fits. Binning does not change the shape of the
decay: every term of the sums is the covariance of pixels lit by the same
blinking emitters, whose time dependence is that emitter's blinking whatever
the pixel pair. It changes the amplitude (the pairs of a bin instead of
neighbours), which :func:`pair_gain` accounts for. The sums stay normalised per
original pixel.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft
import scipy.optimize

from .backend import Backend, get_backend
from .block_sums import CONSTANT_STACK
from .computer import MAX_CHUNK_FRAMES
from .fiducials import movie_fiducials
from .prefetch import chunk_bounds, prefetch_chunks

ProgressCallback = Callable[[int, int], None]

#: Gaussian filter truncation, in standard deviations (the scipy default).
FILTER_TRUNCATE = 4.0
#: How the filter extends a frame beyond its edges: by the nearest pixel. A smooth
#: background then leaves less at the edges than with a mirrored frame (docs/accuracy.md,
#: artifacts, "haze, dim and wide PSF" at 60 photons/px: the on-time +5.2 % long
#: instead of +8.8 %).
FILTER_EDGES = "nearest"
#: Times the smooth background is subtracted: ``(1 - G)^FILTER_ORDER`` (see Background
#: filter in the module notes).
FILTER_ORDER = 2
#: Smallest FFT block the automatic binning aims for.
MIN_BLOCK_FRAMES = 64
#: Bytes per pixel of one read chunk: the raw frame (up to 8) and five float64 images
#: (the copy, the two filter passes, the difference, the neighbours' sums); with
#: float32 values, 28.
READ_BYTES_PER_PIXEL = 48
#: Series held per binned pixel: the pixel's own and its partners' (see Pixel pairs).
SERIES_PER_PIXEL = 2
#: Bytes per (binned pixel, FFT frequency) of one pixel batch: two complex128 spectra
#: and their inputs; with float32 values, half.
FFT_BYTES_PER_BIN = 48


def working_dtype(cuda: bool) -> type:
    """Data type of the frames, series and FFTs of a pass.

    float64 on the CPU; float32 on the GPU, where float64 runs 10 to 30 times
    slower on consumer cards. The lag sums are accumulated in float64 either way
    (the cross spectra are summed over pixels in complex128), so the rounding of
    float32 stays at the level of single terms: on simulated movies, with and
    without a camera offset of 30 000 ADU, the float32 curve equals the float64
    one within 1e-5 of its zero lag and the on-time within 1e-4 relative
    (``tests/test_gpu_paths.py`` checks both).

    Examples
    --------
    >>> working_dtype(False).__name__, working_dtype(True).__name__
    ('float64', 'float32')
    """
    return np.float32 if cuda else np.float64


# ---------------------------------------------------------------------------- memory
#: Working memory of a pass when the caller gives none (no machine probe here).
DEFAULT_BUDGET_BYTES = 256 * 2**20


def binned_shape(frame_shape: tuple[int, int], bin_pixels: int) -> tuple[int, int]:
    """Shape of frames summed over ``bin_pixels x bin_pixels`` bins (partial edge bins).

    Examples
    --------
    >>> binned_shape((128, 130), 3)
    (43, 44)
    """
    k = int(bin_pixels)
    return (-(-int(frame_shape[0]) // k), -(-int(frame_shape[1]) // k))


@dataclass(frozen=True)
class TemporalPlan:
    """How one movie is streamed: binning, read chunk, FFT block and pixel batch.

    Attributes
    ----------
    bin_pixels : int
        Side of the square pixel bins (1: no binning).
    read_frames : int
        Frames read and background-subtracted at once.
    block_frames : int
        New frames per FFT block ``B``.
    n_fft : int
        FFT length along time, at least ``block_frames + max_lag``.
    pixel_batch : int
        Binned pixels transformed at once.
    """

    bin_pixels: int
    read_frames: int
    block_frames: int
    n_fft: int
    pixel_batch: int

    def buffer_bytes(self, frame_shape: tuple[int, int], max_lag: int, value_bytes: int = 8) -> int:
        """Bytes of the two time buffers (pixels, partners) of ``max_lag + block_frames``
        binned frames."""
        height, width = binned_shape(frame_shape, self.bin_pixels)
        frames = max_lag + self.block_frames
        return SERIES_PER_PIXEL * int(value_bytes) * height * width * frames


def plan_memory(
    frame_shape: tuple[int, int],
    n_frames: int,
    max_lag: int,
    *,
    cuda: bool = False,
    memory_bytes: int | None = None,
    bin_pixels: int | None = None,
    chunk_frames: int | None = None,
    block_frames: int | None = None,
) -> TemporalPlan:
    """Choose binning, read chunk, FFT block and pixel batch for a memory budget.

    Half of the budget goes to the two time buffers (the pixels' series and their
    partners', :data:`SERIES_PER_PIXEL`) of ``max_lag + block_frames`` binned
    frames, a quarter to a read chunk, a quarter to the FFT temporaries.

    Parameters
    ----------
    frame_shape : tuple of int
        ``(height, width)`` of the frames.
    n_frames : int
        Frames of the movie.
    max_lag : int
        Largest lag ``L`` in frames.
    cuda : bool, optional
        Size for the GPU's pass (float32 values, :func:`working_dtype`).
    memory_bytes : int, optional
        Budget; by default :data:`DEFAULT_BUDGET_BYTES` (the entry points pass
        what :func:`smlmlp.computer.default_budget_bytes` finds free).
    bin_pixels : int, optional
        Bin side; by default the smallest for which a block of at least
        ``max(max_lag, 64)`` new frames (or the whole movie) fits.
    chunk_frames : int, optional
        Frames read at once; by default from the budget (at most 512).
    block_frames : int, optional
        New frames per FFT block; by default as many as the budget allows.

    Returns
    -------
    TemporalPlan

    Notes
    -----
    The working memory stays within the budget, except when ``bin_pixels`` is
    given and ``max_lag`` plus a block of ``min(n_frames, 64)`` frames does not
    fit, or when not even one bin of the whole frame fits (``max_lag`` above
    about budget / 64 bytes: 1.5 million lags for 96 MiB); the block is then
    ``min(n_frames, 64)`` frames and the buffer exceeds the budget.

    Examples
    --------
    >>> plan = plan_memory((128, 128), 2000, 999, memory_bytes=96 * 2**20)
    >>> plan.bin_pixels, plan.block_frames
    (4, 2000)
    >>> plan_memory((64, 64), 500, 20, memory_bytes=96 * 2**20).bin_pixels
    1
    """
    height, width = (int(v) for v in frame_shape)
    n_frames, max_lag = int(n_frames), int(max_lag)
    value = np.dtype(working_dtype(cuda)).itemsize  # 8 bytes, or 4 on the GPU
    held = SERIES_PER_PIXEL * value  # bytes per binned pixel and frame in the buffers
    budget = int(DEFAULT_BUDGET_BYTES if memory_bytes is None else memory_bytes)
    if budget < 1:
        raise ValueError(f"memory_bytes must be positive, got {memory_bytes}")
    buffer_budget = budget // 2
    if bin_pixels is None:
        target = block_frames or min(n_frames, max(max_lag, MIN_BLOCK_FRAMES))
        largest = max(height, width)
        bin_pixels = largest
        for k in range(1, largest + 1):
            bins = math.prod(binned_shape((height, width), k))
            if held * bins * (max_lag + target) <= buffer_budget:
                bin_pixels = k
                break
    bins = math.prod(binned_shape((height, width), bin_pixels))
    if block_frames is None:
        fitting = buffer_budget // (held * bins) - max_lag
        block_frames = max(min(n_frames, MIN_BLOCK_FRAMES), min(n_frames, fitting))
    block_frames = max(1, int(block_frames))
    if chunk_frames is None:
        read_bytes = 8 + (READ_BYTES_PER_PIXEL - 8) * value // 8
        fitting = (budget // 4) // (read_bytes * height * width)
        chunk_frames = min(MAX_CHUNK_FRAMES, fitting)
    chunk_frames = max(1, int(chunk_frames))
    n_fft = scipy.fft.next_fast_len(block_frames + max_lag, real=True)
    fft_bytes = FFT_BYTES_PER_BIN * value // 8
    pixel_batch = max(1, (budget // 4) // (fft_bytes * (n_fft // 2 + 1)))
    return TemporalPlan(
        bin_pixels=int(bin_pixels),
        read_frames=chunk_frames,
        block_frames=block_frames,
        n_fft=int(n_fft),
        pixel_batch=int(min(pixel_batch, bins)),
    )


# ------------------------------------------------------------------- frame operations
def _gaussian_filter1d(backend: Backend) -> Callable[..., Any]:
    if backend.cuda:
        import cupyx.scipy.ndimage

        return cupyx.scipy.ndimage.gaussian_filter1d
    import scipy.ndimage

    return scipy.ndimage.gaussian_filter1d


def subtract_background(
    frames: Any,
    sigma_px: tuple[float, float],
    backend: Backend | None = None,
    dtype: Any = np.float64,
) -> Any:
    """Frames high-passed by their smooth spatial background, :data:`FILTER_ORDER` times.

    Each time, the frames minus their Gaussian-filtered copy: ``(1 - G)^2 * x``
    (module notes, Background filter).

    Parameters
    ----------
    frames : ndarray
        ``(n, height, width)`` frames, on the host or on the backend's device
        (cast there to ``dtype``).
    sigma_px : tuple of float
        Filter standard deviation ``(y, x)`` in pixels; the frame extended beyond
        its edges by its edge pixels (:data:`FILTER_EDGES`),
        truncated at 4 standard deviations.
    backend : Backend, optional
        NumPy/SciPy (default) or CuPy.
    dtype : data type, optional
        float64 (default) or float32.

    Returns
    -------
    ndarray
        Frames of the same shape, of ``dtype``.

    Examples
    --------
    >>> flat = np.full((2, 16, 16), 7.0)
    >>> float(np.abs(subtract_background(flat, (3.0, 3.0))).max()) < 1e-12
    True

    A background curved along y (once high-passed, a constant; twice, nothing)
    away from the edges:

    >>> curved = np.broadcast_to((np.arange(64.0) ** 2)[:, None], (1, 64, 64))
    >>> inside = subtract_background(curved, (2.0, 2.0))[0, 20:44, 20:44]
    >>> float(np.abs(inside).max()) < 1e-9
    True
    """
    backend = backend or get_backend()
    values = backend.asarray(frames).astype(dtype, copy=False)
    filter1d = _gaussian_filter1d(backend)
    for _ in range(FILTER_ORDER):
        smooth = values
        for axis, sigma in ((1, sigma_px[0]), (2, sigma_px[1])):
            smooth = filter1d(
                smooth, float(sigma), axis=axis, mode=FILTER_EDGES, truncate=FILTER_TRUNCATE
            )
        values = backend.xp.subtract(values, smooth, out=smooth)  # a new array each time
    return values


def bin_frames(frames: Any, bin_pixels: int, backend: Backend | None = None) -> Any:
    """Sum ``(n, height, width)`` frames over ``bin_pixels x bin_pixels`` bins.

    Bins at the bottom and right edges hold the pixels that remain.

    Examples
    --------
    >>> bin_frames(np.ones((1, 5, 4)), 2)[0]
    array([[4., 4.],
           [4., 4.],
           [2., 2.]])
    """
    k = int(bin_pixels)
    if k == 1:
        return frames
    xp = (backend or get_backend()).xp
    n, height, width = frames.shape
    rows, columns = binned_shape((height, width), k)
    if rows * k != height or columns * k != width:
        padded = xp.zeros((n, rows * k, columns * k), dtype=frames.dtype)
        padded[:, :height, :width] = frames
        frames = padded
    return frames.reshape(n, rows, k, columns, k).sum(axis=(2, 4))


def pair_series(frames: Any, bin_pixels: int, backend: Backend | None = None) -> tuple[Any, Any]:
    """The series paired in the lag sums: each pixel's and its partners' (module notes,
    Pixel pairs), shape ``(n, binned pixels)`` each.

    Without bins (``bin_pixels == 1``) the partners of a pixel are its four nearest
    neighbours, summed (zero outside the frame). With ``k x k`` bins, the pixels
    whose row plus column is even are summed over each bin, and paired with the sum
    of the others.

    Examples
    --------
    >>> frame = np.arange(9.0).reshape(1, 3, 3)
    >>> own, partners = pair_series(frame, 1)
    >>> partners.reshape(3, 3)
    array([[ 4.,  6.,  6.],
           [10., 16., 14.],
           [10., 18., 12.]])
    >>> own, partners = pair_series(frame, 2)
    >>> own, partners
    (array([[4., 2., 6., 8.]]), array([[4., 5., 7., 0.]]))
    """
    xp = (backend or get_backend()).xp
    k = int(bin_pixels)
    n = int(frames.shape[0])
    if k == 1:
        partners = xp.zeros_like(frames)
        partners[:, 1:] += frames[:, :-1]
        partners[:, :-1] += frames[:, 1:]
        partners[:, :, 1:] += frames[:, :, :-1]
        partners[:, :, :-1] += frames[:, :, 1:]
        return frames.reshape(n, -1), partners.reshape(n, -1)
    height, width = (int(v) for v in frames.shape[1:])
    even = (xp.arange(height)[:, None] + xp.arange(width)[None, :]) % 2 == 0
    own = bin_frames(xp.where(even, frames, 0.0), k, backend)
    partners = bin_frames(frames, k, backend)
    partners -= own
    return own.reshape(n, -1), partners.reshape(n, -1)


def _even_cells(first_row: Any, first_column: Any, rows: Any, columns: Any) -> Any:
    """Cells whose row plus column is even in rectangles of ``rows x columns`` cells
    starting at ``(first_row, first_column)`` (element-wise)."""
    cells = rows * columns
    odd_count = cells % 2
    starts_even = (first_row + first_column) % 2 == 0
    return (cells + np.where(starts_even, odd_count, -odd_count)) // 2


def _pair_counts(bin_shape: tuple[int, int], reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets ``(dy, dx)`` (each ``|d| <= reach``) and how many ordered pixel pairs
    of one bin of ``bin_shape`` pair an even pixel with an odd one at that offset."""
    rows, columns = bin_shape
    dy = np.arange(-min(reach, rows - 1), min(reach, rows - 1) + 1)[:, None]
    dx = np.arange(-min(reach, columns - 1), min(reach, columns - 1) + 1)[None, :]
    # even pixels p with p + d inside the bin (their partner is odd when dy + dx is)
    count = _even_cells(
        np.maximum(0, -dy), np.maximum(0, -dx), rows - np.abs(dy), columns - np.abs(dx)
    )
    count = np.where((dy + dx) % 2 == 1, count, 0)
    return (np.broadcast_to(dy, count.shape), np.broadcast_to(dx, count.shape)), count


def pair_gain(
    bin_pixels: int,
    frame_shape: tuple[int, int],
    psf_sigma_px: tuple[float, float],
    filter_sigma_px: tuple[float, float],
) -> float:
    """Lag sums of the paired series (:func:`pair_series`) per original pixel, in
    units of a single pixel's own lag sums.

    The blinking of independent emitters makes the covariance of two pixels ``d``
    apart proportional to the autocorrelation of the high-passed, pixel-integrated
    PSF. For a Gaussian PSF of ``psf_sigma_px`` and the background filter of
    ``filter_sigma_px`` (a Gaussian subtracted :data:`FILTER_ORDER` times) it is,
    in Fourier space, the PSF's power times ``(1 - g)^(2 m)``, ``g`` the filter's
    transfer and ``m`` the order, so in real space
    ``R(d) = sum_j (-1)^j C(2m, j) N(dy; vy + j fy^2) N(dx; vx + j fx^2)`` with
    ``v = 2 s^2 + 1/6`` per axis (the PSF's ``s`` and the pixel's width). The gain
    is ``sum_pairs R(d) / (n_pixels R(0))`` over the pixel pairs the series pair,
    counted exactly for ``frame_shape`` (frame edges and partial bins included).
    Dividing the lag sums by it gives the curve of a single pixel's own products,
    whatever the bins (the tests ask 6 % between bins of 1 to 4 pixels in a
    64-pixel frame, whose filter edges the formula leaves out).

    Examples
    --------
    >>> round(pair_gain(1, (10_000, 10_000), (1.3, 1.3), (3.9, 3.9)), 3)
    3.257
    >>> 1.0 < pair_gain(3, (128, 128), (1.3, 1.3), (3.9, 3.9)) < 4.5
    True
    """
    k = int(bin_pixels)
    height, width = (int(v) for v in frame_shape)
    order = 2 * FILTER_ORDER
    variances = [
        (2.0 * float(sigma) ** 2 + 1.0 / 6.0, float(wide) ** 2)
        for sigma, wide in zip(psf_sigma_px, filter_sigma_px, strict=True)
    ]
    # beyond this reach the covariance is below 1e-12 of its peak
    widest = max(v + order * f for v, f in variances)
    reach = int(math.ceil(8.0 * math.sqrt(widest)))

    def covariance(dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
        total = np.zeros(np.broadcast(dy, dx).shape)
        for steps in range(order + 1):
            weight = (-1.0) ** steps * math.comb(order, steps)
            term = weight * np.ones_like(total)
            for offset, (base, wide) in zip((dy, dx), variances, strict=True):
                variance = base + steps * wide
                term = (
                    term
                    * np.exp(-(offset**2) / (2.0 * variance))
                    / math.sqrt(2.0 * math.pi * variance)
                )
            total += term
        return total

    at_zero = float(covariance(np.zeros(1), np.zeros(1))[0])
    if k == 1:
        # each pixel with its four neighbours, both ways round
        pairs = 2.0 * height * (width - 1) * covariance(np.zeros(1), np.ones(1))[0]
        pairs += 2.0 * (height - 1) * width * covariance(np.ones(1), np.zeros(1))[0]
        return float(pairs / (height * width * at_zero))
    full_rows, last_rows = divmod(height, k)
    full_columns, last_columns = divmod(width, k)
    total = 0.0
    for rows, row_bins in ((k, full_rows), (last_rows, 1 if last_rows else 0)):
        for columns, column_bins in ((k, full_columns), (last_columns, 1 if last_columns else 0)):
            if row_bins * column_bins == 0:
                continue
            (dy, dx), count = _pair_counts((rows, columns), reach)
            total += row_bins * column_bins * float(np.sum(count * covariance(dy, dx)))
    return float(total / (height * width * at_zero))


# ----------------------------------------------------------------------- accumulator
class TemporalAccumulator:
    """Lag sums ``sum_p sum_t y_p(t - l) y_p(t)`` of centred series, streamed in blocks;
    with ``paired``, ``sum_p sum_t z_p(t - l) y_p(t)`` of each series and its partner.

    Parameters
    ----------
    n_pixels : int
        Number of series (binned pixels).
    max_lag : int
        Largest lag ``L``.
    block_frames : int
        New frames per FFT block ``B``.
    backend : Backend, optional
        NumPy/SciPy (default) or CuPy.
    pixel_batch : int, optional
        Series transformed at once (default: all).
    group_frames : int, optional
        Also keep the lag sums per group of this many frames (a pair belongs to
        the group of its later frame), for the jackknife; blocks are cut at the
        group edges.
    dtype : data type, optional
        Of the buffer and the FFTs: float64 (default) or float32
        (:func:`working_dtype`); the lag sums are float64 either way.
    paired : bool, optional
        Each series comes with a partner series (:meth:`add`'s ``partners``), held
        in a second buffer: the sums pair the series at the later frame with the
        partner at the earlier one.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> series = rng.normal(size=(50, 3))          # (frames, pixels)
    >>> accumulator = TemporalAccumulator(3, max_lag=4, block_frames=7)
    >>> for first in range(0, 50, 11):
    ...     accumulator.add(series[first:first + 11])
    >>> sums = accumulator.finish()
    >>> direct = [np.sum(series[: 50 - l] * series[l:]) for l in range(5)]
    >>> bool(np.allclose(sums, direct, rtol=1e-12, atol=1e-12))
    True
    """

    def __init__(
        self,
        n_pixels: int,
        max_lag: int,
        block_frames: int,
        *,
        backend: Backend | None = None,
        pixel_batch: int | None = None,
        group_frames: int | None = None,
        dtype: Any = np.float64,
        paired: bool = False,
    ) -> None:
        self.backend = backend or get_backend()
        self.dtype = np.dtype(dtype)
        self.group_frames = int(group_frames) if group_frames else None
        self.group_sums: dict[int, np.ndarray] = {}
        self._new_first = 0  # frame number of the first frame not yet flushed
        self.n_pixels, self.max_lag = int(n_pixels), int(max_lag)
        self.block_frames = max(1, int(block_frames))
        if self.n_pixels < 1 or self.max_lag < 0:
            raise ValueError(f"need n_pixels >= 1 and max_lag >= 0, got {n_pixels}, {max_lag}")
        self.n_fft = scipy.fft.next_fast_len(self.block_frames + self.max_lag, real=True)
        self.pixel_batch = max(1, int(pixel_batch or self.n_pixels))
        capacity = self.max_lag + self.block_frames
        self._buffer = self.backend.xp.zeros((self.n_pixels, capacity), dtype=self.dtype)
        self._partners = (
            self.backend.xp.zeros((self.n_pixels, capacity), dtype=self.dtype) if paired else None
        )
        self._held = 0  # frames in the buffer
        self._carried = 0  # of which kept from the previous block
        self._lags = self.backend.xp.arange(self.max_lag + 1)
        self._sums = self.backend.xp.zeros(self.max_lag + 1)
        self._group_sums: dict[int, Any] = {}
        self.sums = np.zeros(self.max_lag + 1)
        self.n_frames = 0

    def add(self, frames: Any, partners: Any = None) -> None:
        """Add centred frames of shape ``(n, n_pixels)`` (time first), with their
        partners of the same shape when the accumulator is ``paired``."""
        frames = self.backend.asarray(frames)
        if frames.ndim != 2 or frames.shape[1] != self.n_pixels:
            raise ValueError(
                f"expected frames of shape (n, {self.n_pixels}), got {tuple(frames.shape)}"
            )
        if (partners is None) != (self._partners is None):
            raise ValueError("partners go with a paired accumulator, and only with one")
        if partners is not None:
            partners = self.backend.asarray(partners)
            if partners.shape != frames.shape:
                raise ValueError(
                    f"expected partners of shape {tuple(frames.shape)}, got {tuple(partners.shape)}"
                )
        position = 0
        while position < frames.shape[0]:
            pending = self._held - self._carried
            room = self.block_frames - pending
            if self.group_frames:
                group_end = (self._new_first // self.group_frames + 1) * self.group_frames
                room = min(room, group_end - self._new_first - pending)
            take = min(frames.shape[0] - position, room)
            self._buffer[:, self._held : self._held + take] = frames[position : position + take].T
            if partners is not None:
                new = partners[position : position + take].T
                self._partners[:, self._held : self._held + take] = new
            self._held += take
            position += take
            if take == room:
                self._flush()
        self.n_frames += int(frames.shape[0])

    def _rfft(self, values: Any) -> Any:
        if self.backend.cuda:
            return self.backend.fft.rfft(values, n=self.n_fft, axis=-1)
        return self.backend.fft.rfft(values, n=self.n_fft, axis=-1, workers=self.backend.workers)

    def _flush(self) -> None:
        held, carried = self._held, self._carried
        if held == carried:
            return
        xp = self.backend.xp
        spectrum = xp.zeros(self.n_fft // 2 + 1, dtype=np.complex128)
        earlier = self._buffer if self._partners is None else self._partners
        for first in range(0, self.n_pixels, self.pixel_batch):
            rows = slice(first, first + self.pixel_batch)
            window = self._rfft(earlier[rows, :held])
            block = self._rfft(self._buffer[rows, carried:held])
            xp.conjugate(block, out=block)
            block *= window
            spectrum += block.sum(axis=0, dtype=np.complex128)
            del window, block
        # correlation[m] = sum_k new[k] window[k + m]: lag l sits at m = carried - l;
        # kept on the device until finish() (no copy back per block)
        correlation = self.backend.fft.irfft(spectrum, n=self.n_fft)
        contribution = correlation[(carried - self._lags) % self.n_fft]
        self._sums += contribution
        if self.group_frames:
            group = self._new_first // self.group_frames
            if group in self._group_sums:
                self._group_sums[group] += contribution
            else:
                self._group_sums[group] = contribution
        self._new_first += held - carried
        # keep the last max_lag frames, shifted to the front in non-overlapping pieces
        keep = min(self.max_lag, held)
        shift = held - keep
        if shift:
            for buffer in (self._buffer, self._partners):
                if buffer is None:
                    continue
                for start in range(0, keep, shift):
                    stop = min(start + shift, keep)
                    buffer[:, start:stop] = buffer[:, shift + start : shift + stop]
        self._held = self._carried = keep

    def finish(self) -> np.ndarray:
        """Flush the last block and return the lag sums, float64 ``(max_lag + 1,)``."""
        self._flush()
        self.sums = self.backend.to_numpy(self._sums).astype(np.float64)
        if self._group_sums:
            keys = sorted(self._group_sums)
            stacked = self.backend.xp.stack([self._group_sums[key] for key in keys])
            self.group_sums = dict(zip(keys, self.backend.to_numpy(stacked), strict=True))
        return self.sums.copy()

    def groups(self) -> tuple[np.ndarray, np.ndarray]:
        """``(first frames, lag sums (groups, max_lag + 1))`` of the groups (after
        :meth:`finish`); empty without ``group_frames``."""
        keys = sorted(self.group_sums)
        first = np.array([key * (self.group_frames or 0) for key in keys], dtype=np.int64)
        sums = np.zeros((len(keys), self.max_lag + 1))
        for row, key in enumerate(keys):
            sums[row] = self.group_sums[key]
        return first, sums


# ------------------------------------------------------------------------- streaming
@dataclass
class TemporalAutocovariance:
    """Lag sums of one movie and what normalises them.

    Attributes
    ----------
    sums : ndarray
        ``sum_p sum_t y_p(t + l) z_p(t)`` for ``l = 0 .. max_lag`` (float64): each
        pixel (or bin) with its partners (module notes, Pixel pairs).
    n_frames : int
        Frames of the movie.
    n_pixels : int
        Pixels of one original (unbinned) frame.
    bin_pixels : int
        Bin side used.
    group_first : ndarray of int, optional
        First frame of each group of frames (see ``group_sums``).
    group_sums : ndarray, optional
        ``(groups, max_lag + 1)``: the lag sums of the pairs whose later frame is
        in each group; they add up to ``sums``.
    """

    sums: np.ndarray
    n_frames: int
    n_pixels: int
    bin_pixels: int
    group_first: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    group_sums: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def max_lag(self) -> int:
        """Largest lag in frames."""
        return len(self.sums) - 1

    @property
    def n_groups(self) -> int:
        """Groups of frames kept apart (0: none)."""
        return int(len(self.group_first))

    def autocovariance(self, leave_out: int | None = None) -> np.ndarray:
        """Mean lag sums per original pixel at lags ``0 .. max_lag`` (ADU^2).

        Each lag ``l`` is divided by its ``n_frames - l`` frame pairs and by the
        number of original pixels (divided by :func:`pair_gain` too, they are the
        autocovariance of a single pixel's blinking). ``leave_out`` drops the pairs
        whose later frame is in that group (a jackknife replicate).
        """
        lags = np.arange(self.max_lag + 1)
        sums, pairs = self.sums, (self.n_frames - lags).astype(np.float64)
        if leave_out is not None:
            first = int(self.group_first[leave_out])
            following = self.group_first[self.group_first > first]
            stop = int(following.min()) if len(following) else self.n_frames
            sums = sums - self.group_sums[leave_out]
            pairs = pairs - np.maximum(0, stop - np.maximum(first, lags))
        return sums / (self.n_pixels * pairs)


def temporal_mean(
    stack: Any,
    chunk_frames: int,
    *,
    backend: Backend | None = None,
    progress: ProgressCallback | None = None,
    name: str = "channel 0",
) -> Any:
    """Per-pixel temporal mean of a stack (float64, on the backend's device), checking
    its values.

    On the GPU the chunks are copied in their own type and summed there
    (:class:`smlmlp.backend.ChunkUploader`).

    Raises
    ------
    ValueError
        Naming ``name`` for NaN or infinite pixels or a stack whose frames are
        all identical.

    Examples
    --------
    >>> movie = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2)
    >>> temporal_mean(movie, 2)
    array([[4., 5.],
           [6., 7.]])
    """
    backend = backend or get_backend()
    xp = backend.xp
    uploader = backend.uploader()
    n_frames = int(stack.shape[0])
    total = xp.zeros(tuple(int(v) for v in stack.shape[1:]), dtype=np.float64)
    first_frame = None
    changes = False
    done = 0
    bounds = chunk_bounds(n_frames, chunk_frames)
    with contextlib.closing(prefetch_chunks(stack, bounds)) as chunks:
        for chunk in chunks:
            chunk = uploader.upload(chunk)
            if chunk.dtype.kind in "fc":
                bad = ~xp.isfinite(chunk)
                if bool(bad.any()):
                    frame, row, column = (int(i) for i in xp.argwhere(bad)[0])
                    raise ValueError(
                        f"{name}: {int(bad.sum())} NaN or infinite pixel(s) in frames "
                        f"{done}..{done + len(chunk) - 1}; first at frame {done + frame}, "
                        f"row {row}, column {column}"
                    )
            if first_frame is None:
                first_frame = chunk[0].copy()
            if not changes:
                changes = bool(xp.any(chunk != first_frame))
            total += chunk.sum(axis=0, dtype=np.float64)
            done += len(chunk)
            if progress is not None:
                progress(done, n_frames)
    if not changes:
        raise ValueError(f"{name}: {CONSTANT_STACK}; an on-time needs blinking")
    return total / n_frames


def accumulate_temporal(
    stack: Any,
    max_lag: int,
    sigma_px: tuple[float, float],
    *,
    cuda: bool = False,
    parallel: bool = False,
    memory_bytes: int | None = None,
    bin_pixels: int | None = None,
    chunk_frames: int | None = None,
    block_frames: int | None = None,
    group_frames: int | None = None,
    progress: ProgressCallback | None = None,
    name: str = "channel 0",
    fiducials: bool = True,
) -> TemporalAutocovariance:
    """Stream a stack into the lag sums of its background-subtracted fluctuations,
    each pixel paired with its neighbours (module notes, Pixel pairs).

    Parameters
    ----------
    stack : array-like
        ``(n_frames, height, width)`` stack with frame slicing (ndarray, memmap,
        :class:`smlmlp.loading.TiffMovie`); read twice (see the module notes).
    max_lag : int
        Largest lag ``L`` in frames (``1 <= L < n_frames``).
    sigma_px : tuple of float
        Background filter standard deviation ``(y, x)`` in pixels.
    cuda, parallel : bool, optional
        Backend choice, see :func:`smlmlp.backend.get_backend`.
    memory_bytes, bin_pixels, chunk_frames, block_frames : int, optional
        See :func:`plan_memory`.
    group_frames : int, optional
        Keep the lag sums per group of this many frames too (jackknife).
    progress : callable, optional
        ``progress(frames_done, 2 * n_frames)``: each frame is read twice.
    name : str, optional
        Channel name used in error messages.
    fiducials : bool, optional
        Leave out the pixels of fiducial markers (beads that never blink,
        :func:`smlmlp.fiducials.movie_fiducials`, as the spatial pass does): they
        hold zero in every frame, before the background filter, so that nothing of
        a bead's fluctuations (its flicker under the laser, its motion on a
        vibrating stage) is left in the sums.

    Returns
    -------
    TemporalAutocovariance

    Examples
    --------
    >>> movie = np.random.default_rng(2).poisson(30, size=(40, 16, 16))
    >>> result = accumulate_temporal(movie, 5, (3.0, 3.0), chunk_frames=7, block_frames=9)
    >>> result.autocovariance().shape
    (6,)
    """
    n_frames = int(stack.shape[0])
    frame_shape = (int(stack.shape[1]), int(stack.shape[2]))
    max_lag = int(max_lag)
    if not 1 <= max_lag < n_frames:
        raise ValueError(f"{name}: lags must be 1..{n_frames - 1}, got {max_lag}")
    backend = get_backend(cuda=cuda, parallel=parallel)
    plan = plan_memory(
        frame_shape,
        n_frames,
        max_lag,
        cuda=cuda,
        memory_bytes=memory_bytes,
        bin_pixels=bin_pixels,
        chunk_frames=chunk_frames,
        block_frames=block_frames,
    )

    def report_first(done: int, _total: int) -> None:
        if progress is not None:
            progress(done, 2 * n_frames)

    dtype = working_dtype(cuda)
    mean = temporal_mean(
        stack, plan.read_frames, backend=backend, progress=report_first, name=name
    )
    mask = movie_fiducials(stack).mask if fiducials else None
    masked = backend.asarray(mask) if mask is not None and mask.any() else None
    if masked is not None:
        mean[masked] = 0.0  # the mean of frames that hold zero there
    centre, partners_centre = (
        values.astype(dtype)
        for values in pair_series(
            subtract_background(mean[None], sigma_px, backend), plan.bin_pixels, backend
        )
    )
    accumulator = TemporalAccumulator(
        centre.shape[1],
        max_lag,
        plan.block_frames,
        backend=backend,
        pixel_batch=plan.pixel_batch,
        group_frames=group_frames,
        dtype=dtype,
        paired=True,
    )
    uploader = backend.uploader()
    bounds = chunk_bounds(n_frames, plan.read_frames)
    with contextlib.closing(prefetch_chunks(stack, bounds)) as chunks:
        for chunk in chunks:
            chunk = uploader.upload(chunk)
            if masked is not None:  # a copy: the frames are the caller's
                chunk = backend.xp.where(masked, chunk.dtype.type(0), chunk)
            values = subtract_background(chunk, sigma_px, backend, dtype)
            values, partners = pair_series(values, plan.bin_pixels, backend)
            values -= centre
            partners -= partners_centre
            accumulator.add(values, partners)
            del values, partners
            if progress is not None:
                progress(n_frames + accumulator.n_frames, 2 * n_frames)
    sums = accumulator.finish()
    group_first, group_sums = accumulator.groups()
    return TemporalAutocovariance(
        sums=sums,
        n_frames=n_frames,
        n_pixels=frame_shape[0] * frame_shape[1],
        bin_pixels=plan.bin_pixels,
        group_first=group_first,
        group_sums=group_sums,
    )


# ------------------------------------------------------------------------------ fit
@dataclass
class DecayFit:
    """Exponential ``amplitude * exp(-lag / tau) + offset`` fitted to lags ``>= 1``.

    Attributes
    ----------
    tau : float
        Decay constant in frames (NaN when no decay was found).
    amplitude, offset : float
        Linear parameters (NaN when no decay was found).
    fit_lags : int
        The fit used lags ``1 .. fit_lags``.
    noise : float
        Lag-to-lag scatter of the curve around the model.
    reason : str
        Why no decay was found ("" when one was).
    """

    tau: float
    amplitude: float
    offset: float
    fit_lags: int
    noise: float
    reason: str = ""

    @property
    def valid(self) -> bool:
        """Whether a decay was found."""
        return not self.reason

    def model(self, lags: np.ndarray) -> np.ndarray:
        """The fitted curve at ``lags`` (NaN when no decay was found)."""
        lags = np.asarray(lags, dtype=np.float64)
        if not self.valid:
            return np.full(lags.shape, np.nan)
        return self.amplitude * np.exp(-lags / self.tau) + self.offset


#: The fit range is lags ``1 .. FIT_RANGE_TAU * tau`` (at least MIN_FIT_LAGS).
FIT_RANGE_TAU = 10.0
MIN_FIT_LAGS = 12
#: Shortest and longest decay constants searched, the latter relative to the fit range.
TAU_MIN = 0.05
TAU_MAX_RANGE = 3.0
#: A decay is accepted when its lag-1 value exceeds this many times the scatter.
MIN_SNR = 5.0


def _linear_fit(values: np.ndarray, lags: np.ndarray, tau: float, offset: bool) -> tuple:
    decay = np.exp(-lags / tau)
    design = np.column_stack([decay, np.ones_like(decay)]) if offset else decay[:, None]
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    residual = values - design @ coefficients
    amplitude = float(coefficients[0])
    return amplitude, float(coefficients[1]) if offset else 0.0, float(residual @ residual)


def _best_tau(values: np.ndarray, lags: np.ndarray, offset: bool) -> tuple[float, bool]:
    """Decay constant minimising the residual (linear parameters projected out)."""
    low, high = math.log(TAU_MIN), math.log(TAU_MAX_RANGE * lags[-1])

    def cost(log_tau: float) -> float:
        return _linear_fit(values, lags, math.exp(log_tau), offset)[2]

    grid = np.linspace(low, high, 60)
    costs = [cost(value) for value in grid]
    best = int(np.argmin(costs))
    bracket = (grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)])
    result = scipy.optimize.minimize_scalar(
        cost, bounds=bracket, method="bounded", options={"xatol": 1e-7}
    )
    log_tau = float(result.x)
    at_bound = log_tau - low < 1e-3 or high - log_tau < 1e-3
    return math.exp(log_tau), at_bound


def fit_decay(curve: np.ndarray) -> DecayFit:
    """Fit ``a * exp(-lag / tau) + c`` to an autocovariance at lags ``1 .. L``.

    The zero lag, which holds the white noise, is not part of ``curve``. The
    fit range adapts to the decay: lags ``1 .. max(12, 10 tau)``, iterated from
    the whole curve until the range is stable. For a given ``tau`` the linear
    parameters are solved exactly; ``tau`` is searched on a logarithmic grid from
    0.05 frames to 3 times the fit range, then refined. ``c`` absorbs the
    offset left by the centring of finite series and slow drifts. With fewer
    than 4 lags the offset is left out.

    No decay is reported (NaN, with ``reason``) when the curve is not finite,
    the best ``tau`` is at an end of the search range, the amplitude is not
    positive, or the model at lag 1 is less than 5 times the lag-to-lag scatter
    of the curve around the model (pure noise).

    Parameters
    ----------
    curve : ndarray
        Autocovariance at lags ``1, 2, ..., L`` (``L >= 2``).

    Returns
    -------
    DecayFit

    Examples
    --------
    >>> lags = np.arange(1, 101)
    >>> result = fit_decay(3.0 * np.exp(-lags / 4.0) + 0.1)
    >>> round(result.tau, 6), round(result.amplitude, 6), round(result.offset, 6)
    (4.0, 3.0, 0.1)
    >>> fit_decay(np.random.default_rng(0).normal(size=100)).reason
    'no temporal correlation above the noise (pure noise?)'
    """
    values = np.asarray(curve, dtype=np.float64).ravel()
    n_lags = len(values)
    if n_lags < 2:
        return DecayFit(math.nan, math.nan, math.nan, n_lags, math.nan, "fewer than 2 lags")
    if not np.all(np.isfinite(values)):
        return DecayFit(math.nan, math.nan, math.nan, n_lags, math.nan, "non-finite values")
    lags_all = np.arange(1, n_lags + 1, dtype=np.float64)
    offset = n_lags >= 4
    fit_lags = n_lags
    history: list[int] = []
    for _ in range(20):
        tau, at_bound = _best_tau(values[:fit_lags], lags_all[:fit_lags], offset)
        history.append(fit_lags)
        wanted = int(min(n_lags, max(MIN_FIT_LAGS, math.ceil(FIT_RANGE_TAU * tau))))
        if wanted == fit_lags:
            break
        if wanted in history:  # oscillating between ranges: settle on the wider one
            fit_lags = max(wanted, fit_lags)
            tau, at_bound = _best_tau(values[:fit_lags], lags_all[:fit_lags], offset)
            break
        fit_lags = wanted
    amplitude, constant, _ = _linear_fit(values[:fit_lags], lags_all[:fit_lags], tau, offset)
    model = amplitude * np.exp(-lags_all / tau) + constant
    scatter = np.diff(values - model)
    noise = float(1.4826 * np.median(np.abs(scatter)) / math.sqrt(2.0)) if len(scatter) else 0.0
    reason = ""
    weak = not amplitude > 0 or amplitude * math.exp(-1.0 / tau) < MIN_SNR * noise
    if weak or (at_bound and tau < 1.0):
        reason = "no temporal correlation above the noise (pure noise?)"
    elif at_bound:
        reason = "the decay is not resolved within the lags (raise crop_fr)"
    if reason:
        return DecayFit(math.nan, math.nan, math.nan, fit_lags, noise, reason)
    return DecayFit(tau, amplitude, constant, fit_lags, noise)
