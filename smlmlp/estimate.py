"""The estimate stage: block sums -> PSF, Gaussian fit, spline, standard errors, verdict.

Every entry point (:func:`smlmlp.blink_spatial_psf`, the ``smlmlp psf`` command
and the workflow's ``psf`` rule) ends in :func:`estimate_from_sums`, so they share
its checks and messages.

Standard errors
---------------
The frames are summed in groups of whole blocks (:mod:`smlmlp.block_sums`, 20 to 39
groups in a movie of 400 frames or more). Leaving one group out at a time and
fitting again gives the delete-one-group jackknife::

    SE^2 = (G - 1) / G * sum_g (p_(-g) - mean_g p_(-g))^2

for every fitted number ``p`` (sigx, sigy, theta, psf_sigma). Movies cut into
more groups (for windows of frames) are left out a run of consecutive groups at
a time, at most :data:`MAX_JACKKNIFE_UNITS` runs. Each block's own
mean is subtracted, so a group's sums hold no frame of another group; and the
groups last tens of frames or more, long compared with blinking correlation
times, so they are nearly independent, as the jackknife needs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .ac_fit import AutocorrelationFit, fit_autocorrelation, fit_autocorrelations, fit_sensitivities
from .ac_model import _cholesky_factors, widths_from_covariance
from .block_sums import CONSTANT_STACK, BlockSums, crop_size, jackknife_projections
from .psf import PsfEstimate, estimate_psf

#: Fewest groups that give a standard error at all.
MIN_JACKKNIFE_GROUPS = 5
#: Fewest groups for a standard error to be trusted (fewer: QC "warn").
MIN_RELIABLE_GROUPS = 20
#: Most units (runs of consecutive groups) left out one at a time.
MAX_JACKKNIFE_UNITS = 39
#: Largest relative standard error of psf_sigma for QC "valid".
MAX_RELATIVE_SE = 0.03
#: Relative difference of sigx and sigy below which theta means nothing, when
#: the standard errors cannot tell.
ROUND_RELATIVE_DIFFERENCE = 0.01
#: Fraction of the pixel values at the movie's ceiling from which the verdict warns
#: of saturation: clipping emitters' peaks widens the PSF (the saturation rows of
#: docs/accuracy.md's artifacts table: +0.1 % at about 0.08 % of the values, +0.9 % at
#: 0.5 %).
SATURATION_WARNING = 1e-4
#: Fraction of the pixel values at a floor of zero or below from which the verdict
#: warns that negative values were clipped (after an offset or background
#: subtraction): it narrows the PSF (the "clipped at zero" rows of docs/accuracy.md's
#: artifacts table). A raw movie keeps its camera offset, so its smallest value is a
#: rare draw.
FLOOR_WARNING = 0.05
#: ... when they pile up there: at least this many times as many values at the floor
#: as one above it. Clipped camera noise spreads over many levels, so its pile-up
#: stands far above the next level (more than ten times in tests/test_clipping.py's
#: movie clipped at its median), while photon counts without an offset have zero as
#: their own floor, about as common as one (a background of lambda photons: 1 / lambda
#: times), which is no clipping.
FLOOR_PILE_UP = 3.0


def check_not_constant(sums: BlockSums, name: str) -> None:
    """Raise when the sums' zero lag (the temporal variance, each frame's mean level
    left out: :mod:`smlmlp.block_sums`) is not positive: before the fit by the halves'
    mean levels, which only takes away (to rounding, where there is nothing)."""
    centre = sums.stored_crop // 2
    if not sums.ac_sums[:, centre, centre].sum() > 0.0:
        raise ValueError(
            f"{name}: {CONSTANT_STACK}, or only by a level shared by the whole frame; "
            "a PSF needs blinking"
        )


def jackknife_errors(
    sums: BlockSums,
    crop_pix: int,
    pixel_nm: tuple[float, float],
    fit: AutocorrelationFit,
    *,
    refit: bool = False,
    ac: np.ndarray | None = None,
) -> tuple[dict[str, float], int]:
    """Delete-one-group jackknife standard errors of the widths.

    Each replicate's widths come from the linear response of the fit
    (:func:`smlmlp.ac_fit.fit_sensitivity`, chained with the derivatives of the
    widths): leaving out a twentieth of the frames moves the fit so little that
    the response is exact to far below the standard error, at the cost of a
    matrix product instead of a fit per replicate; the response is taken through
    to the groups' sums (:func:`smlmlp.block_sums.jackknife_projections`), so no
    replicate's crop is made. ``refit=True`` makes every replicate's crop and fits
    it instead (for checks).

    Parameters
    ----------
    sums : BlockSums
        The channel's sums.
    crop_pix : int
        Crop of the fit.
    pixel_nm : tuple of float
        ``(y, x)`` pixel size in nm.
    fit : AutocorrelationFit
        The fit of all the groups (start of every replicate, and the angle the
        replicates' angles are measured near).
    refit : bool, optional
        Fit every replicate (slower; the linear response otherwise).
    ac : ndarray, optional
        ``sums.autocorrelation(crop_pix)`` when at hand (not worked out again
        where the jackknife leaves out one group at a time).

    Returns
    -------
    tuple
        ``({"sigx": se, "sigy": se, "theta": se, "psf_sigma": se}, groups)``,
        NaN with fewer than :data:`MIN_JACKKNIFE_GROUPS` groups or when a
        replicate fails.
    """
    if not refit:
        return parts_jackknife_errors([(sums, fit, ac)], crop_pix, pixel_nm)[0]
    used = np.flatnonzero(sums.dof > 0)
    if len(used) < MIN_JACKKNIFE_GROUPS:
        return dict.fromkeys(JACKKNIFE_NAMES, math.nan), int(len(used))
    _, _, theta = fit.widths()
    replicates = []
    for left_out in _jackknife_units(sums, crop_size(crop_pix)).leave_one_out(crop_pix):
        replicate = fit_autocorrelation(left_out, pixel_nm, start=fit.parameters)
        sigx, sigy, angle = replicate.widths(near_deg=theta)
        replicates.append((sigx, sigy, angle, math.sqrt(sigx * sigy)))
    return _standard_errors(np.asarray(replicates)), len(replicates)


#: The numbers the jackknife gives a standard error, in the order of its values.
JACKKNIFE_NAMES = ("sigx", "sigy", "theta", "psf_sigma")


def parts_jackknife_errors(
    parts: Sequence[tuple[BlockSums, AutocorrelationFit, np.ndarray | None]],
    crop_pix: int,
    pixel_nm: tuple[float, float],
) -> list[tuple[dict[str, float], int]]:
    """:func:`jackknife_errors` (linear response) of several ``(sums, fit, ac)``
    parts of a movie; the parts that share their groups (the tiles of the field)
    are projected in one call of :func:`smlmlp.block_sums.jackknife_projections`."""
    size = crop_size(crop_pix)
    results: list[tuple[dict[str, float], int] | None] = [None] * len(parts)
    chosen = []  # (index, units, crop of all the groups, fit)
    for index, (sums, fit, ac) in enumerate(parts):
        used = np.flatnonzero(sums.dof > 0)
        if len(used) < MIN_JACKKNIFE_GROUPS:
            results[index] = dict.fromkeys(JACKKNIFE_NAMES, math.nan), int(len(used))
            continue
        units = _jackknife_units(sums, size)
        # units of one group each are the groups, in the same order: the same sums
        everything = ac
        if everything is None or units.n_groups != len(used):
            everything = units.autocorrelation(size)
        chosen.append((index, units, everything, fit))
    if not chosen:
        return results
    # the fits' linear responses, all at once, chained with the widths' derivatives
    sensitivities = fit_sensitivities(
        [everything for _, _, everything, _ in chosen], pixel_nm, [fit for *_, fit in chosen]
    )
    pending: dict[tuple, list[tuple[int, BlockSums, np.ndarray]]] = {}
    for (index, units, _, fit), sensitivity in zip(chosen, sensitivities, strict=True):
        response = _width_derivatives(fit.parameters, fit.widths()[2]) @ sensitivity
        alike = (units.frame_shape, units.dof.tobytes(), units.level_bins.shape[1:])
        pending.setdefault(alike, []).append((index, units, response.reshape(-1, size, size)))
    for batch in pending.values():
        stack = [units for _, units, _ in batch]
        values = jackknife_projections(
            *(_stacked([getattr(units, name) for units in stack]) for name in _PROJECTED),
            stack[0].dof,
            stack[0].frame_shape,
            np.stack([response for *_, response in batch]),
        )
        for (index, _, _), part_values in zip(batch, values, strict=True):
            results[index] = _standard_errors(part_values), len(part_values)
    return results


#: The sums :func:`~smlmlp.block_sums.jackknife_projections` takes, in its order.
_PROJECTED = ("ac_sums", "coverage_sums", "level_bins", "level_spread")


def _stacked(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays stacked on a new first axis: a read-only view where they are
    evenly spaced views of one array (the tiles' sums, regions of one store), else
    a copy."""
    first = arrays[0]
    addresses = [array.__array_interface__["data"][0] for array in arrays]
    steps = np.diff(addresses)
    if len(arrays) > 1 and all(
        array.base is not None
        and array.base is first.base
        and array.shape == first.shape
        and array.strides == first.strides
        and array.dtype == first.dtype
        for array in arrays
    ) and np.all(steps == steps[0]):
        return np.lib.stride_tricks.as_strided(
            first, (len(arrays), *first.shape), (int(steps[0]), *first.strides), writeable=False
        )
    return np.stack(arrays)


def _standard_errors(values: np.ndarray) -> dict[str, float]:
    """The jackknife's standard errors from its replicates' values (or their changes)
    ``(groups, 4)``: NaN all where one is not finite."""
    groups = len(values)
    with np.errstate(invalid="ignore"):
        spread = ((values - values.mean(axis=0)) ** 2).sum(axis=0)
        errors = np.sqrt((groups - 1) / groups * spread)
    if not np.all(np.isfinite(errors)):
        errors = np.full(len(JACKKNIFE_NAMES), math.nan)
    return dict(zip(JACKKNIFE_NAMES, (float(e) for e in errors), strict=True))


def _jackknife_units(sums: BlockSums, size: int) -> BlockSums:
    """The groups holding frames, as at most :data:`MAX_JACKKNIFE_UNITS` runs of
    consecutive groups, their crops trimmed to ``size``: the units left out one at
    a time (summed once, so each replicate costs a subtraction, not a sum)."""
    used = np.flatnonzero(sums.dof > 0)
    per_unit = -(-len(used) // MAX_JACKKNIFE_UNITS)
    starts = np.arange(0, len(used), per_unit)
    trim = (sums.stored_crop - size) // 2
    crop = (slice(None), slice(trim, trim + size), slice(trim, trim + size))

    every_group = len(used) == len(sums.dof)

    def summed(values: np.ndarray) -> np.ndarray:
        chosen = values if every_group else values[used]  # a view where it can
        if per_unit == 1:
            return chosen
        # a sum per unit (numpy's reduceat is several times slower along the first axis)
        return np.stack([chosen[first : first + per_unit].sum(axis=0) for first in starts])

    return BlockSums(
        frame_shape=sums.frame_shape,
        block_frames=sums.block_frames,
        group_frames=sums.group_frames,
        first_frames=sums.first_frames[used][starts],
        n_frames=summed(sums.n_frames),
        dof=summed(sums.dof),
        ac_sums=summed(sums.ac_sums[crop]),
        coverage_sums=summed(sums.coverage_sums[crop]),
        level_bins=summed(sums.level_bins),
        level_spread=summed(sums.level_spread),
    )


def _width_derivatives(parameters: np.ndarray, near_deg: float) -> np.ndarray:
    """``d(sigx, sigy, theta, psf_sigma) / d(parameters)``, ``(4, 3)``, central differences
    (the covariances of all the points ahead and behind in one call)."""
    parameters = np.asarray(parameters, dtype=np.float64)
    step = 1e-6
    deltas = step * np.eye(len(parameters))
    lower, _ = _cholesky_factors(np.concatenate([parameters + deltas, parameters - deltas]))
    covariances = lower @ lower.transpose(0, 2, 1)
    widths = []
    for covariance in covariances:
        sigx, sigy, theta = widths_from_covariance(covariance, near_deg)
        widths.append((sigx, sigy, theta, math.sqrt(sigx * sigy)))
    ahead, behind = np.split(np.asarray(widths), 2)
    return ((ahead - behind) / (2.0 * step)).T


def is_round(sigx: float, sigy: float, sigx_se: float, sigy_se: float, sigma: float) -> bool:
    """Whether a PSF is round within its errors, so that its angle means nothing: sigx
    and sigy closer than twice their combined standard error, or, without standard
    errors, than :data:`ROUND_RELATIVE_DIFFERENCE` of ``sigma``.

    >>> is_round(130.0, 128.0, 1.0, 1.0, 129.0), is_round(130.0, 120.0, 1.0, 1.0, 124.9)
    (True, False)
    >>> is_round(130.0, 129.0, float("nan"), float("nan"), 129.5)
    True
    """
    spread = math.hypot(sigx_se, sigy_se)
    if math.isfinite(spread):
        return abs(sigx - sigy) < 2.0 * spread
    return abs(sigx - sigy) < ROUND_RELATIVE_DIFFERENCE * sigma


def _verdict(estimate: PsfEstimate) -> tuple[str, tuple[str, ...], bool]:
    """QC verdict, its notes, and whether the PSF is round within its errors. A note
    never holds "; ", which joins the notes in the info file."""
    if not estimate.valid:
        return "invalid", estimate.qc_notes, False
    notes = []
    round_psf = is_round(
        estimate.sigx, estimate.sigy, estimate.sigx_se, estimate.sigy_se, estimate.psf_sigma
    )
    if round_psf:
        notes.append(
            "near-round PSF: sigx and sigy agree within their errors, theta is meaningless"
        )
    if estimate.n_groups < MIN_RELIABLE_GROUPS:
        notes.append(
            f"too few frames: {estimate.n_groups} groups of frames for the standard errors "
            f"(at least {MIN_RELIABLE_GROUPS} wanted), record more frames"
        )
    relative = estimate.psf_sigma_se / estimate.psf_sigma
    if math.isfinite(relative) and relative > MAX_RELATIVE_SE:
        notes.append(
            f"relative standard error of sigma {100 * relative:.1f} % > "
            f"{100 * MAX_RELATIVE_SE:.0f} %"
        )
    elif not math.isfinite(relative):
        notes.append("no standard error")
    if estimate.saturated_fraction >= SATURATION_WARNING:
        notes.append(
            f"saturated pixels: {100 * estimate.saturated_fraction:.2g} % of the pixel values "
            f"are at the movie's ceiling ({estimate.ceiling_adu:g}), where clipped emitters "
            "widen the PSF (lower the camera gain or the excitation)"
        )
    piled_up = estimate.floor_fraction >= FLOOR_PILE_UP * estimate.above_floor_fraction
    if estimate.floor_adu <= 0 and estimate.floor_fraction >= FLOOR_WARNING and piled_up:
        notes.append(
            f"clipped at zero: {100 * estimate.floor_fraction:.2g} % of the pixel values are at "
            f"the movie's floor ({estimate.floor_adu:g}), as where negative values were set to "
            "zero after an offset or background subtraction, which narrows the PSF (give the "
            "raw movie)"
        )
    if estimate.dropped_frames:
        notes.append(
            f"dropped frames: {estimate.dropped_frames} of {estimate.n_frames} frames hold one "
            "value in every pixel (frames the camera or its software failed to deliver), "
            "left out"
        )
    if estimate.fiducials:
        notes.append(
            f"fiducials: {estimate.fiducials} bright spot(s) that never blink (beads) found, "
            f"their {estimate.masked_pixels} pixels left out (a vibrating stage would have "
            "made them narrow the PSF)"
        )
    # a round PSF, dropped frames or fiducials (left out) take nothing from the widths
    kept_out = ("near-round", "dropped", "fiducials")
    significant = [note for note in notes if not note.startswith(kept_out)]
    return ("warn" if significant or round_psf else "valid"), tuple(notes), round_psf


def estimate_from_sums(
    sums: BlockSums,
    crop_pix: Any,
    pixel_nm: tuple[float, float],
    *,
    name: str = "channel 0",
    errors: bool = True,
    time_windows: int = 1,
    start: np.ndarray | None = None,
    images: bool = True,
) -> PsfEstimate:
    """PSF, Gaussian fit, spline, standard errors and QC verdict of one channel.

    Parameters
    ----------
    sums : BlockSums
        From :func:`smlmlp.spectra.accumulate_spectrum` (merged with
        :func:`smlmlp.block_sums.merge_sums` when the movie was cut).
    crop_pix : int
        Crop size (at least 5; made odd).
    pixel_nm : tuple of float
        ``(y, x)`` pixel size in nm.
    name : str, optional
        The channel as the caller names it, first in every message.
    errors : bool, optional
        Compute the jackknife standard errors (one more fit per group).
    time_windows : int, optional
        With more than one, also the PSF in that many consecutive windows of
        frames (:func:`smlmlp.time_windows.estimate_time_windows`), in
        ``sections["time"]``, their fits started from this one.
    start : ndarray, optional
        Start of the fit (see :func:`smlmlp.psf.estimate_psf`).
    images : bool, optional
        Make the PSF image and its spline (see :func:`smlmlp.psf.estimate_psf`).

    Returns
    -------
    PsfEstimate
        With NaN widths, QC ``"invalid"`` and a ``RuntimeWarning`` when no PSF is
        found (pure noise).

    Raises
    ------
    TypeError, ValueError
        Naming the channel or argument: a bad crop, fewer than 2 frames, frames
        smaller than the crop, a stack without fluctuation.

    Examples
    --------
    >>> from smlmlp.simulation import simulate_movie
    >>> from smlmlp.spectra import accumulate_spectrum
    >>> movie, _ = simulate_movie(400, (48, 48), sigx_nm=130.0, sigy_nm=130.0, seed=3)
    >>> estimate = estimate_from_sums(accumulate_spectrum(movie), 21, (100.0, 100.0))
    >>> abs(estimate.psf_sigma / 130.0 - 1) < 3 * estimate.psf_sigma_se / 130.0 + 0.01
    True
    >>> estimate.n_groups, estimate.qc in ("valid", "warn")
    (20, True)
    """
    size = crop_size(crop_pix)
    ac = sums.autocorrelation(size, name=name)
    check_not_constant(sums, name)
    estimate = _estimate_from_crop(
        sums, ac, pixel_nm, name=name, errors=errors, start=start, images=images
    )
    if time_windows != 1:
        from .time_windows import estimate_time_windows

        windows = estimate_time_windows(
            sums, time_windows, size, estimate.pixel_nm, name=name, start=fit_start(estimate)
        )
        estimate.sections["time"] = windows.as_arrays()
    return estimate


def _estimate_from_crop(
    sums: BlockSums,
    ac: np.ndarray,
    pixel_nm: tuple[float, float],
    *,
    name: str,
    errors: bool,
    start: np.ndarray | None,
    images: bool,
    fit: AutocorrelationFit | None = None,
) -> PsfEstimate:
    """:func:`estimate_from_sums` (no windows) from the sums' checked crop ``ac``;
    ``fit``, the fit of ``ac`` when made already (:func:`estimate_parts`)."""
    estimate = _fitted(sums, ac, pixel_nm, name=name, start=start, images=images, fit=fit)
    error = None
    if errors and _has_errors(estimate):
        [error] = parts_jackknife_errors([(sums, estimate.ac_fit, ac)], ac.shape[0], pixel_nm)
    return _judged(estimate, sums, error)


def _fitted(
    sums: BlockSums,
    ac: np.ndarray,
    pixel_nm: tuple[float, float],
    *,
    name: str,
    start: np.ndarray | None,
    images: bool,
    fit: AutocorrelationFit | None,
) -> PsfEstimate:
    """The fit of the crop ``ac`` and what the sums say of the movie (saturation,
    clipping, dropped frames); no standard errors or verdict yet."""
    estimate = estimate_psf(ac, pixel_nm, name=name, start=start, images=images, fit=fit)
    ceiling, saturated = sums.saturation()
    floor, at_floor = sums.floor_clipping()
    return replace(
        estimate,
        ceiling_adu=ceiling,
        saturated_fraction=saturated,
        floor_adu=floor,
        floor_fraction=at_floor,
        above_floor_fraction=sums.above_floor(),
        dropped_frames=int(sums.dropped_frames.sum()),
        fiducials=sums.fiducials,
        masked_pixels=sums.masked_pixels,
        n_frames=int(sums.n_frames.sum()),
        n_groups=int(np.count_nonzero(sums.dof > 0)),
    )


def _has_errors(estimate: PsfEstimate) -> bool:
    """Whether the jackknife can give the estimate standard errors (a PSF was found)."""
    return estimate.valid and estimate.ac_fit is not None


def _judged(
    estimate: PsfEstimate, sums: BlockSums, error: tuple[dict[str, float], int] | None
) -> PsfEstimate:
    """The estimate with its standard errors ``error`` (from the jackknife, or None)
    and its QC verdict."""
    if error is not None:
        se, groups = error
        estimate = replace(
            estimate,
            sigx_se=se["sigx"],
            sigy_se=se["sigy"],
            theta_se=se["theta"],
            psf_sigma_se=se["psf_sigma"],
            n_groups=groups,
        )
    qc, notes, round_psf = _verdict(estimate)
    return replace(estimate, qc=qc, qc_notes=notes, round=round_psf)


#: The widths of the estimates of parts of a movie (windows of frames, tiles of the
#: field), each with a ``_se`` twin: nm, nm, degrees, nm.
PART_WIDTHS = ("sigx_nm", "sigy_nm", "theta_deg", "psf_sigma_nm")


def fit_start(estimate: PsfEstimate) -> np.ndarray | None:
    """Where the fits of parts of a movie start: the whole movie's fit (None when
    it found no PSF: each part then searches its own start)."""
    return estimate.ac_fit.parameters if estimate.valid and estimate.ac_fit else None


def estimate_parts(
    parts: Sequence[tuple[BlockSums, str]],
    crop_pix: Any,
    pixel_nm: tuple[float, float],
    *,
    start: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], list[PsfEstimate]]:
    """Estimate each ``(sums, name)`` part, its warnings held back, each fit from
    ``start`` (:func:`fit_start`; a part is a share of the movie, its PSF near the
    whole movie's), all the parts' fits in lock step
    (:func:`smlmlp.ac_fit.fit_autocorrelations`).

    Returns
    -------
    tuple
        ``({width: (n,) array, width_se: (n,) array}, estimates)`` for the names in
        :data:`PART_WIDTHS`, NaN where a part holds no PSF (``estimate.valid`` is
        False: the caller says which parts, once).
    """
    keys = [*PART_WIDTHS, *(f"{key}_se" for key in PART_WIDTHS)]
    values = {key: np.full(len(parts), math.nan) for key in keys}
    size = crop_size(crop_pix)
    acs = []
    for sums, name in parts:
        acs.append(sums.autocorrelation(size, name=name))
        check_not_constant(sums, name)
    fits = [None] * len(parts)
    if start is not None:
        fits = fit_autocorrelations(acs, pixel_nm, start)
    fitted = []
    for (sums, name), ac, fit in zip(parts, acs, fits, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fitted.append(
                _fitted(sums, ac, pixel_nm, name=name, start=start, images=False, fit=fit)
            )
    # the standard errors of all the parts at once (those that share their groups, in
    # one projection: parts_jackknife_errors)
    with_errors = [index for index, estimate in enumerate(fitted) if _has_errors(estimate)]
    part_errors = dict.fromkeys(range(len(parts)))
    part_errors.update(
        zip(
            with_errors,
            parts_jackknife_errors(
                [(parts[i][0], fitted[i].ac_fit, acs[i]) for i in with_errors], size, pixel_nm
            ),
            strict=True,
        )
    )
    estimates = []
    for index, ((sums, _), estimate) in enumerate(zip(parts, fitted, strict=True)):
        estimate = _judged(estimate, sums, part_errors[index])
        estimates.append(estimate)
        if not estimate.valid:
            continue
        numbers = (estimate.sigx, estimate.sigy, estimate.theta, estimate.psf_sigma)
        errors = (estimate.sigx_se, estimate.sigy_se, estimate.theta_se, estimate.psf_sigma_se)
        for key, number, error in zip(PART_WIDTHS, numbers, errors, strict=True):
            values[key][index] = number
            values[f"{key}_se"][index] = error
    return values, estimates
