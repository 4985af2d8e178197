"""Block sums: everything the spatial autocorrelation needs from a movie.

The frames are cut into **blocks** of consecutive frames (``block_frames``,
aligned on absolute frame numbers). Within a block, each pixel's fluctuation is
taken about the block's own straight-line trend in time (its mean and slope),
and the power of those fluctuations is summed::

    P_b = sum_t |F_t|^2 - |sum_t F_t|^2 / n_b - |sum_t (t - m_b) F_t|^2 / s_b

(``t`` in block ``b``, ``F_t`` the FFT of frame ``t``, ``m_b`` the block's mean
time and ``s_b = sum_t (t - m_b)^2``). The trend is a linear filter in time, the
same for every pixel, so it leaves the shape of the autocorrelation of
independent blinking emitters unchanged (it only lowers its amplitude a little),
and it removes what changes slowly: bleaching, drift, out-of-focus haze, focus.
The blocks' power is summed over **groups** of consecutive blocks
(``group_frames``), and each group keeps only the central crop of its circular
autocorrelation (``IFFT(sum_b P_b)``), a few kilobytes: the :class:`BlockSums`.
Groups merge exactly (sums), and leaving one group out gives the jackknife
standard errors of everything estimated from the sums.

Each frame's fluctuation is also taken about its own mean level over the frame (the
power at zero frequency is left out, ``P_b[0, 0] = 0``; the blinking map is made of
frames less their mean level). A fluctuation shared by the whole frame (a camera
offset or a background that jumps from frame to frame: the laser's flicker on
autofluorescence and scattered light) lives only there; kept, it would pair pixels
across the frame edge that the pair correction
(:func:`smlmlp.coverage.pair_fraction`) takes as unpaired, and bend the
autocorrelation into a cone that narrows the PSF. What the mean levels held of the
local blinking and noise is given back when a crop is read
(:func:`smlmlp.coverage.with_local_mean`).

A level whose profile is not flat (the background under an illumination beam) and
that jumps with the laser's flicker leaves its profile in the fluctuations. At the
lowest frequencies (:func:`smlmlp.level.level_window`, where a profile as broad as
the frame has its power) each frame's left half (:func:`smlmlp.level.level_weight`)
less its own mean level is fitted by the mean level of the right half, and the right
half by the left half's, one coefficient per frequency for all the groups used, and
what the fits explain is left out when a crop is read
(:func:`smlmlp.level.level_correction`; each group keeps the sums it needs). Each
half is fitted by the other half's level because the sample's own blinking moves the
mean levels too: a fit by the frame's own mean level takes the sample's collective
blinking at those frequencies (it narrows the PSF of filaments), while independent
emitters do not follow the other half.

:func:`plan_blocks` sets the lengths: blocks of 20 frames, and groups of whole
blocks, 20 to 39 of them in a movie of 400 frames or more. Twenty frames are long
compared with blinking correlation times of a few frames (the trend takes little
of the blinking) and short compared with bleaching, focus drift and out-of-focus
haze that changes over tens of frames (``python benchmarks/accuracy.py``, section
"Artifacts" of docs/accuracy.md, measures what is left of them). A straight line
rather than the block mean: haze that changes within the block's 20 frames is
mostly a slope there, which the mean alone would leave in the fluctuations.
Frame ranges of one movie processed apart (cluster jobs) merge into exactly the
sums of one pass when they are cut at multiples of ``block_frames``.

The pass over a movie's frames that makes the sums is :mod:`smlmlp.spectra`;
the fit by the mean levels lives in :mod:`smlmlp.level`, the blinking's share of
the pixel pairs in :mod:`smlmlp.coverage` and the search for clipped values in
:mod:`smlmlp.clipping`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from .clipping import CLIPPING_ARRAYS, merge_clipping
from .coverage import local_lags, pair_fraction, with_local_mean
from .level import level_correction, level_power, level_window, window_products, window_weights

#: Smallest crop accepted (pixels per side).
MIN_CROP_PIX = 5
#: Largest autocorrelation crop kept per group (pixels per side).
MAX_STORED_CROP = 129
#: Frames per block (each block's own straight-line trend is subtracted).
BLOCK_FRAMES = 20
#: Terms of the trend fitted per block and pixel (a straight line in time), and the
#: fewest frames that leave a fluctuation about it (a shorter last block is left out).
TREND_TERMS = 2
MIN_BLOCK_FRAMES = TREND_TERMS + 1
#: What a stack without fluctuation is told (every frame dropped, or all alike).
CONSTANT_STACK = "the stack does not change from frame to frame (constant or all-zero stack)"
#: Groups (jackknife units) aimed at; a movie long enough gets 20 to 39.
TARGET_GROUPS = 20


def crop_size(crop_pix: Any, name: str = "crop_pix") -> int:
    """Checked, effective (odd) side of the square crop centred on zero lag.

    Raises
    ------
    TypeError, ValueError
        ``crop_pix`` is not an integer, or below :data:`MIN_CROP_PIX`.

    Examples
    --------
    >>> crop_size(41), crop_size(40)
    (41, 41)
    >>> crop_size(3)
    Traceback (most recent call last):
        ...
    ValueError: crop_pix: must be at least 5 pixels, got 3
    """
    if isinstance(crop_pix, bool) or not isinstance(crop_pix, Integral):
        raise TypeError(f"{name}: expected an integer number of pixels, got {crop_pix!r}")
    if crop_pix < MIN_CROP_PIX:
        raise ValueError(f"{name}: must be at least {MIN_CROP_PIX} pixels, got {crop_pix}")
    return 2 * (int(crop_pix) // 2) + 1


def check_crop_fits(frame_shape: Sequence[int], crop_pix: Any, name: str = "channel 0") -> int:
    """The checked crop side (:func:`crop_size`) when frames of ``frame_shape``
    ``(height, width)`` hold it; the one check of the library, the command and the
    workflow (its plan, and its jobs before they read a frame).

    Raises
    ------
    ValueError
        The frames are smaller than the crop.

    Examples
    --------
    >>> check_crop_fits((64, 48), 41)
    41
    >>> check_crop_fits((40, 40), 41, "cell")
    Traceback (most recent call last):
        ...
    ValueError: cell: frames of 40x40 pixels are smaller than the 41x41 crop; lower crop_pix
    """
    size = crop_size(crop_pix)
    height, width = (int(v) for v in frame_shape)
    if size > height or size > width:
        raise ValueError(
            f"{name}: frames of {height}x{width} pixels are smaller than the "
            f"{size}x{size} crop; lower crop_pix"
        )
    return size


def plan_blocks(n_frames: int, time_windows: int = 1) -> tuple[int, int]:
    """``(block_frames, group_frames)`` for a movie of ``n_frames`` frames.

    With ``time_windows`` > 1 the groups are shorter, so that each of that many
    windows of frames holds 20 to 39 of them where the movie is long enough (at
    least one block per group).

    Examples
    --------
    >>> plan_blocks(1000), plan_blocks(600), plan_blocks(430), plan_blocks(20000), plan_blocks(100)
    ((20, 40), (20, 20), (20, 20), (20, 1000), (20, 20))
    >>> plan_blocks(20000, time_windows=5)
    (20, 200)
    """
    n_frames = max(int(n_frames), 1)
    block = BLOCK_FRAMES
    n_blocks = -(-n_frames // block)
    return block, block * max(1, n_blocks // (TARGET_GROUPS * max(1, int(time_windows))))


def stored_crop(frame_shape: tuple[int, int], kept_crop: Any = None) -> int:
    """Side of the autocorrelation crop kept per group for frames of ``frame_shape``:
    the largest they allow (up to :data:`MAX_STORED_CROP`, so that a later estimate
    may take any crop), or ``kept_crop`` (:func:`crop_size`) when no larger crop will
    be asked of the sums: less work per group and per blinking map, the same values.

    Examples
    --------
    >>> stored_crop((512, 512)), stored_crop((48, 64)), stored_crop((512, 512), 40)
    (129, 47, 41)
    """
    side = min(int(frame_shape[0]), int(frame_shape[1]), MAX_STORED_CROP)
    side = side if side % 2 else side - 1
    return side if kept_crop is None else min(side, crop_size(kept_crop, "kept_crop"))


# --------------------------------------------------------------------- the sums
@dataclass(frozen=True)
class BlockSums:
    """Block-resolved sums of one channel: plain data, exact to merge.

    Attributes
    ----------
    frame_shape : tuple of int
        ``(height, width)`` of the frames.
    block_frames, group_frames : int
        Frames per block (each block's own trend is subtracted) and per group.
    first_frames : ndarray of int
        Absolute number of the first frame of each group's span, increasing.
    n_frames : ndarray of int
        Frames summed in each group.
    dof : ndarray of int
        Degrees of freedom of each group: frames less two per block (the trend).
    ac_sums : ndarray of float64
        ``(groups, S, S)``: for each group, the sum over its blocks, frames and
        pixels of the products of block fluctuations (less each frame's mean
        level) at lags ``-S//2..S//2`` in y (rows) and x (columns), circular over
        the frame.
    coverage_sums : ndarray of float64
        ``(groups, S, S)``: for each group, the blinking found in the pixel pairs
        of each lag that lie inside the frame (:func:`coverage_crop`); zeros when
        unknown (the blinking is then taken to fill the frame).
    ceiling_values, ceiling_counts, floor_values, floor_counts, above_floor_counts, \
    searched_values : ndarray
        For each group, over the frames of its blocks searched for clipping (one
        block in :data:`CLIPPING_EVERY`): the largest pixel value (float64,
        ``-inf`` when none was searched) and how many pixel values equal it (int64;
        a pixel holding it in every frame of its block, stuck, is not counted), the
        same for the smallest value (``inf`` when none) and for the smallest value
        plus one, and how many pixel values were searched (int64); see
        :meth:`saturation` and :meth:`floor_clipping`. By default none searched.
    dropped_frames : ndarray of int
        For each group, how many of its ``n_frames`` frames were dropped frames
        (one value in every pixel, :mod:`smlmlp.dropped`), left out of the sums
        and the degrees of freedom. By default none.
    level_bins : ndarray of complex128
        ``(groups, 4, 2K + 1, K + 1)``: for each group, over its blocks, at the lowest
        frequencies (:func:`level_window`), the frames' spectra ``F_t`` and their
        left halves' ``L_t`` weighted by the mean levels of the frames' left and
        right halves ``l_t``, ``r_t`` (each less its straight line in the block):
        ``sum l F``, ``sum r F``, ``sum r L``, ``sum l (F - L)``; zeros by default.
    level_spread : ndarray of float64
        ``(groups, 3)``: for each group, over its blocks, ``sum l^2``, ``sum r^2``
        and ``sum l r``; zeros by default. With ``level_bins``, what follows the
        halves' mean levels at those frequencies is left out of
        :meth:`autocorrelation` (:func:`level_correction`).
    fiducials, masked_pixels : int
        Fiducial markers found in the movie (bright points that never blink,
        :mod:`smlmlp.fiducials`) whose peak lies in these sums' frames (or
        region), and how many of their pixels the pass left out; 0 by default.

    Examples
    --------
    >>> movie = np.random.default_rng(0).poisson(100, size=(60, 32, 32))
    >>> from smlmlp.spectra import accumulate_spectrum
    >>> sums = accumulate_spectrum(movie, block_frames=10, group_frames=20)
    >>> sums.n_groups, sums.total_frames, sums.total_dof
    (3, 60, 48)
    >>> first = accumulate_spectrum(movie, stop=20, block_frames=10, group_frames=20)
    >>> rest = accumulate_spectrum(movie, start=20, block_frames=10, group_frames=20)
    >>> merged = merge_sums([first, rest]).ac_sums
    >>> bool(np.abs(merged - sums.ac_sums).max() < 1e-6 * np.abs(sums.ac_sums).max())
    True
    """

    frame_shape: tuple[int, int]
    block_frames: int
    group_frames: int
    first_frames: np.ndarray
    n_frames: np.ndarray
    dof: np.ndarray
    ac_sums: np.ndarray
    coverage_sums: np.ndarray | None = None
    ceiling_values: np.ndarray | None = None
    ceiling_counts: np.ndarray | None = None
    floor_values: np.ndarray | None = None
    floor_counts: np.ndarray | None = None
    above_floor_counts: np.ndarray | None = None
    searched_values: np.ndarray | None = None
    dropped_frames: np.ndarray | None = None
    level_bins: np.ndarray | None = None
    level_spread: np.ndarray | None = None
    fiducials: int = 0
    masked_pixels: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fiducials", int(self.fiducials))
        object.__setattr__(self, "masked_pixels", int(self.masked_pixels))
        if self.coverage_sums is None:
            object.__setattr__(self, "coverage_sums", np.zeros_like(self.ac_sums))
        groups = len(self.n_frames)
        rows, columns = level_window(self.frame_shape)
        if self.level_bins is None:
            bins = np.zeros((groups, 4, len(rows), columns), np.complex128)
        else:
            bins = np.asarray(self.level_bins, np.complex128)
        object.__setattr__(self, "level_bins", bins)
        if self.level_spread is None:
            spread = np.zeros((groups, 3))
        else:
            spread = np.asarray(self.level_spread, np.float64)
        object.__setattr__(self, "level_spread", spread)
        for name, fill, dtype in (
            ("ceiling_values", -np.inf, np.float64),
            ("ceiling_counts", 0, np.int64),
            ("floor_values", np.inf, np.float64),
            ("floor_counts", 0, np.int64),
            ("above_floor_counts", 0, np.int64),
            ("searched_values", 0, np.int64),
            ("dropped_frames", 0, np.int64),
        ):
            value = getattr(self, name)
            value = np.full(groups, fill, dtype) if value is None else np.asarray(value, dtype)
            object.__setattr__(self, name, value)

    @classmethod
    def empty(
        cls,
        frame_shape: tuple[int, int],
        block_frames: int,
        group_frames: int,
        kept_crop: Any = None,
    ) -> BlockSums:
        """Sums of no frame (crops of :func:`stored_crop`)."""
        side = stored_crop(frame_shape, kept_crop)
        return cls(
            frame_shape=(int(frame_shape[0]), int(frame_shape[1])),
            block_frames=int(block_frames),
            group_frames=int(group_frames),
            first_frames=np.zeros(0, np.int64),
            n_frames=np.zeros(0, np.int64),
            dof=np.zeros(0, np.int64),
            ac_sums=np.zeros((0, side, side)),
            coverage_sums=np.zeros((0, side, side)),
        )

    @property
    def n_groups(self) -> int:
        """Number of groups holding frames."""
        return int(len(self.n_frames))

    @property
    def frame_stops(self) -> np.ndarray:
        """One past the last frame of each group's span."""
        return self.first_frames + self.group_frames

    def select(self, groups: Any) -> BlockSums:
        """The sums of some groups only (a mask or indices), e.g. a window of frames;
        consecutive groups are views of these sums, not copies.

        Examples
        --------
        >>> movie = np.random.default_rng(0).poisson(100, size=(60, 16, 16))
        >>> from smlmlp.spectra import accumulate_spectrum
        >>> sums = accumulate_spectrum(movie, block_frames=10, group_frames=20)
        >>> sums.select([1, 2]).first_frames.tolist()
        [20, 40]
        >>> np.shares_memory(sums.select([1, 2]).ac_sums, sums.ac_sums)
        True
        """
        chosen = np.asarray(groups)
        if chosen.dtype == bool:
            chosen = np.flatnonzero(chosen)
        run = chosen.ndim == 1 and chosen.size > 0 and chosen.dtype.kind in "iu"
        if run and 0 <= chosen[0] <= chosen[-1] < self.n_groups:
            if np.all(np.diff(chosen) == 1):  # a run of groups: views
                chosen = slice(int(chosen[0]), int(chosen[-1]) + 1)
        return BlockSums(
            frame_shape=self.frame_shape,
            block_frames=self.block_frames,
            group_frames=self.group_frames,
            first_frames=self.first_frames[chosen],
            n_frames=self.n_frames[chosen],
            dof=self.dof[chosen],
            ac_sums=self.ac_sums[chosen],
            coverage_sums=self.coverage_sums[chosen],
            **{name: getattr(self, name)[chosen] for name in CLIPPING_ARRAYS},
            dropped_frames=self.dropped_frames[chosen],
            level_bins=self.level_bins[chosen],
            level_spread=self.level_spread[chosen],
            fiducials=self.fiducials,
            masked_pixels=self.masked_pixels,
        )

    @property
    def total_frames(self) -> int:
        """Frames summed."""
        return int(self.n_frames.sum())

    @property
    def total_dof(self) -> int:
        """Degrees of freedom of the whole: frames less two per block."""
        return int(self.dof.sum())

    @property
    def stored_crop(self) -> int:
        """Side of the crop kept per group."""
        return int(self.ac_sums.shape[-1])

    def saturation(self) -> tuple[float, float]:
        """``(ceiling, fraction)``: the largest pixel value of the frames searched,
        and the fraction of the pixel values searched that equal it (not counting
        pixels stuck at it); NaN, NaN when no frame was searched.

        A camera clips at its largest value, so saturated emitters pile up there,
        while in a movie without saturation the largest value is a rare draw.

        Examples
        --------
        Four pixels clipped at 400 in one frame in three, one pixel stuck there;
        the first of the six blocks of 10 frames is searched:

        >>> movie = np.random.default_rng(0).poisson(100, size=(60, 32, 32))
        >>> movie[:, 10:12, 10:12] = np.where(np.arange(60) % 3 == 0, 400, 50)[:, None, None]
        >>> movie[:, 0, 0] = 400
        >>> from smlmlp.spectra import accumulate_spectrum
        >>> ceiling, fraction = accumulate_spectrum(movie, block_frames=10).saturation()
        >>> float(ceiling), fraction == (4 * 4) / (10 * 32 * 32)
        (400.0, True)
        """
        return self._clipping(self.ceiling_values, self.ceiling_counts, highest=True)

    def floor_clipping(self) -> tuple[float, float]:
        """``(floor, fraction)``: the smallest pixel value of the frames searched, and
        the fraction of the pixel values searched that equal it (not counting pixels
        stuck at it); NaN, NaN when no frame was searched.

        A movie whose negative values were set to zero (after an offset or
        background subtraction) piles up there, while in a raw movie, with its
        camera offset and read noise, the smallest value is a rare draw.

        Examples
        --------
        >>> movie = np.random.default_rng(0).normal(0, 10, size=(40, 32, 32)).clip(0, None)
        >>> from smlmlp.spectra import accumulate_spectrum
        >>> floor, fraction = accumulate_spectrum(movie, block_frames=10).floor_clipping()
        >>> float(floor), round(fraction, 1)
        (0.0, 0.5)
        """
        return self._clipping(self.floor_values, self.floor_counts, highest=False)

    def above_floor(self) -> float:
        """The fraction of the pixel values searched that equal the floor plus one
        (:meth:`floor_clipping`; pixels stuck there not counted); NaN when no frame
        was searched.

        Clipping piles values up at the floor, far above the level next to it; a
        floor that is the data's own (photon counts without an offset) is not: a
        count of zero photons is about as common as one, where many pixels are 0.

        Examples
        --------
        >>> counts = np.random.default_rng(0).poisson(1.0, size=(40, 32, 32))
        >>> from smlmlp.spectra import accumulate_spectrum
        >>> sums = accumulate_spectrum(counts, block_frames=10)
        >>> [round(value, 2) for value in (*sums.floor_clipping(), sums.above_floor())]
        [0.0, 0.35, 0.38]
        """
        searched = int(self.searched_values.sum())
        if not searched:
            return math.nan
        every_group = {name: getattr(self, name) for name in CLIPPING_ARRAYS}
        merged = merge_clipping(np.zeros(self.n_groups, np.int64), 1, every_group)
        return int(merged["above_floor_counts"][0]) / searched

    def _clipping(
        self, values: np.ndarray, counts: np.ndarray, *, highest: bool
    ) -> tuple[float, float]:
        searched = int(self.searched_values.sum())
        if not searched:
            return math.nan, math.nan
        extreme = float(values.max() if highest else values.min())
        return extreme, int(counts[values == extreme].sum()) / searched

    def autocorrelation(
        self, crop_pix: int, *, groups: Any = None, name: str = "channel 0"
    ) -> np.ndarray:
        """Mean spatial autocorrelation of the block fluctuations, cropped.

        Parameters
        ----------
        crop_pix : int
            Crop size; the crop has ``2 * (crop_pix // 2) + 1`` pixels per side,
            zero lag at its centre.
        groups : array-like of bool or int, optional
            The groups to use (a mask or indices); all by default. Leaving one
            group out gives a jackknife replicate.
        name : str, optional
            Channel name used in error messages.

        Returns
        -------
        ndarray of float64
            Autocovariance per pixel (ADU^2) at lags ``-r..r`` in y (rows) and x
            (columns), ``r = crop_pix // 2``, per degree of freedom.

        Notes
        -----
        The FFT gives the circular autocorrelation, in which a lag ``l`` pairs
        only the pixels whose neighbour at ``l`` is inside the frame (the pairs
        across the frame edge are uncorrelated). How much blinking those pairs
        hold depends on where the emitters are: all of it for a sample inside the
        frame, a fraction ``(1 - |ly| / H) (1 - |lx| / W)`` for blinking that fills
        the frame. The sums are divided by that fraction measured on the movie
        itself (:func:`coverage_crop`), so the shape does not depend on where the
        sample lies, nor on cropping or padding. Where the measurement is unknown
        or meaningless (no blinking), the frame is taken as filled. The local
        share of the frames' mean levels, left out of the sums, is given back
        (:func:`with_local_mean`). What follows the mean levels of the frames'
        halves at the lowest frequencies over the groups used (a background under
        an illumination beam that flickers with the laser) is left out
        (:func:`level_correction`).
        """
        size, trim = self._crop_trim(crop_pix, name)
        chosen = slice(None) if groups is None else np.asarray(groups)
        dof = int(self.dof[chosen].sum())
        if dof < 1:
            frames = int(self.n_frames[chosen].sum())
            dropped = int(self.dropped_frames[chosen].sum())
            if frames and dropped == frames:
                raise ValueError(f"{name}: {CONSTANT_STACK}; a PSF needs blinking")
            besides = f" besides {dropped} dropped frames" if dropped else ""
            raise ValueError(
                f"{name}: at least {MIN_BLOCK_FRAMES} frames are needed, got "
                f"{frames - dropped}{besides}"
            )
        crop = (slice(None), slice(trim, trim + size), slice(trim, trim + size))
        total = self.ac_sums[crop][chosen].sum(axis=0)
        total += level_correction(
            self.level_bins[chosen].sum(axis=0),
            self.level_spread[chosen].sum(axis=0),
            self.frame_shape,
            size,
        )
        coverage = self.coverage_sums[crop][chosen].sum(axis=0)
        return crops_from_sums(total, coverage, np.asarray(dof), self.frame_shape)

    def leave_one_out(self, crop_pix: int, *, name: str = "channel 0") -> np.ndarray:
        """The :meth:`autocorrelation` of all groups but one, for each group in turn
        (the replicates of a delete-one-group jackknife), ``(groups, S, S)``.

        Examples
        --------
        >>> movie = np.random.default_rng(1).poisson(100, size=(60, 32, 32))
        >>> from smlmlp.spectra import accumulate_spectrum
        >>> sums = accumulate_spectrum(movie, block_frames=10, group_frames=20)
        >>> replicates = sums.leave_one_out(9)
        >>> alone = sums.autocorrelation(9, groups=[True, False, True])
        >>> replicates.shape, bool(np.allclose(replicates[1], alone, rtol=1e-12, atol=0))
        ((3, 9, 9), True)
        """
        size, trim = self._crop_trim(crop_pix, name)
        dof = self.dof.sum() - self.dof
        if self.n_groups == 0 or dof.min() < 1:
            raise ValueError(f"{name}: every group but one must hold {MIN_BLOCK_FRAMES} frames")
        crop = (slice(None), slice(trim, trim + size), slice(trim, trim + size))
        groups = self.ac_sums[crop]
        coverages = self.coverage_sums[crop]
        totals = groups.sum(axis=0) - groups
        totals += level_correction(
            self.level_bins.sum(axis=0) - self.level_bins,
            self.level_spread.sum(axis=0) - self.level_spread,
            self.frame_shape,
            size,
        )
        coverages = coverages.sum(axis=0) - coverages
        return crops_from_sums(totals, coverages, dof, self.frame_shape)

    def _crop_trim(self, crop_pix: int, name: str) -> tuple[int, int]:
        """The checked crop side and its margin in the stored crops."""
        size = check_crop_fits(self.frame_shape, crop_pix, name)
        if size > self.stored_crop:
            raise ValueError(
                f"{name}: crop_pix {size} is larger than the {self.stored_crop}x"
                f"{self.stored_crop} autocorrelation kept per block; lower crop_pix"
            )
        return size, (self.stored_crop - size) // 2


