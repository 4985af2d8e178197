"""The specified ``blink_temporal_on``: the blinking on-time from raw blinking movies."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from .backend import get_backend
from .block import block
from .block_sums import plan_blocks
from .computer import default_budget_bytes
from .config import Config, positive_number
from .estimate import MIN_JACKKNIFE_GROUPS
from .loading import check_channels
from .temporal import TemporalAutocovariance, accumulate_temporal, fit_decay, pair_gain

INFO_KEYS = ("ac", "average", "fit", "time")
#: The background filter is this many PSF standard deviations wide.
BACKGROUND_SIGMAS = 3.0
#: Binning coarser than this many background-filter sigmas cancels most of the signal.
MAX_USEFUL_BIN_SIGMAS = 2.0
#: Default number of lags of the temporal autocorrelation (``smlmlp psf --temporal-lags``,
#: the workflow's ``temporal_lags``; workflow/schemas/config.schema.yaml repeats it).
DEFAULT_TEMPORAL_LAGS = 200
#: PSF sigma (nm) for the on-time's background filter of a channel whose PSF was not
#: found (``smlmlp psf --on-time``, the workflow's ``on_time_psf_sigma_nm``).
FALLBACK_PSF_SIGMA_NM = 130.0


def _optional_count(value: Any, argument: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{argument}: expected a positive integer or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{argument}: must be at least 1, got {value}")
    return int(value)


def _check_psf_sigmas(psf_sigma_nm: Any, n_channels: int) -> list[float]:
    if hasattr(psf_sigma_nm, "tolist"):  # numpy scalars and arrays
        psf_sigma_nm = psf_sigma_nm.tolist()
    if isinstance(psf_sigma_nm, Real) and not isinstance(psf_sigma_nm, bool):
        return [positive_number(psf_sigma_nm, "psf_sigma_nm")] * n_channels
    if not isinstance(psf_sigma_nm, Sequence) or isinstance(psf_sigma_nm, str):
        raise ValueError(
            f"psf_sigma_nm: expected a PSF sigma in nm or one per channel, got {psf_sigma_nm!r}"
        )
    if len(psf_sigma_nm) != n_channels:
        raise ValueError(
            f"psf_sigma_nm: got {len(psf_sigma_nm)} PSF sigmas for {n_channels} channel(s); "
            "give one for all channels or exactly one per channel"
        )
    return [
        positive_number(value, f"psf_sigma_nm[{index}]") for index, value in enumerate(psf_sigma_nm)
    ]


def _check_crop_fr(crop_fr: Any, frames: list[int], names: Sequence[str]) -> int:
    shortest = int(np.argmin(frames))
    if crop_fr is None:
        lags = frames[shortest] // 2 - 1
        if lags < 1:
            raise ValueError(
                f"{names[shortest]}: {frames[shortest]} frames give no lag with "
                "crop_fr=None (n_frames // 2 - 1 = 0); at least 4 frames are needed, or "
                "pass crop_fr"
            )
        return lags
    if isinstance(crop_fr, bool) or not isinstance(crop_fr, Integral):
        raise TypeError(f"crop_fr: expected an integer number of frames, got {crop_fr!r}")
    if crop_fr < 1:
        raise ValueError(f"crop_fr: must be at least 1 frame, got {crop_fr}")
    for index, n_frames in enumerate(frames):
        if crop_fr >= n_frames:
            raise ValueError(
                f"crop_fr: {crop_fr} lags need more than {crop_fr} frames, {names[index]} "
                f"has {n_frames}"
            )
    return int(crop_fr)


@block
def blink_temporal_on(
    channels: Sequence[Any],
    crop_fr: int | None = None,
    /,
    psf_sigma_nm: Any = 100.0,
    *,
    exposure_ms: float = 50.0,
    channels_pixels_nm: Any = 100.0,
    cuda: bool = False,
    parallel: bool = False,
    chunk_frames: int | None = None,
    bin_pixels: int | None = None,
    memory_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    names: Sequence[str] | None = None,
    full_output: bool = False,
    fiducials: bool = True,
) -> tuple[float, dict[str, Any]] | tuple[float, dict[str, Any], dict[str, Any]]:
    """Estimate the blinking on-time from temporal autocorrelations.

    For each channel, a smooth spatial background is subtracted from every
    frame, the temporal autocorrelation of each pixel is computed and averaged
    over pixels. The curves are averaged over channels and an exponential decay
    is fitted to the average; the fitted decay constant times the exposure is
    the on-time.

    Parameters
    ----------
    channels : sequence of ndarray
        Sequence of image stacks, one per channel, each of shape
        (n_frames, height, width). Memmaps and lazily read movies
        (:func:`smlmlp.loading.open_movie`) are read chunk by chunk, twice; the
        channels may differ in shape and number of frames.
    crop_fr : int, optional
        Number of lags (in frames) of the autocorrelation curves: lags
        ``1 .. crop_fr``, each below the number of frames of every channel. By
        default ``n_frames // 2 - 1`` of the channel with the fewest frames.
    psf_sigma_nm : float or sequence of float, optional
        PSF standard deviation in nm, one for all channels or one per channel.
        The background is a Gaussian filter of ``3 * psf_sigma_nm`` per frame,
        subtracted twice.
    exposure_ms : float, optional
        Frame time in milliseconds.
    channels_pixels_nm : float or sequence, optional
        Pixel size in nm: a scalar, one ``(y, x)`` pair, or one scalar or pair
        per channel (normalised by :class:`smlmlp.Config`).
    cuda : bool, optional
        Whether to use CUDA-enabled array operations (CuPy).
    parallel : bool, optional
        Whether to run the CPU FFTs on every available core.
    chunk_frames : int, optional
        Frames read and background-subtracted at once; by default from the
        memory budget.
    bin_pixels : int, optional
        Sum the background-subtracted frames over square bins of this side
        before the temporal correlation. By default 1 (no binning) unless the
        lags do not fit the memory budget (see Notes).
    memory_bytes : int, optional
        Working-memory budget of the computation; by default that of
        :mod:`smlmlp.computer` (96 MiB on the CPU, 1 GiB on the GPU, less when
        memory is short).
    progress : callable, optional
        Called as ``progress(frames_done, frames_total)``; every frame is read
        twice, so ``frames_total`` is twice the frames of all channels.
    names : sequence of str, optional
        The channels' names in messages and warnings (default "channel 0",
        "channel 1", ...).
    full_output : bool, optional
        Also return, third, ``{"on_time_se": ..., "on_time_frames_se": ...,
        "n_groups": ...}``: the standard error of the on-time (ms, and in frames)
        from a delete-one-group jackknife over groups of frames (those of
        :func:`smlmlp.block_sums.plan_blocks`; a lag pair belongs to the group of its
        later frame), NaN with fewer than 5 groups or no decay; and
        ``"bin_pixels"``, ``"pair_gain"``: per channel, the pixel bins the
        memory budget chose and the factor divided out of its curve
        (:func:`smlmlp.temporal.pair_gain`). ``info`` is
        unchanged.
    fiducials : bool, optional
        Find fiducial markers (bright spots that never blink, such as beads) in
        frames sampled over each channel and leave their pixels out
        (:mod:`smlmlp.fiducials`, the same pixels as :func:`smlmlp.blink_spatial_psf`
        leaves out: a bead's flicker under the laser or its motion on a vibrating
        stage would swamp the blinking); False keeps them.

    Returns
    -------
    tuple
        A tuple (on_time, info) where:

        - on_time is one float for all channels, in milliseconds: the fitted
          correlation time of the blinking times the exposure (see Notes);
          NaN when no decay is found,
        - info is a dictionary with the following keys:

        'ac'
            List with one array per channel: the mean temporal autocovariance
            per pixel (ADU^2) at lags ``1 .. crop_fr``.
        'average'
            Mean of the 'ac' curves over the channels.
        'fit'
            Fitted decay ``a * exp(-lag / tau) + c`` on the same lags (NaN when
            no decay is found).
        'time'
            Lag axis in milliseconds, ``lags * exposure_ms``.

    Raises
    ------
    TypeError, ValueError
        Naming the channel or argument: not a sequence of 3-D stacks, fewer than
        3 frames, ``crop_fr`` not an integer, below 1 or not below the frames of
        a channel, fewer than 4 frames with ``crop_fr=None``, non-positive
        ``psf_sigma_nm`` or ``exposure_ms``, a ``psf_sigma_nm`` sequence whose
        length is not the number of channels, invalid pixel sizes, NaN or
        infinite pixels, a constant stack, or ``cuda=True`` where CuPy or a CUDA
        device is missing.

    Warns
    -----
    RuntimeWarning
        For each channel whose curve shows no decay above the noise (pure
        noise), and when the average shows none (on_time is NaN).

    Notes
    -----
    What is returned. An emitter that switches off with rate ``k_off`` and on
    with rate ``k_on`` gives, for lags of one frame or more (also when the
    signal is integrated over each exposure), an autocorrelation proportional
    to ``exp(-lag * (k_on + k_off))``. The fitted decay constant is the
    correlation time ``tau = 1 / (k_on + k_off)``, which equals the mean on-time
    ``1 / k_off`` times ``1 - p_on``, ``p_on`` the fraction of time an emitter
    is on. ``p_on`` cannot be told from the autocorrelation alone, so on_time is
    ``tau * exposure_ms``: within ``p_on`` (relative) of the mean on-time, e.g.
    within 5 % for ``p_on <= 0.05``, as in SMLM conditions.

    Curves. For each pixel, ``b_t = (1 - G)^2 * x_t`` (``G`` the Gaussian filter,
    the frame extended by its edge pixels: the smooth copy subtracted, then the
    smooth copy of what is left subtracted again, so that a background that changes
    slowly in time, out-of-focus haze, leaves almost nothing;
    :mod:`smlmlp.temporal`) is centred on its own temporal mean. The curve at lag
    ``l`` sums the products of each pixel at one frame with its four nearest
    neighbours ``l`` frames earlier, over the ``n_frames - l`` frame pairs, divided
    by ``n_frames - l`` and by the number of pixels, and then by the gain that makes
    it the autocovariance of one pixel's blinking
    (:func:`smlmlp.temporal.pair_gain`, from the PSF and the filter). A pixel is
    never multiplied by itself, so whatever is independent from pixel to pixel
    leaves the curve: noise, and the slow flicker that the pixel-to-pixel gain
    differences of an sCMOS camera make of a changing background.
    The per-pixel mean comes from a first pass over the movie (the filter and
    binning are linear, so the mean frame gives it exactly); the products are
    accumulated in a second pass with FFTs along time in blocks, in float64,
    with memory that does not depend on the number of frames
    (:mod:`smlmlp.temporal`). The result equals the direct computation up to
    rounding.

    Memory and binning. A block of ``B`` frames is correlated with the
    ``crop_fr`` frames before it, so ``crop_fr + B`` frames of the
    background-subtracted movie and of its neighbours' sums are held. When
    ``crop_fr + max(crop_fr, 64)`` full frames of both do not fit half of the
    memory budget, pixels are summed over the smallest ``k x k`` bins that fit
    (``bin_pixels`` sets ``k``); each bin's pixels are then split as on a
    checkerboard and the two halves multiplied. Binning leaves the decay
    unchanged, since all correlated pixel pairs are lit by the same blinking
    emitters; it only changes the curve's amplitude, which the gain divides
    out: the curves are those of single pixels, to a few percent, whatever the
    budget (``errors`` holds each channel's ``bin_pixels`` and ``pair_gain``). A
    RuntimeWarning is given when the bins exceed twice the background filter
    width, where the subtraction cancels most of an emitter's signal within a
    bin: pass a smaller ``crop_fr`` (the fit needs about ``10 * tau`` lags). With
    ``crop_fr=None`` the lags grow with the movie, so memory stays bounded by
    binning long movies more coarsely; for long movies pass ``crop_fr``.

    Average and fit. The channels see the same emitters, so their curves share
    the decay; 'average' is their plain mean, which weights each channel by its
    fluctuation power (a channel with little signal adds little). The fit
    leaves out the zero lag (where noise correlated between neighbouring pixels,
    if the camera has any, would sit) and uses lags ``1 .. max(12, 10 tau)``,
    the range iterated with ``tau``, with an offset ``c`` for the bias of the
    finite-series centring and slow drifts (:func:`smlmlp.temporal.fit_decay`).
    A decay whose lag-1 value is below 5 times the lag-to-lag scatter of the
    curve, or whose ``tau`` lies at an end of the search range, is not
    reported: on_time is NaN with a RuntimeWarning, never a search bound.

    Examples
    --------
    Estimate the on-time of one channel:

    >>> from smlmlp.simulation import simulate_movie
    >>> movie, truth = simulate_movie(
    ...     800, (24, 24), on_time_frames=4.0, on_probability=0.02, seed=1
    ... )
    >>> on_time, info = blink_temporal_on([movie], 60, exposure_ms=10.0)
    >>> sorted(info.keys())
    ['ac', 'average', 'fit', 'time']
    >>> len(info["ac"][0]), float(info["time"][0])
    (60, 10.0)
    >>> bool(abs(on_time / (10.0 * truth["correlation_time_frames"]) - 1) < 0.1)
    True

    Several channels with their own PSF widths and pixel sizes:

    >>> second, _ = simulate_movie(
    ...     800, (20, 20), on_time_frames=4.0, on_probability=0.02, seed=2
    ... )
    >>> on_time, info = blink_temporal_on(
    ...     [movie, second],
    ...     60,
    ...     psf_sigma_nm=[130.0, 130.0],
    ...     channels_pixels_nm=[(100.0, 100.0), (110.0, 110.0)],
    ... )
    >>> len(info["ac"]), info["average"].shape
    (2, (60,))
    """
    stacks = check_channels(channels, cuda=bool(cuda))
    if names is None:
        names = [f"channel {index}" for index in range(len(stacks))]
    if isinstance(names, str) or len(names) != len(stacks):
        raise ValueError(f"names: expected one name per channel ({len(stacks)}), got {names!r}")
    names = [str(name) for name in names]
    frames = [int(stack.shape[0]) for stack in stacks]  # each >= 3 (check_channels)
    lags_count = _check_crop_fr(crop_fr, frames, names)
    sigmas_nm = _check_psf_sigmas(psf_sigma_nm, len(stacks))
    exposure = positive_number(exposure_ms, "exposure_ms")
    pixels_nm = Config(len(stacks), channels_pixels_nm=channels_pixels_nm).pixels_nm
    chunk = _optional_count(chunk_frames, "chunk_frames")
    binning = _optional_count(bin_pixels, "bin_pixels")
    budget = _optional_count(memory_bytes, "memory_bytes")
    if budget is None:  # the machine is probed here, by the entry point
        budget = default_budget_bytes(bool(cuda))
    if cuda:
        get_backend(cuda=True)  # fail before any work when the GPU is missing

    total = 2 * sum(frames)
    done_before = 0
    # groups of frames for the jackknife, the same time spans in every channel
    group_frames = plan_blocks(min(frames))[1]
    results: list[TemporalAutocovariance] = []
    gains: list[float] = []
    for index, stack in enumerate(stacks):
        name = names[index]
        pixel_y, pixel_x = pixels_nm[index]
        sigma_px = (
            BACKGROUND_SIGMAS * sigmas_nm[index] / pixel_y,
            BACKGROUND_SIGMAS * sigmas_nm[index] / pixel_x,
        )

        def report(done: int, _total: int, offset: int = done_before) -> None:
            if progress is not None:
                progress(offset + done, total)

        result = accumulate_temporal(
            stack,
            lags_count,
            sigma_px,
            group_frames=group_frames,
            cuda=bool(cuda),
            parallel=bool(parallel),
            memory_bytes=budget,
            bin_pixels=binning,
            chunk_frames=chunk,
            progress=report,
            name=name,
            fiducials=bool(fiducials),
        )
        if result.bin_pixels > MAX_USEFUL_BIN_SIGMAS * max(sigma_px):
            warnings.warn(
                f"{name}: {lags_count} lags fit the memory budget only with "
                f"{result.bin_pixels}x{result.bin_pixels} pixel bins, wider than the "
                "background filter: most of the blinking signal cancels; lower crop_fr "
                "or raise memory_bytes",
                RuntimeWarning,
                stacklevel=3,
            )
        results.append(result)
        psf_px = (sigmas_nm[index] / pixel_y, sigmas_nm[index] / pixel_x)
        frame_shape = (int(stack.shape[1]), int(stack.shape[2]))
        gains.append(pair_gain(result.bin_pixels, frame_shape, psf_px, sigma_px))
        done_before += 2 * frames[index]

    # per original pixel, whatever bins the memory budget chose
    curves = [r.autocovariance()[1:] / g for r, g in zip(results, gains, strict=True)]
    for index, curve in enumerate(curves):
        channel_fit = fit_decay(curve)
        if not channel_fit.valid:
            warnings.warn(
                f"{names[index]}: no on-time from its temporal autocorrelation: "
                f"{channel_fit.reason}",
                RuntimeWarning,
                stacklevel=3,
            )
    average = np.mean(curves, axis=0)
    decay = fit_decay(average)
    lags = np.arange(1, lags_count + 1, dtype=np.float64)
    if not decay.valid:
        warnings.warn(
            f"on_time is NaN: no decay in the temporal autocorrelation averaged over "
            f"{len(curves)} channel(s): {decay.reason}",
            RuntimeWarning,
            stacklevel=3,
        )
    info: dict[str, Any] = {
        "ac": curves,
        "average": average,
        "fit": decay.model(lags),
        "time": lags * exposure,
    }
    if not full_output:
        return float(decay.tau * exposure), info
    tau_se, groups = _jackknife_tau(results, gains, decay.tau)
    errors = {
        "on_time_se": tau_se * exposure,
        "on_time_frames_se": tau_se,
        "n_groups": groups,
        "bin_pixels": [int(result.bin_pixels) for result in results],
        "pair_gain": gains,
    }
    return float(decay.tau * exposure), info, errors


def _jackknife_tau(
    results: Sequence[Any], gains: Sequence[float], tau: float
) -> tuple[float, int]:
    """Delete-one-group jackknife standard error of the decay of the average curve.

    Every channel drops the same group of frames (the groups start at the same
    frames in every channel); groups only some channels reach are dropped where
    they exist.
    """
    starts = sorted({int(v) for result in results for v in result.group_first})
    if len(starts) < MIN_JACKKNIFE_GROUPS or not math.isfinite(tau):
        return math.nan, len(starts)
    replicates = []
    for start in starts:
        curves = []
        for result, gain in zip(results, gains, strict=True):
            where = np.flatnonzero(result.group_first == start)
            leave_out = int(where[0]) if len(where) else None
            curves.append(result.autocovariance(leave_out=leave_out)[1:] / gain)
        replicate = fit_decay(np.mean(curves, axis=0))
        if not replicate.valid:
            return math.nan, len(starts)
        replicates.append(replicate.tau)
    values = np.asarray(replicates)
    groups = len(values)
    return float(math.sqrt((groups - 1) / groups * np.sum((values - values.mean()) ** 2))), groups
