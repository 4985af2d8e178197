"""Tests of the blinking-movie simulator (smlmlp.simulation)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tifffile
from scipy import spatial, special

from smlmlp.simulation import MovieSimulator, psf_image, simulate_movie, write_tiff

SMALL = {"n_frames": 40, "shape": (20, 24)}


def _concatenate(chunks) -> np.ndarray:
    return np.concatenate(list(chunks))


def _moments(image: np.ndarray, pixel: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (x, y) and covariance (x, y) of an image sampled at pixel centres (nm)."""
    rows, cols = np.indices(image.shape)
    y = (rows + 0.5) * pixel[0]
    x = (cols + 0.5) * pixel[1]
    total = image.sum()
    mean = np.array([(image * x).sum(), (image * y).sum()]) / total
    dx, dy = x - mean[0], y - mean[1]
    cov = np.array(
        [
            [(image * dx * dx).sum(), (image * dx * dy).sum()],
            [(image * dx * dy).sum(), (image * dy * dy).sum()],
        ]
    )
    return mean, cov / total


def _brute_force_pixels(density, y0, x0, pixel, rows, cols, sub=40) -> np.ndarray:
    """Midpoint-rule integral of ``density(dx, dy)`` over the given pixels."""
    t = (np.arange(sub) + 0.5) / sub
    out = np.empty((len(rows), len(cols)))
    for a, r in enumerate(rows):
        yy = (r + t) * pixel[0] - y0
        for b, c in enumerate(cols):
            xx = (c + t) * pixel[1] - x0
            values = density(xx[None, :], yy[:, None])
            out[a, b] = values.mean() * pixel[0] * pixel[1]
    return out


# --------------------------------------------------------------------------------------
# reproducibility, chunks, shapes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"camera": "poisson"},
        {"camera": "emccd", "theta_deg": 25.0, "sigy_nm": 100.0},
        {"camera": "scmos", "emitters": "filaments"},
        {"psf": "airy", "pixel_nm": (110.0, 90.0), "on_density_per_um2": 0.3},
    ],
)
def test_same_seed_same_movie_and_chunks_are_a_stream(options):
    options = {"on_density_per_um2": 2.0, **options}
    movie, truth = simulate_movie(**SMALL, seed=7, **options)
    again, _ = simulate_movie(**SMALL, seed=7, **options)
    other, _ = simulate_movie(**SMALL, seed=8, **options)
    assert np.array_equal(movie, again)
    assert not np.array_equal(movie, other)
    simulator = MovieSimulator(**SMALL, seed=7, **options)
    for chunk_frames in (1, 3, 40, 100):
        assert np.array_equal(_concatenate(simulator.chunks(chunk_frames)), movie)
    assert simulator.truth == truth


def test_dtype_shape_and_truth():
    movie, truth = simulate_movie(30, (16, 20), pixel_nm=(110.0, 90.0), seed=1)
    assert movie.dtype == np.uint16
    assert movie.shape == (30, 16, 20)
    json.dumps(truth)
    assert truth["pixel_nm"] == (110.0, 90.0)
    assert truth["shape"] == (16, 20)
    assert truth["n_frames"] == 30
    assert truth["sigx_nm"] == truth["sigy_nm"] == 130.0
    assert truth["psf"] == "gaussian" and truth["camera"] == "poisson"
    assert truth["on_time_frames"] == 3.0
    assert truth["correlation_time_frames"] == pytest.approx(3.0 * (1 - 0.02))
    for key in (
        "theta_deg",
        "wavelength_nm",
        "numerical_aperture",
        "emitters",
        "n_emitters",
        "on_density_per_um2",
        "on_probability",
        "photons",
        "background",
        "seed",
        "adu_per_e",
        "offset_adu",
    ):
        assert key in truth


def test_seed_none_is_recorded_and_reproducible():
    movie, truth = simulate_movie(8, (8, 8), seed=None)
    again, _ = simulate_movie(8, (8, 8), seed=truth["seed"])
    assert isinstance(truth["seed"], int)
    assert np.array_equal(movie, again)


# --------------------------------------------------------------------------------------
# emitters
# --------------------------------------------------------------------------------------