def jackknife_projections(
    ac_sums: np.ndarray,
    coverage_sums: np.ndarray,
    level_bins: np.ndarray,
    level_spread: np.ndarray,
    dof: np.ndarray,
    frame_shape: tuple[int, int],
    weights: np.ndarray,
) -> np.ndarray:
    """``weights . (replicate - crop)`` for each delete-one-group replicate of the
    autocorrelation crop (:meth:`BlockSums.leave_one_out`), ``(..., groups, k)``,
    without the replicates' crops: what the jackknife of quantities linear in the
    crop needs (the widths, through the fit's linear response).

    Everything but the pair fractions is linear in the summed products, each
    replicate's mean-level power taken exactly at the bins of the lowest frequencies
    (:func:`level_power`): the weights are taken back through it to the sums once
    (:func:`window_weights` for the level correction, the local mean level of
    :func:`with_local_mean`), and a replicate costs a dot product of its group's
    sums. The replicates' own pair fractions (:func:`pair_fraction`, their
    plausibility judged replicate by replicate) multiply the products of all the
    groups; what that leaves out, the change of the fractions times the change of
    the products, is of second order in the group left out: the standard errors
    agree with those of the replicates' crops to 0.2 % on movies of 64 x 64 pixels
    and more, 2 % on a movie of 32 x 32 (tests/test_estimate.py).

    Parameters
    ----------
    ac_sums, coverage_sums : ndarray
        ``(..., groups, S, S)``: the groups' crops (:class:`BlockSums`); leading axes
        are parts of a movie that share their groups (tiles of the field).
    level_bins, level_spread : ndarray
        ``(..., groups, 4, 2K + 1, K + 1)`` and ``(..., groups, 3)``.
    dof : ndarray
        ``(groups,)`` degrees of freedom, the same for every part.
    frame_shape : tuple of int
        ``(H, W)`` of each part.
    weights : ndarray
        ``(..., k, S, S)``.

    Examples
    --------
    >>> from smlmlp.simulation import simulate_movie
    >>> movie, _ = simulate_movie(400, (48, 48), sigx_nm=130.0, seed=3)
    >>> from smlmlp.spectra import accumulate_spectrum
    >>> sums = accumulate_spectrum(movie)
    >>> weights = np.random.default_rng(2).normal(size=(2, 21, 21))
    >>> replicates = sums.leave_one_out(21) - sums.autocorrelation(21)
    >>> direct = replicates.reshape(sums.n_groups, -1) @ weights.reshape(2, -1).T
    >>> trim = (sums.stored_crop - 21) // 2  # the centre 21 x 21 of the stored crops
    >>> crop = (slice(None), slice(trim, trim + 21), slice(trim, trim + 21))
    >>> projected = jackknife_projections(
    ...     sums.ac_sums[crop], sums.coverage_sums[crop], sums.level_bins, sums.level_spread,
    ...     sums.dof, sums.frame_shape, weights)
    >>> bool(np.abs(projected - direct).max() < 0.03 * np.abs(direct).max())
    True
    """
    size = int(ac_sums.shape[-1])
    lead, n_groups = ac_sums.shape[:-3], ac_sums.shape[-3]
    pixels = size * size
    weights = np.asarray(weights, np.float64).reshape(*lead, -1, pixels)
    area = int(frame_shape[0]) * int(frame_shape[1])
    dof = np.asarray(dof)
    left_dof = dof.sum() - dof
    all_bins = level_bins.sum(axis=-4)
    all_spread = level_spread.sum(axis=-2)
    summed = ac_sums.sum(axis=-3).reshape(*lead, pixels)
    power = level_power(all_bins, all_spread)
    total = summed - window_products(power, frame_shape, size).reshape(*lead, pixels)
    coverage = coverage_sums.sum(axis=-3)
    fraction = pair_fraction(coverage, frame_shape).reshape(*lead, 1, pixels)
    # the products of all the groups with their local mean level (the crop times the
    # fractions), and the weights taken back through the local mean level
    kept, inner = local_lags(size, area)
    products = total / (area * dof.sum())
    products += products[inner].sum(axis=-1, keepdims=True) / (area - kept * kept)
    scaled = weights / fraction
    through = scaled.copy()
    through[inner] += scaled.sum(axis=-1, keepdims=True) / (area - kept * kept)
    leveled = window_weights(through.reshape(*through.shape[:-1], size, size), frame_shape)
    leveled = leveled.reshape(*through.shape[:-1], -1)
    weighted = weights * products[..., None, :]
    # each replicate: its products (less its group's, with its own mean-level power)
    # through the weights, and its own fractions times the products of all the groups;
    # part by part, in arrays of one part's groups (no temporaries as large as them all)
    projected = np.empty((*lead, n_groups, weights.shape[-2]))
    left = np.empty((n_groups, size, size))
    for part in np.ndindex(*lead):
        powers = level_power(all_bins[part] - level_bins[part],
                             all_spread[part] - level_spread[part])  # fmt: skip
        own = projected[part]
        np.einsum("gab,kab->gk", ac_sums[part], through[part].reshape(-1, size, size), out=own)
        np.subtract(summed[part] @ through[part].T, own, out=own)
        own -= powers.reshape(n_groups, -1) @ leveled[part].T
        own /= area * left_dof[:, None]
        np.subtract(coverage[part], coverage_sums[part], out=left)
        inverse = pair_fraction(left, frame_shape, inverse=True, out=left)
        own += inverse.reshape(n_groups, pixels) @ weighted[part].T
    # less the weights times the crop of all the groups, once for each of the two parts
    projected -= 2.0 * (weighted / fraction).sum(axis=-1)[..., None, :]
    return projected


