"""The estimate stage: standard errors calibrated on simulated truth, verdicts, noise."""

from __future__ import annotations

import math
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from smlmlp import blink_spatial_psf
from smlmlp.ac_fit import fit_sensitivity
from smlmlp.estimate import (
    _jackknife_units,
    _standard_errors,
    _width_derivatives,
    estimate_from_sums,
    jackknife_errors,
    parts_jackknife_errors,
)
from smlmlp.simulation import simulate_movie
from smlmlp.spectra import accumulate_spectrum

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import se_calibration  # noqa: E402

MOVIES_PER_CONDITION = 40


@pytest.fixture(scope="module")
def calibration_runs() -> dict[str, np.ndarray]:
    return se_calibration.run(MOVIES_PER_CONDITION)


@pytest.mark.slow
@pytest.mark.parametrize("condition", list(se_calibration.CONDITIONS))
def test_standard_error_of_sigma_is_calibrated(calibration_runs, condition):
    """+-1.96 SE covers the truth in 90-98 % of the movies; mean SE = seed-to-seed spread."""
    runs = calibration_runs[condition]
    assert runs.shape == (MOVIES_PER_CONDITION, 6)
    assert np.all(np.isfinite(runs[:, 3:])) and np.all(runs[:, 3:] > 0)
    covered, ratio = se_calibration.calibration(runs)["psf_sigma"]
    assert 0.90 <= covered <= 0.98, covered
    assert 0.75 <= ratio <= 1.25, ratio


@pytest.mark.slow
@pytest.mark.parametrize("condition", list(se_calibration.CONDITIONS))
def test_standard_errors_of_the_axes_follow_the_spread(calibration_runs, condition):
    """Looser than for sigma: measured 0.73-1.13 of the spread over 40 movies (whose own
    standard deviation is known to +-11 %), coverage 85-100 %."""
    table = se_calibration.calibration(calibration_runs[condition])
    for name in ("sigx", "sigy"):
        covered, ratio = table[name]
        assert 0.7 <= ratio <= 1.3, (name, ratio)
        assert covered >= 0.8, (name, covered)


def test_standard_errors_shrink_with_more_frames():
    options = {"sigx_nm": 130.0, "sigy_nm": 130.0, "camera": "scmos", "seed": 7}
    short, _ = simulate_movie(400, (64, 64), **options)
    long, _ = simulate_movie(1600, (64, 64), **options)
    few = estimate_from_sums(accumulate_spectrum(short), 21, (100.0, 100.0))
    many = estimate_from_sums(accumulate_spectrum(long), 21, (100.0, 100.0))
    # four times the frames: about half the error
    assert 0.3 < many.psf_sigma_se / few.psf_sigma_se < 0.75


def test_a_round_psf_says_theta_is_meaningless():
    movie, _ = simulate_movie(800, (64, 64), sigx_nm=130.0, sigy_nm=130.0, seed=2)
    estimate = estimate_from_sums(accumulate_spectrum(movie), 21, (100.0, 100.0))
    assert estimate.round and estimate.qc == "warn"
    assert any("theta is meaningless" in note for note in estimate.qc_notes)
    elliptic, _ = simulate_movie(800, (64, 64), sigx_nm=160.0, sigy_nm=110.0, seed=2)
    estimate = estimate_from_sums(accumulate_spectrum(elliptic), 21, (100.0, 100.0))
    assert not estimate.round
    assert estimate.qc == "valid", estimate.qc_notes
    assert estimate.theta_se < 5.0


def test_few_frames_or_a_large_error_warn():
    movie, _ = simulate_movie(150, (48, 48), sigx_nm=160.0, sigy_nm=110.0, photons=300.0,
                              background=100.0, seed=4)
    estimate = estimate_from_sums(accumulate_spectrum(movie), 21, (100.0, 100.0))
    assert estimate.valid and estimate.qc == "warn"
    assert estimate.n_groups == 8  # 150 frames: blocks of 20
    assert any("too few frames" in note for note in estimate.qc_notes)


def test_noise_is_invalid_with_nan_errors():
    noise = np.random.default_rng(3).random((60, 48, 48))
    with pytest.warns(RuntimeWarning, match="channel 0: no PSF found"):
        estimate = estimate_from_sums(accumulate_spectrum(noise), 21, (100.0, 100.0))
    assert estimate.qc == "invalid" and not estimate.valid
    assert math.isnan(estimate.sigx) and math.isnan(estimate.psf_sigma_se)


def test_jackknife_needs_enough_groups():
    movie, _ = simulate_movie(40, (32, 32), seed=1)
    sums = accumulate_spectrum(movie)  # 2 blocks of 20 frames
    estimate = estimate_from_sums(sums, 11, (100.0, 100.0), errors=False)
    errors, groups = jackknife_errors(sums, 11, (100.0, 100.0), estimate.ac_fit)
    assert groups == 2 and all(math.isnan(value) for value in errors.values())