def test_emitter_count_margin_and_on_density():
    density, p = 1.0, 0.05
    sim = MovieSimulator(
        400, (40, 50), pixel_nm=(100.0, 80.0), on_density_per_um2=density, on_probability=p
    )
    (y_lo, y_hi), (x_lo, x_hi) = (0.0, 4000.0), (0.0, 4000.0)
    my, mx = sim.margin_nm
    assert my >= 5 * 130.0 and mx >= 5 * 130.0
    area = (y_hi - y_lo + 2 * my) * (x_hi - x_lo + 2 * mx) * 1e-6
    assert sim.n_emitters == round(density * area / p)
    y, x = sim.positions_nm.T
    assert y.min() >= -my and y.max() <= y_hi + my and x.min() >= -mx and x.max() <= x_hi + mx
    inside = (y >= 0) & (y < y_hi) & (x >= 0) & (x < x_hi)
    assert 0 < inside.sum() < sim.n_emitters  # margin populated too
    fractions = _concatenate(sim.on_fractions())
    on_density = fractions[:, inside].sum(axis=1).mean() / (y_hi * x_hi * 1e-6)
    assert on_density == pytest.approx(density, rel=0.1)


def test_filament_emitters_lie_near_their_curves():
    jitter = 10.0
    sim = MovieSimulator(
        5, (64, 64), emitters="filaments", n_filaments=4, filament_jitter_nm=jitter, seed=3
    )
    assert len(sim.filaments) == 4
    assert sim.truth["n_filaments"] == 4
    curves = np.concatenate(sim.filaments)
    field = (curves >= 0).all(axis=1) & (curves < 6400).all(axis=1)
    assert field.sum() > 100  # the curves cross the field
    spacing = np.hypot(*np.diff(sim.filaments[0], axis=0).T)
    assert np.allclose(spacing, 10.0)
    distance, _ = spatial.cKDTree(curves).query(sim.positions_nm)
    # perpendicular jitter has mean |N(0, 10 nm)| ~ 8 nm; vertices are 10 nm apart
    assert np.median(distance) < 12.0
    assert distance.max() < 8 * jitter
    uniform = MovieSimulator(5, (64, 64), seed=3)
    far, _ = spatial.cKDTree(curves).query(uniform.positions_nm)
    assert np.median(far) > 200.0
    assert sim.n_emitters == uniform.n_emitters


# --------------------------------------------------------------------------------------
# blinking
# --------------------------------------------------------------------------------------


def test_blinking_statistics_follow_the_continuous_time_process():
    p, on_time = 0.1, 2.0
    sim = MovieSimulator(
        1000, (64, 64), on_probability=p, on_time_frames=on_time, on_density_per_um2=8.0, seed=5
    )
    assert sim.n_emitters > 4000
    tau = sim.correlation_time_frames
    k_off = 1.0 / on_time
    k_on = k_off * p / (1 - p)
    assert tau == pytest.approx(1.0 / (k_on + k_off))
    f = _concatenate(sim.on_fractions(128))
    assert f.shape == (1000, sim.n_emitters)
    assert f.min() >= 0.0 and f.max() <= 1.0
    partial = ((f > 0) & (f < 1)).mean()
    assert partial > 0.02  # switching happens within frames
    assert f.mean() == pytest.approx(p, rel=0.02)
    d = f - p  # the stationary mean is known exactly
    cov = [np.mean(d[: len(d) - lag] * d[lag:]) for lag in range(4)]
    # frame-integrated covariance of a two-state Markov process
    zero = p * (1 - p) * 2 * tau**2 * (1 / tau - 1 + math.exp(-1 / tau))
    prefactor = p * (1 - p) * tau**2 * (math.exp(1 / tau) - 1) * (1 - math.exp(-1 / tau))
    assert cov[0] == pytest.approx(zero, rel=0.03)
    for lag in (1, 2, 3):
        assert cov[lag] == pytest.approx(prefactor * math.exp(-lag / tau), rel=0.05)
        assert cov[lag] / cov[1] == pytest.approx(math.exp(-(lag - 1) / tau), rel=0.05)
    # any chunking gives the same on-fractions
    assert np.array_equal(_concatenate(sim.on_fractions(7))[:300], f[:300])


def test_initial_state_is_stationary():
    p = 0.3
    sim = MovieSimulator(1, (128, 128), on_probability=p, on_density_per_um2=20.0, seed=2)
    assert sim.n_emitters > 10000
    first = next(sim.on_fractions())[0]
    assert first.mean() == pytest.approx(p, rel=0.05)


# --------------------------------------------------------------------------------------
# point-spread function
# --------------------------------------------------------------------------------------