def crops_from_sums(
    total: np.ndarray, coverage: np.ndarray, dof: np.ndarray, frame_shape: tuple[int, int]
) -> np.ndarray:
    """Autocorrelation crops ``(..., S, S)`` per pixel pair and degree of freedom from
    summed circular products ``total`` (``(..., S, S)``, the level correction in),
    coverage sums ``(..., S, S)`` and degrees of freedom ``(...)``: the pair
    fractions (:func:`pair_fraction`) and the local mean level
    (:func:`with_local_mean`). ``total`` is worked in place."""
    height, width = frame_shape
    area = int(height) * int(width)
    products = np.divide(total, area * np.asarray(dof)[..., None, None], out=total)
    return with_local_mean(products, pair_fraction(coverage, frame_shape), area)


def merge_sums(parts: Iterable[BlockSums]) -> BlockSums:
    """Exact merge of block sums of one movie (frame ranges, cluster jobs).

    Groups starting at the same frame are added; the others are kept side by
    side, in frame order. Associative and commutative up to float64 rounding.

    Raises
    ------
    ValueError
        The parts differ in frame shape, block or group length, or kept crop.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("merge_sums: nothing to merge")
    first = parts[0]
    for other in parts[1:]:
        fields = ("frame_shape", "block_frames", "group_frames", "stored_crop", "masked_pixels")
        for field in fields:
            if getattr(other, field) != getattr(first, field):
                raise ValueError(
                    f"cannot merge block sums of different {field}: "
                    f"{getattr(first, field)} and {getattr(other, field)}"
                )
    starts = np.concatenate([part.first_frames for part in parts])
    unique, where = np.unique(starts, return_inverse=True)
    counts = np.concatenate([part.n_frames for part in parts])
    losses = np.concatenate([part.dropped_frames for part in parts])
    dofs = np.concatenate([part.dof for part in parts])
    crops = np.concatenate([part.ac_sums for part in parts])
    coverages = np.concatenate([part.coverage_sums for part in parts])
    bins = np.concatenate([part.level_bins for part in parts])
    spreads = np.concatenate([part.level_spread for part in parts])
    clipping = merge_clipping(
        where,
        len(unique),
        {name: np.concatenate([getattr(part, name) for part in parts]) for name in CLIPPING_ARRAYS},
    )
    if len(unique) == len(starts) and np.all(np.diff(starts) > 0):  # in order already
        n_frames, dof, ac_sums, coverage_sums = counts, dofs, crops, coverages
        dropped, level_bins, level_spread = losses, bins, spreads
    elif len(unique) == len(starts):  # no group cut in two: a reordering
        order = np.argsort(starts, kind="stable")
        n_frames, dof, ac_sums = counts[order], dofs[order], crops[order]
        coverage_sums, dropped = coverages[order], losses[order]
        level_bins, level_spread = bins[order], spreads[order]
    else:
        n_frames = np.zeros(len(unique), np.int64)
        dropped = np.zeros(len(unique), np.int64)
        dof = np.zeros(len(unique), np.int64)
        ac_sums = np.zeros((len(unique), first.stored_crop, first.stored_crop))
        coverage_sums = np.zeros_like(ac_sums)
        np.add.at(n_frames, where, counts)
        np.add.at(dropped, where, losses)
        np.add.at(dof, where, dofs)
        np.add.at(ac_sums, where, crops)
        np.add.at(coverage_sums, where, coverages)
        level_bins = np.zeros((len(unique), *bins.shape[1:]), np.complex128)
        level_spread = np.zeros((len(unique), *spreads.shape[1:]))
        np.add.at(level_bins, where, bins)
        np.add.at(level_spread, where, spreads)
    return BlockSums(
        frame_shape=first.frame_shape,
        block_frames=first.block_frames,
        group_frames=first.group_frames,
        first_frames=unique.astype(np.int64),
        n_frames=n_frames,
        dof=dof,
        ac_sums=ac_sums,
        coverage_sums=coverage_sums,
        **clipping,
        dropped_frames=dropped,
        level_bins=level_bins,
        level_spread=level_spread,
        fiducials=first.fiducials,
        masked_pixels=first.masked_pixels,
    )