def test_full_output_returns_the_estimates_and_keeps_info():
    movie, _ = simulate_movie(600, (64, 64), sigx_nm=150.0, sigy_nm=110.0, seed=9)
    psf_sigma, info, estimates = blink_spatial_psf([movie], full_output=True)
    assert len(info) == 10 and len(estimates) == 1
    estimate = estimates[0]
    assert estimate.psf_sigma == psf_sigma[0] and estimate.sigx == info["sigx"][0]
    assert 0 < estimate.psf_sigma_se < 0.05 * estimate.psf_sigma
    assert estimate.n_groups == 30  # 600 frames: 30 blocks of 20 frames
    plain_sigma, plain_info = blink_spatial_psf([movie])
    assert plain_sigma == psf_sigma and plain_info["sigx"] == info["sigx"]


def _noise_run(seed: int) -> tuple[bool, bool, str]:
    """The specification's first example on one noise seed: widths NaN, a warning, no error."""
    channel = np.random.default_rng(seed).random((20, 64, 64)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            psf_sigma, info = blink_spatial_psf([channel], crop_pix=41)
        except Exception as error:  # noqa: BLE001 - any exception is the failure
            return False, False, f"seed {seed}: {type(error).__name__}: {error}"
    warned = any(issubclass(w.category, RuntimeWarning) for w in caught)
    return math.isnan(psf_sigma[0]) and math.isnan(info["sigx"][0]), warned, ""


@pytest.mark.slow
def test_pure_noise_never_raises_over_500_seeds():
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_noise_run, range(500), chunksize=25))
    errors = [message for _, _, message in results if message]
    assert not errors, errors[:3]
    assert all(nan for nan, _, _ in results)
    assert all(warned for _, warned, _ in results)


@pytest.mark.parametrize("theta", [0.0, 40.0])
def test_linear_response_jackknife_equals_refitting_every_replicate(theta):
    """The replicates from the fit's linear response: the same errors as refits, to 3 %."""
    movie, _ = simulate_movie(
        600, (96, 96), sigx_nm=120.0, sigy_nm=150.0, theta_deg=theta, camera="emccd", seed=77
    )
    sums = accumulate_spectrum(movie)
    estimate = estimate_from_sums(sums, 21, (100.0, 100.0), errors=False)
    linear, groups = jackknife_errors(sums, 21, (100.0, 100.0), estimate.ac_fit)
    refits, _ = jackknife_errors(sums, 21, (100.0, 100.0), estimate.ac_fit, refit=True)
    assert groups == 30
    for key in ("sigx", "sigy", "theta", "psf_sigma"):
        assert linear[key] == pytest.approx(refits[key], rel=0.03), key


def _replicate_crop_errors(sums, crop, fit):
    """The jackknife's standard errors from every replicate's crop (the linear
    response of the fit applied to each ``leave_one_out`` crop)."""
    units = _jackknife_units(sums, crop)
    everything = units.autocorrelation(crop)
    response = _width_derivatives(fit.parameters, fit.widths()[2]) @ fit_sensitivity(
        everything, (100.0, 100.0), fit
    )
    values = (units.leave_one_out(crop) - everything).reshape(units.n_groups, -1) @ response.T
    return _standard_errors(values)


@pytest.mark.parametrize(
    ("side", "frames", "camera", "tolerance"),
    [(96, 600, "emccd", 2e-3), (64, 1000, "scmos", 2e-3), (32, 400, "poisson", 2e-2)],
)
def test_projected_jackknife_matches_the_replicates_crops(side, frames, camera, tolerance):
    """The projections through the sums (no replicate's crop made) give the standard
    errors of the replicates' crops: to 0.2 % on movies of 64^2 and more, 2 % on a small
    one (the change of the pair fractions times the change of the products left out)."""
    movie, _ = simulate_movie(
        frames, (side, side), sigx_nm=120.0, sigy_nm=150.0, camera=camera, seed=5
    )
    sums = accumulate_spectrum(movie)
    crop = 21 if side > 32 else 15
    fit = estimate_from_sums(sums, crop, (100.0, 100.0), errors=False).ac_fit
    projected, groups = jackknife_errors(sums, crop, (100.0, 100.0), fit)
    from_crops = _replicate_crop_errors(sums, crop, fit)
    assert groups == sums.n_groups
    for key in ("sigx", "sigy", "theta", "psf_sigma"):
        assert projected[key] == pytest.approx(from_crops[key], rel=tolerance), key


def test_parts_sharing_their_groups_are_projected_as_each_alone():
    """The tiles of a field, projected in one call, get each tile's own errors."""
    from smlmlp.field_tiles import accumulate_field

    movie, _ = simulate_movie(600, (96, 96), sigx_nm=130.0, seed=12)
    field = accumulate_field(movie, (2, 2), min_side=21)
    parts = []
    for tile in field.tile_sums:
        ac = tile.autocorrelation(21)
        parts.append((tile, estimate_from_sums(tile, 21, (100.0, 100.0), errors=False).ac_fit, ac))
    together = parts_jackknife_errors(parts, 21, (100.0, 100.0))
    for (tile, fit, ac), (errors, groups) in zip(parts, together, strict=True):
        alone, alone_groups = jackknife_errors(tile, 21, (100.0, 100.0), fit, ac=ac)
        assert groups == alone_groups == tile.n_groups
        for key, value in alone.items():
            assert errors[key] == pytest.approx(value, rel=1e-10, abs=0), key