def test_axis_aligned_gaussian_is_exactly_pixel_integrated():
    pixel = (100.0, 80.0)
    sigx, sigy = 140.0, 110.0
    y0, x0 = 1537.3, 1611.9
    image = psf_image((32, 40), (y0, x0), pixel_nm=pixel, sigx_nm=sigx, sigy_nm=sigy)
    assert image.sum() == pytest.approx(1.0, abs=1e-3)
    # independent erf integrals
    rows, cols = np.arange(32), np.arange(40)
    ey = special.erf((np.append(rows, 32) * pixel[0] - y0) / (math.sqrt(2) * sigy))
    ex = special.erf((np.append(cols, 40) * pixel[1] - x0) / (math.sqrt(2) * sigx))
    exact = 0.25 * np.outer(np.diff(ey), np.diff(ex))
    big = exact > 1e-6
    assert np.allclose(image[big], exact[big], rtol=1e-3, atol=0)
    mean, cov = _moments(image, pixel)
    assert mean == pytest.approx([x0, y0], abs=0.5)
    assert cov[0, 0] == pytest.approx(sigx**2 + pixel[1] ** 2 / 12, rel=1e-3)
    assert cov[1, 1] == pytest.approx(sigy**2 + pixel[0] ** 2 / 12, rel=1e-3)
    assert abs(cov[0, 1]) < 1e-3 * sigx * sigy


@pytest.mark.parametrize("theta", [30.0, -65.0, 90.0, 200.0])
def test_rotated_gaussian_covariance_and_pixel_values(theta):
    pixel = (100.0, 100.0)
    sigx, sigy = 150.0, 90.0
    y0, x0 = 1523.0, 1478.0
    image = psf_image(
        (32, 32), (y0, x0), pixel_nm=pixel, sigx_nm=sigx, sigy_nm=sigy, theta_deg=theta
    )
    assert image.sum() == pytest.approx(1.0, abs=1e-3)
    t = math.radians(theta)
    c, s = math.cos(t), math.sin(t)
    rotation = np.array([[c, -s], [s, c]])
    expected = rotation.T @ np.diag([sigx**2, sigy**2]) @ rotation + pixel[0] ** 2 / 12 * np.eye(2)
    mean, cov = _moments(image, pixel)
    assert mean == pytest.approx([x0, y0], abs=0.5)
    assert np.allclose(cov, expected, rtol=0, atol=1e-3 * sigx**2)

    def density(dx, dy):
        xr = dx * c - dy * s
        yr = dx * s + dy * c
        return np.exp(-(xr**2) / (2 * sigx**2) - yr**2 / (2 * sigy**2)) / (2 * np.pi * sigx * sigy)

    rows = cols = np.arange(12, 19)
    reference = _brute_force_pixels(density, y0, x0, pixel, rows, cols)
    assert np.allclose(image[12:19, 12:19], reference, rtol=1e-3, atol=1e-7)


def test_gaussian_sigy_defaults_to_sigx():
    a = psf_image((20, 20), (1000.0, 1000.0), sigx_nm=120.0)
    b = psf_image((20, 20), (1000.0, 1000.0), sigx_nm=120.0, sigy_nm=120.0, theta_deg=33.0)
    assert np.allclose(a, b, rtol=1e-6, atol=1e-12)


def test_airy_psf_energy_shape_and_reference_sigma():
    wavelength, aperture, pixel = 670.0, 1.4, (100.0, 100.0)
    y0, x0 = 3017.0, 2988.0
    image = psf_image(
        (60, 60),
        (y0, x0),
        pixel_nm=pixel,
        psf="airy",
        wavelength_nm=wavelength,
        numerical_aperture=aperture,
    )
    assert 0.98 < image.sum() < 1.0
    k = 2 * math.pi * aperture / wavelength

    def density(dx, dy):
        v = k * np.hypot(dx, dy)
        v = np.where(v == 0, 1e-12, v)
        return (2 * special.j1(v) / v) ** 2 * k**2 / (4 * math.pi)

    rows = cols = np.arange(27, 34)
    reference = _brute_force_pixels(density, y0, x0, pixel, rows, cols)
    assert np.allclose(image[27:34, 27:34], reference, rtol=1e-3, atol=1e-7)
    sim = MovieSimulator(5, (16, 16), psf="airy", wavelength_nm=wavelength)
    truth = sim.truth
    assert truth["airy_gaussian_sigma_nm"] == pytest.approx(0.21 * wavelength / aperture)
    assert truth["airy_patch_energy"] > 0.98
    assert truth["wavelength_nm"] == wavelength and truth["numerical_aperture"] == aperture


