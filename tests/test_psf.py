"""PSF from autocorrelation: model, fit, transform, spline, noise handling."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from scipy.signal import fftconvolve

from smlmlp import ac_fit, ac_model
from smlmlp.ac_model import (
    covariance_from_widths,
    gaussian_autocorrelation,
    lag_grid,
    widths_from_covariance,
)
from smlmlp.psf import estimate_psf, evaluate_spline


@pytest.mark.parametrize("theta", [0.0, 10.0, 44.9, 45.0, 89.0, 90.0, 135.0, 179.0, 250.0])
def test_width_angle_convention_round_trip(theta):
    sigx, sigy = 170.0, 110.0
    got = widths_from_covariance(covariance_from_widths(sigx, sigy, theta))
    assert -45.0 < got[2] <= 45.0
    # the same ellipse, written with theta in (-45, 45]
    assert np.allclose(
        covariance_from_widths(*got), covariance_from_widths(sigx, sigy, theta), atol=1e-9
    )


@pytest.mark.parametrize("near", [-80.0, -30.0, 0.0, 44.0, 60.0, 130.0])
def test_widths_near_an_angle_describe_the_same_ellipse(near):
    covariance = covariance_from_widths(170.0, 110.0, 40.0)
    sigx, sigy, theta = widths_from_covariance(covariance, near)
    assert near - 45.0 < theta <= near + 45.0
    assert np.allclose(covariance_from_widths(sigx, sigy, theta), covariance, atol=1e-9)


def test_sigx_is_the_width_nearest_the_x_axis():
    # wider along y, axis-aligned: sigx is the x width, theta 0 (not sigx = y width at 90)
    sigx, sigy, theta = widths_from_covariance(covariance_from_widths(115.0, 160.0, 0.0))
    assert (round(sigx, 9), round(sigy, 9), round(theta, 9)) == (115.0, 160.0, 0.0)
    sigx, sigy, theta = widths_from_covariance(covariance_from_widths(115.0, 160.0, 100.0))
    assert (round(sigx, 9), round(sigy, 9), round(theta, 9)) == (160.0, 115.0, 10.0)


def test_convention_matches_the_documented_formula():
    x, y = lag_grid(21, (1.0, 1.0))
    image = ac_model.gaussian_image(4.0, 2.0, 30.0, x, y)
    t = math.radians(30.0)
    xr, yr = x * math.cos(t) - y * math.sin(t), x * math.sin(t) + y * math.cos(t)
    assert np.allclose(image, np.exp(-(xr**2) / 32.0 - yr**2 / 8.0))
    covariance = covariance_from_widths(4.0, 2.0, 30.0)
    r = np.stack([x, y], axis=-1)
    quadratic = np.einsum("...i,ij,...j->...", r, np.linalg.inv(covariance), r)
    assert np.allclose(image, np.exp(-quadratic / 2.0))


def brute_force_autocorrelation(sigx, sigy, theta, pixel_nm, size, oversample=16):
    """Autocorrelation at integer lags of a pixel-integrated Gaussian, by fine sampling."""
    py, px = pixel_nm
    half = size // 2 + 6
    offsets_y = (np.arange(-half * oversample, half * oversample + 1)) * py / oversample
    offsets_x = (np.arange(-half * oversample, half * oversample + 1)) * px / oversample
    y, x = np.meshgrid(offsets_y, offsets_x, indexing="ij")
    fine = ac_model.gaussian_image(sigx, sigy, theta, x, y)
    box = np.ones((oversample, oversample)) / oversample**2
    integrated = fftconvolve(fine, box, mode="same")  # pixel integration at every fine offset
    ac = fftconvolve(integrated, integrated[::-1, ::-1], mode="same")
    centre = ac.shape[0] // 2
    lags = np.arange(-(size // 2), size // 2 + 1) * oversample + centre
    return ac[np.ix_(lags, lags)]


@pytest.mark.parametrize(
    ("sigx", "sigy", "theta", "pixel_nm"),
    [(130.0, 130.0, 0.0, (100.0, 100.0)), (70.0, 50.0, 30.0, (100.0, 100.0)),
     (200.0, 120.0, 70.0, (110.0, 90.0))],
)
def test_autocorrelation_model_matches_brute_force(sigx, sigy, theta, pixel_nm):
    size = 11
    x, y = lag_grid(size, pixel_nm)
    model = gaussian_autocorrelation(covariance_from_widths(sigx, sigy, theta), x, y, pixel_nm)
    brute = brute_force_autocorrelation(sigx, sigy, theta, pixel_nm, size)
    model, brute = model / model.max(), brute / brute.max()
    assert np.abs(model - brute).max() < 2e-3


def synthetic_ac(sigx, sigy, theta, pixel_nm=(100.0, 100.0), size=31, *, noise=0.0, seed=0):
    """Model AC with a zero-lag spike, row/column noise and an offset, as cameras give."""
    x, y = lag_grid(size, pixel_nm)
    ac = 50.0 * gaussian_autocorrelation(covariance_from_widths(sigx, sigy, theta), x, y, pixel_nm)
    ac += 0.3  # global intensity fluctuation
    centre = size // 2
    ac[centre, centre] += 400.0  # white shot and read noise
    ac[centre, :] += 5.0  # row-correlated camera noise
    ac[:, centre] += 3.0
    if noise:
        ac += np.random.default_rng(seed).normal(0.0, noise, ac.shape)
    return ac


@pytest.mark.parametrize(
    ("sigx", "sigy", "theta", "pixel_nm"),
    [(130.0, 130.0, 0.0, (100.0, 100.0)), (60.0, 60.0, 0.0, (100.0, 100.0)),
     (180.0, 120.0, 25.0, (100.0, 100.0)), (120.0, 180.0, 25.0, (100.0, 100.0)),
     (150.0, 100.0, 80.0, (120.0, 95.0))],
)
def test_noise_free_autocorrelation_gives_the_exact_widths(sigx, sigy, theta, pixel_nm):
    estimate = estimate_psf(synthetic_ac(sigx, sigy, theta, pixel_nm), pixel_nm)
    expected = widths_from_covariance(covariance_from_widths(sigx, sigy, theta))
    assert estimate.valid
    assert estimate.sigx == pytest.approx(expected[0], rel=1e-4)
    assert estimate.sigy == pytest.approx(expected[1], rel=1e-4)
    if abs(sigx - sigy) > 1:
        assert estimate.theta == pytest.approx(expected[2], abs=0.05)
    assert estimate.psf_sigma == pytest.approx(math.sqrt(sigx * sigy), rel=1e-4)


def test_psf_and_fit_images_are_normalised_and_agree():
    estimate = estimate_psf(synthetic_ac(140.0, 140.0, 0.0, noise=0.05), (100.0, 100.0))
    centre = estimate.psf.shape[0] // 2
    assert estimate.fit.max() == pytest.approx(1.0)
    assert np.unravel_index(np.argmax(estimate.psf), estimate.psf.shape) == (centre, centre)
    assert estimate.psf[centre, centre] == pytest.approx(1.0, abs=0.05)
    assert np.abs(estimate.psf - estimate.fit).max() < 0.05
    # the zero-lag spike did not leak into the PSF: its centre is not a spike
    assert estimate.psf[centre, centre] - estimate.psf[centre, centre + 1] < 0.3


def test_spline_interpolates_the_psf_in_nm():
    estimate = estimate_psf(synthetic_ac(140.0, 120.0, 10.0, (100.0, 80.0)), (100.0, 80.0))
    assert np.allclose(estimate.spline, estimate.psf, atol=1e-10)
    assert estimate.coeffs.shape == (len(estimate.ty) - 4, len(estimate.tx) - 4)
    assert estimate.tx[0] == pytest.approx(-15 * 80.0)
    assert estimate.ty[-1] == pytest.approx(15 * 100.0)
    x = np.linspace(-300, 300, 7)
    y = np.array([0.0])
    values = evaluate_spline(estimate.tx, estimate.ty, estimate.coeffs, x, y)
    assert values.shape == (1, 7)
    assert values[0, 3] == pytest.approx(estimate.psf[15, 15], abs=1e-9)


def test_pure_noise_gives_nan_and_a_warning():
    rng = np.random.default_rng(1)
    ac = rng.normal(0.0, 1.0, (31, 31))
    ac[15, 15] += 100.0
    with pytest.warns(RuntimeWarning, match="channel 3: no PSF found"):
        estimate = estimate_psf(ac, (100.0, 100.0), name="channel 3")
    assert not estimate.valid
    assert math.isnan(estimate.sigx) and math.isnan(estimate.sigy) and math.isnan(estimate.theta)
    assert math.isnan(estimate.psf_sigma)


def test_signal_well_above_noise_is_found():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimate = estimate_psf(synthetic_ac(130.0, 130.0, 0.0, noise=1.0), (100.0, 100.0))
    assert estimate.valid
    assert estimate.sigx == pytest.approx(130.0, rel=0.05)


def test_psf_too_wide_for_the_crop_is_not_reported():
    with pytest.warns(RuntimeWarning, match="raise crop_pix") as caught:
        estimate = estimate_psf(synthetic_ac(600.0, 600.0, 0.0, size=11), (100.0, 100.0))
    assert math.isnan(estimate.sigx)
    # the crop it asks for: odd, 6 fitted widths at least, more than the one given
    fitted, wanted = re.search(
        r"fitted width, (\d+) nm, .* raise crop_pix to (\d+) or more", str(caught[0].message)
    ).groups()
    assert int(wanted) % 2 == 1 and 11 < int(wanted) and (int(wanted) - 2) * 100 < 6 * int(fitted)
    assert int(wanted) * 100 >= 6 * int(fitted) - 50  # the fitted width rounded to 1 nm
    # far wider than the crop: no PSF at all, no crop to ask for
    with pytest.warns(RuntimeWarning, match="wider than the crop: no peak the size of a PSF"):
        estimate = estimate_psf(synthetic_ac(3000.0, 3000.0, 0.0, size=11), (100.0, 100.0))
    assert math.isnan(estimate.sigx)


def test_even_or_non_square_crops_are_rejected():
    with pytest.raises(ValueError, match="square and odd"):
        estimate_psf(np.zeros((10, 10)))
    with pytest.raises(ValueError, match="square and odd"):
        estimate_psf(np.zeros((11, 9)))


def test_linear_part_is_the_linear_least_squares():
    rng = np.random.default_rng(5)
    terms = ac_fit.background_terms(15, degree=4).reshape(-1, 9)
    shape = rng.random(225)
    truth = rng.normal(size=9)
    data = 3.5 * shape + terms @ truth + rng.normal(0, 0.1, 225)
    linear = ac_fit._LinearPart(terms, data)
    amplitude, residual = linear.fit(shape)
    design = np.column_stack([shape, terms])
    expected, *_ = np.linalg.lstsq(design, data, rcond=None)
    assert np.isclose(amplitude, expected[0], rtol=1e-10)
    assert np.allclose(residual, data - design @ expected, atol=1e-10)
    assert np.allclose(linear.coefficients(shape, amplitude), expected[1:], atol=1e-10)
    # a shape in the background's span has no amplitude
    assert linear.fit(terms[:, 0])[0] == pytest.approx(0.0, abs=1e-12)


def test_a_broad_background_does_not_bias_the_widths():
    """A smooth bump under the AC (haze) is taken up by the background terms."""
    covariance = ac_model.covariance_from_widths(140.0, 120.0, 15.0)
    x, y = ac_model.lag_grid(41, (100.0, 100.0))
    bump = 0.4 * np.exp(-(x**2 + y**2) / (2 * 5000.0**2))  # 50-pixel haze
    ac = ac_model.crop_autocorrelation(covariance, 41, (100.0, 100.0)) + bump
    sigx, sigy, theta = ac_fit.fit_autocorrelation(ac, (100.0, 100.0)).widths()
    assert sigx == pytest.approx(140.0, rel=2e-3) and sigy == pytest.approx(120.0, rel=2e-3)
    assert theta == pytest.approx(15.0, abs=0.5)


@pytest.mark.parametrize("theta", [0.0, 25.0, 70.0])
def test_crop_model_mirrors_to_the_whole_grid(theta):
    covariance = ac_model.covariance_from_widths(180.0, 95.0, theta)
    x, y = ac_model.lag_grid(15, (107.0, 93.0))
    full = gaussian_autocorrelation(covariance, x, y, (107.0, 93.0))
    mirrored = ac_model.crop_autocorrelation(covariance, 15, (107.0, 93.0))
    # the crop comes from the separable series: exact to ~1e-16 of the peak (1)
    assert np.allclose(mirrored, full, rtol=1e-13, atol=1e-15)


def test_the_separable_series_is_the_direct_sum_for_any_psf():
    """300 random PSFs (widths 30-600 nm, any angle, pixels 60-160 nm): the series
    equals the direct quadrature to 2e-15 of the peak; PSFs too elongated and tilted
    for the series take the direct sum."""
    rng = np.random.default_rng(11)
    used_series = 0
    for _ in range(300):
        sigx, sigy = rng.uniform(30.0, 600.0, 2)
        covariance = ac_model.covariance_from_widths(sigx, sigy, rng.uniform(-90.0, 90.0))
        pixel = tuple(rng.uniform(60.0, 160.0, 2))
        x, y = ac_model.lag_grid(41, pixel)
        direct = gaussian_autocorrelation(covariance, x, y, pixel)
        series = ac_model.grid_autocorrelation(covariance, x[0], y[:, 0], pixel)
        assert np.abs(series - direct).max() < 2e-15
        precision = np.linalg.inv(covariance)
        correlation = precision[0, 1] / np.sqrt(precision[0, 0] * precision[1, 1])
        used_series += ac_model.series_terms(correlation) is not None
    assert used_series > 200  # most PSFs take the series


@pytest.mark.parametrize(
    ("sigx", "sigy", "theta"),
    [(130.0, 130.0, 0.0), (180.0, 95.0, 25.0), (90.0, 160.0, -40.0), (600.0, 35.0, 40.0)],
)
def test_model_derivatives_match_central_differences(sigx, sigy, theta):
    """The exact derivatives of the model in the precision and in the fit's
    log-Cholesky parameters equal central differences, on the series and on the
    direct sum (the last PSF is too elongated and tilted for the series)."""
    pixel = (107.0, 93.0)
    covariance = covariance_from_widths(sigx, sigy, theta)
    x, y = np.arange(-10, 11) * pixel[1], np.arange(-10, 11) * pixel[0]
    values, slopes = ac_model.grid_autocorrelation_derivatives(covariance, x, y, pixel)
    plain = ac_model.grid_autocorrelation(covariance, x, y, pixel)
    assert np.allclose(values, plain, rtol=0, atol=1e-15)
    precision = np.linalg.inv(covariance) / 4.0
    for index, (i, j) in enumerate([(0, 0), (0, 1), (1, 1)]):
        step = np.zeros((2, 2))
        step[i, j] = step[j, i] = 1e-6 * abs(precision[i, i])
        ahead, behind = (
            ac_model.grid_autocorrelation(np.linalg.inv(4.0 * (precision + d)), x, y, pixel)
            for d in (step, -step)
        )
        central = (ahead - behind) / (2.0 * step[i, j])
        assert np.abs(central - slopes[index]).max() < 1e-6 * np.abs(slopes[index]).max()

    parameters = ac_model._parameters_from_covariance(covariance)
    model, jacobian = ac_model.crop_autocorrelation_jacobian(parameters, 21, pixel)
    covariance = ac_model._covariance_from_parameters(parameters)
    plain = ac_model.crop_autocorrelation(covariance, 21, pixel)
    assert np.allclose(model, plain, rtol=0, atol=1e-15)
    for index in range(3):
        step = np.zeros(3)
        step[index] = 1e-6
        ahead = ac_model.crop_autocorrelation(
            ac_model._covariance_from_parameters(parameters + step), 21, pixel
        )
        behind = ac_model.crop_autocorrelation(
            ac_model._covariance_from_parameters(parameters - step), 21, pixel
        )
        central = (ahead - behind) / 2e-6
        assert np.abs(central - jacobian[index]).max() < 1e-6 * np.abs(jacobian).max()


def test_a_parameter_at_its_bound_has_no_derivative():
    """The log-Cholesky parameters are clipped to keep the model computable; a
    parameter beyond its bound does not move the model, and its column is zero."""
    _, jacobian = ac_model.crop_autocorrelation_jacobian(np.array([20.0, 0.0, 5.0]), 9, (1, 1))
    assert np.all(jacobian[0] == 0.0) and np.any(jacobian[2] != 0.0)


def test_fits_in_lock_step_agree_with_separate_fits() -> None:
    """The parts' fits together (fit_autocorrelations) and alone (MINPACK) find the same
    solutions, noise included; a crop of pure noise among them changes nothing."""
    rng = np.random.default_rng(21)
    pixel = (100.0, 90.0)
    truths = [(140.0, 120.0, 10.0), (150.0, 118.0, 25.0), (131.0, 129.0, -40.0)]
    truths.append((160.0, 100.0, 80.0))
    acs = []
    for sigx, sigy, theta in truths:
        clean = 4.0 * ac_model.crop_autocorrelation(
            ac_model.covariance_from_widths(sigx, sigy, theta), 21, pixel
        )
        acs.append(clean + 0.3 + rng.normal(0.0, 0.01, clean.shape))
    acs.append(rng.normal(0.0, 0.01, (21, 21)))  # no PSF at all
    start = ac_model._parameters_from_covariance(
        ac_model.covariance_from_widths(140.0, 125.0, 0.0)
    )
    together = ac_fit.fit_autocorrelations(acs, pixel, start)
    assert ac_fit.fit_autocorrelations([], pixel, start) == []
    for ac, fit, truth in zip(acs, together, truths, strict=False):
        alone = ac_fit.fit_autocorrelation(ac, pixel, start=start)
        assert fit.widths(truth[2]) == pytest.approx(alone.widths(truth[2]), rel=1e-6, abs=1e-4)
        assert fit.amplitude == pytest.approx(alone.amplitude, rel=1e-6)
        assert fit.residual_rms == pytest.approx(alone.residual_rms, rel=1e-6)
        np.testing.assert_allclose(fit.background, alone.background, rtol=0, atol=1e-6)
        np.testing.assert_allclose(fit.model[1], alone.model[1], rtol=1e-6, atol=1e-12)
        assert fit.widths(truth[2])[:2] == pytest.approx(truth[:2], rel=0.02)
    assert len(together) == len(acs) and np.all(np.isfinite(together[-1].parameters))