# --------------------------------------------------------------------------------------
# expected image and cameras
# --------------------------------------------------------------------------------------


def test_expected_movie_is_the_sum_of_emitter_psfs():
    options = {
        "pixel_nm": (100.0, 90.0),
        "sigx_nm": 140.0,
        "sigy_nm": 100.0,
        "theta_deg": 20.0,
        "on_density_per_um2": 3.0,
        "on_probability": 0.2,
        "photons": 500.0,
        "background": 7.0,
        "seed": 4,
    }
    sim = MovieSimulator(6, (12, 14), **options)
    fractions = _concatenate(sim.on_fractions(4))
    expected = _concatenate(sim.expected_chunks(4))
    psf_options = {k: options[k] for k in ("pixel_nm", "sigx_nm", "sigy_nm", "theta_deg")}
    psfs = np.array([psf_image((12, 14), tuple(pos), **psf_options) for pos in sim.positions_nm])
    reference = options["background"] + options["photons"] * np.einsum(
        "fe,ehw->fhw", fractions, psfs
    )
    assert fractions.sum() > 1.0
    assert np.allclose(expected, reference, rtol=1e-10, atol=1e-9)
    mean = options["background"] + options["photons"] * options["on_probability"] * psfs.sum(0)
    assert np.allclose(sim.mean_image(), mean, rtol=1e-10)


def test_poisson_camera_noise_on_a_structured_image():
    sim = MovieSimulator(200, (24, 24), on_density_per_um2=2.0, adu_per_e=1.5, seed=6)
    movie = _concatenate(sim.chunks(50)).astype(float)
    expected = _concatenate(sim.expected_chunks(50))
    residual = movie - 100.0 - 1.5 * expected
    variance = 1.5**2 * expected + 1.0 / 12.0
    assert abs(residual.mean()) < 0.05 * math.sqrt(variance.mean())
    assert (residual**2).sum() / variance.sum() == pytest.approx(1.0, rel=0.02)


@pytest.mark.parametrize("camera", ["poisson", "emccd", "scmos"])
def test_camera_mean_and_variance_on_a_flat_field(camera):
    background = 20.0 if camera == "emccd" else 50.0
    options = {"adu_per_e": 2.0} if camera == "poisson" else {}
    sim = MovieSimulator(
        400,
        (32, 32),
        on_density_per_um2=0.0,
        background=background,
        camera=camera,
        seed=9,
        **options,
    )
    assert sim.n_emitters == 0
    movie = sim.movie().astype(float)
    truth = sim.truth
    mean, var = movie.mean(), movie.var()
    quantisation = 1.0 / 12.0
    if camera == "poisson":
        assert mean == pytest.approx(2.0 * background + 100.0, rel=2e-3)
        assert var == pytest.approx(4.0 * background + quantisation, rel=0.02)
    elif camera == "emccd":
        gain, adu, read = truth["em_gain"], truth["adu_per_e"], truth["read_noise_e"]
        assert (gain, adu, read) == (100.0, 0.1, 50.0)
        assert mean == pytest.approx(background * gain * adu + 100.0, rel=5e-3)
        # excess-noise factor sqrt(2): variance 2 g^2 lambda (e-^2) plus read noise
        electrons_var = 2 * gain**2 * background + read**2
        assert var == pytest.approx(adu**2 * electrons_var + quantisation, rel=0.03)
    else:
        maps = sim.camera_maps
        gain, read, offset = maps["gain_adu_per_e"], maps["read_noise_e"], maps["offset_adu"]
        assert np.std(gain / truth["adu_per_e"] - 1) == pytest.approx(0.03, rel=0.15)
        assert np.median(read) == pytest.approx(1.5, rel=0.1)
        assert np.mean(offset) == pytest.approx(100.0, abs=0.5) and np.std(offset) > 1.0
        pixel_mean = movie.mean(axis=0)
        pixel_var = movie.var(axis=0)
        predicted_var = gain**2 * (background + read**2) + quantisation
        z = (pixel_mean - (gain * background + offset)) / np.sqrt(predicted_var / len(movie))
        assert abs(z.mean()) < 0.2 and 0.85 < z.std() < 1.15
        assert (pixel_var / predicted_var).mean() == pytest.approx(1.0, rel=0.02)
        # the maps are fixed for the movie: another chunking gives the same frames
        assert np.array_equal(_concatenate(sim.chunks(33)), movie.astype(np.uint16))


def test_output_is_rounded_and_clipped_to_uint16():
    bright, _ = simulate_movie(3, (8, 8), on_density_per_um2=0.0, background=1e6)
    assert (bright == 65535).all()
    dark, _ = simulate_movie(
        50, (8, 8), on_density_per_um2=0.0, background=0.0, offset_adu=0.0, read_noise_e=10.0
    )
    assert (dark == 0).mean() == pytest.approx(0.5, abs=0.1)
    assert dark.max() < 100  # negative values are clipped, not wrapped


# --------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"n_frames": 0}, "n_frames"),
        ({"n_frames": 2.5}, "n_frames"),
        ({"shape": (0, 10)}, "shape"),
        ({"shape": (10,)}, "shape"),
        ({"shape": (10, 10.5)}, "shape"),
        ({"pixel_nm": 0.0}, "pixel_nm"),
        ({"pixel_nm": (100.0, -1.0)}, "pixel_nm"),
        ({"pixel_nm": (100.0, 100.0, 100.0)}, "pixel_nm"),
        ({"sigx_nm": -1.0}, "sigx_nm"),
        ({"sigy_nm": 0.0}, "sigy_nm"),
        ({"theta_deg": float("nan")}, "theta_deg"),
        ({"photons": 0.0}, "photons"),
        ({"background": -1.0}, "background"),
        ({"on_probability": 0.0}, "on_probability"),
        ({"on_probability": 1.0}, "on_probability"),
        ({"on_time_frames": 0.0}, "on_time_frames"),
        ({"on_density_per_um2": -0.1}, "on_density_per_um2"),
        ({"psf": "lorentzian"}, "psf"),
        ({"camera": "ccd"}, "camera"),
        ({"emitters": "grid"}, "emitters"),
        ({"seed": -3}, "seed"),
        ({"wavelength_nm": 0.0}, "wavelength_nm"),
        ({"numerical_aperture": -1.0}, "numerical_aperture"),
        ({"adu_per_e": 0.0}, "adu_per_e"),
        ({"camera": "emccd", "em_gain": 0.0}, "em_gain"),
        ({"read_noise_e": -1.0}, "read_noise_e"),
        ({"emitters": "filaments", "n_filaments": 0}, "n_filaments"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(options, name):
    arguments = {"n_frames": 5, "shape": (8, 8), **options}
    with pytest.raises(ValueError, match=name):
        MovieSimulator(**arguments)


def test_bad_chunk_frames_and_sources():
    sim = MovieSimulator(5, (8, 8))
    with pytest.raises(ValueError, match="chunk_frames"):
        next(sim.chunks(0))
    with pytest.raises(ValueError, match="source"):
        write_tiff("unused.tif", np.zeros((4, 4)))


# --------------------------------------------------------------------------------------
# TIFF output
# --------------------------------------------------------------------------------------


def test_write_tiff_round_trip(tmp_path):
    sim = MovieSimulator(23, (12, 16), pixel_nm=(110.0, 95.0), seed=2)
    movie = sim.movie()
    path = write_tiff(tmp_path / "movie.tif", sim, chunk_frames=5, exposure_ms=30.0)
    assert path == tmp_path / "movie.tif"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.tif"]
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        assert len(tif.pages) == 23
        assert np.array_equal(tif.asarray(), movie)
        assert tif.series[0].dataoffset is not None  # contiguous, readable lazily
        page = tif.pages[0]
        x_res = page.tags["XResolution"].value
        y_res = page.tags["YResolution"].value
        assert x_res[1] / x_res[0] * 1e3 == pytest.approx(95.0)
        assert y_res[1] / y_res[0] * 1e3 == pytest.approx(110.0)
        assert tif.imagej_metadata["unit"] == "um"
        assert tif.imagej_metadata["finterval"] == pytest.approx(0.03)
    big = write_tiff(tmp_path / "big.tif", movie, bigtiff=True, pixel_nm=80.0)
    with tifffile.TiffFile(big) as tif:
        assert tif.is_bigtiff
        assert np.array_equal(tif.asarray(), movie)
        assert tif.shaped_metadata[0]["pixel_nm"] == [80.0, 80.0]
