"""blink_spatial_psf: the documented contract, accuracy on simulated movies, bad input."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.ac_model import covariance_from_widths, widths_from_covariance
from smlmlp.loading import open_movie
from smlmlp.psf import estimate_psf
from smlmlp.reference import airy_autocorrelation
from smlmlp.simulation import simulate_movie

INFO_KEYS = ["ac", "coeffs", "fit", "psf", "sigx", "sigy", "spline", "theta", "tx", "ty"]


# ------------------------------------------------------------------ contract
def test_signature_is_the_specified_one():
    parameters = inspect.signature(blink_spatial_psf).parameters
    names = list(parameters)
    assert names[:5] == ["channels", "crop_pix", "channels_pixels_nm", "cuda", "parallel"]
    assert parameters["channels"].kind is inspect.Parameter.POSITIONAL_ONLY
    assert parameters["crop_pix"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert parameters["crop_pix"].default == 41
    for name, default in (("channels_pixels_nm", 100.0), ("cuda", False), ("parallel", False)):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[name].default == default
    assert all(parameters[n].kind is inspect.Parameter.KEYWORD_ONLY for n in names[5:])


@pytest.fixture(scope="module")
def two_channels():
    first, truth_first = simulate_movie(500, (64, 64), sigx_nm=130.0, seed=11)
    second, truth_second = simulate_movie(
        400, (48, 56), sigx_nm=150.0, pixel_nm=110.0, seed=12
    )
    return [first, second], [truth_first, truth_second]


def test_return_values_follow_the_contract(two_channels):
    channels, truths = two_channels
    psf_sigma, info = blink_spatial_psf(
        channels, crop_pix=30, channels_pixels_nm=[(100.0, 100.0), (110.0, 110.0)]
    )
    assert sorted(info) == INFO_KEYS
    assert all(len(values) == 2 for values in info.values())
    assert len(psf_sigma) == 2 and all(isinstance(s, float) for s in psf_sigma)
    for index in range(2):
        for key in ("ac", "psf", "fit", "spline"):
            assert info[key][index].shape == (31, 31)  # 2 * (30 // 2) + 1
        assert psf_sigma[index] == pytest.approx(
            math.sqrt(info["sigx"][index] * info["sigy"][index])
        )
        assert -45.0 < info["theta"][index] <= 45.0
        assert psf_sigma[index] == pytest.approx(truths[index]["sigx_nm"], rel=0.03)
        knots = (len(info["ty"][index]) - 4, len(info["tx"][index]) - 4)
        assert info["coeffs"][index].shape == knots
    # knots are in nm: the second channel's grid is 110 nm per pixel
    assert info["tx"][1][-1] == pytest.approx(15 * 110.0)


def test_widths_scale_with_the_pixel_size(two_channels):
    movie = two_channels[0][0]
    sigma_100, _ = blink_spatial_psf([movie], channels_pixels_nm=100.0)
    sigma_rect, info = blink_spatial_psf([movie], channels_pixels_nm=(100.0, 50.0))
    sigma_200, _ = blink_spatial_psf([movie], channels_pixels_nm=200.0)
    assert sigma_200[0] == pytest.approx(2 * sigma_100[0], rel=1e-5)
    # halving the x pixel size halves the width along x, reported as sigx at theta ~ 0
    assert info["sigx"][0] == pytest.approx(65.0, rel=0.04)
    assert info["sigy"][0] == pytest.approx(130.0, rel=0.04)
    assert abs(info["theta"][0]) < 5.0


def test_config_mapping_fills_parameters(two_channels):
    movie = two_channels[0][0]
    _, info = blink_spatial_psf([movie], config={"crop_pix": 21, "channels_pixels_nm": 50.0})
    assert info["psf"][0].shape == (21, 21)
    assert info["sigx"][0] == pytest.approx(65.0, rel=0.04)
    _, info = blink_spatial_psf([movie], 15, config={"crop_pix": 21})
    assert info["psf"][0].shape == (15, 15)


def test_streaming_from_a_tiff_equals_in_memory(tmp_path, two_channels):
    movie = two_channels[0][0]
    path = tmp_path / "movie.tif"
    tifffile.imwrite(path, movie)
    in_memory, info_memory = blink_spatial_psf([movie], chunk_frames=500)
    with open_movie(path) as lazy:
        streamed, info_streamed = blink_spatial_psf([lazy], chunk_frames=37, parallel=True)
    assert streamed[0] == pytest.approx(in_memory[0], rel=1e-6)
    scale = np.abs(info_memory["ac"][0]).max()
    assert np.abs(info_streamed["ac"][0] - info_memory["ac"][0]).max() < 1e-6 * scale


def test_progress_counts_frames_over_all_channels(two_channels):
    seen = []
    blink_spatial_psf(two_channels[0], chunk_frames=200, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (900, 900)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# ------------------------------------------------------------------ accuracy
ACCURACY_CASES = {
    "gaussian 1.3 px poisson": dict(sigx_nm=130.0),
    "gaussian 0.9 px": dict(sigx_nm=90.0, photons=1500),
    "gaussian 0.7 px": dict(sigx_nm=70.0, photons=1500),
    "gaussian 2 px bright": dict(sigx_nm=200.0, photons=3000, background=10),
    "dim on high background": dict(sigx_nm=130.0, photons=300, background=100),
    "emccd": dict(sigx_nm=130.0, camera="emccd"),
    "scmos": dict(sigx_nm=120.0, camera="scmos"),
    "dense 2 per um2": dict(sigx_nm=110.0, on_density_per_um2=2.0),
    "sparse 0.2 per um2": dict(sigx_nm=130.0, on_density_per_um2=0.2, photons=2000),
    "filaments": dict(sigx_nm=130.0, emitters="filaments"),
}


@pytest.mark.parametrize("case", list(ACCURACY_CASES))
def test_isotropic_width_is_unbiased(case):
    options = ACCURACY_CASES[case]
    movie, truth = simulate_movie(800, (64, 64), seed=7, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        psf_sigma, info = blink_spatial_psf([movie])
    tolerance = 0.05 if truth["sigx_nm"] < 80 else 0.025
    assert psf_sigma[0] == pytest.approx(truth["sigx_nm"], rel=tolerance)
    for key in ("sigx", "sigy"):
        assert info[key][0] == pytest.approx(truth["sigx_nm"], rel=2 * tolerance)


@pytest.mark.parametrize(
    ("sigx", "sigy", "theta", "camera"),
    [(160.0, 110.0, 30.0, "poisson"), (110.0, 160.0, 75.0, "emccd"), (150.0, 100.0, 0.0, "scmos")],
)
def test_anisotropic_rotated_psf(sigx, sigy, theta, camera):
    movie, truth = simulate_movie(
        800, (64, 64), sigx_nm=sigx, sigy_nm=sigy, theta_deg=theta, camera=camera, seed=3
    )
    _, info = blink_spatial_psf([movie])
    # the truth in the reported convention: theta in (-45, 45], sigx nearest x
    want_x, want_y, want_theta = widths_from_covariance(covariance_from_widths(sigx, sigy, theta))
    assert -45.0 < want_theta <= 45.0
    assert info["sigx"][0] == pytest.approx(want_x, rel=0.03)
    assert info["sigy"][0] == pytest.approx(want_y, rel=0.03)
    assert abs(info["theta"][0] - want_theta) < 3.0


def test_airy_psf_matches_the_method_on_the_noise_free_psf():
    movie, truth = simulate_movie(
        800, (64, 64), psf="airy", wavelength_nm=670.0, numerical_aperture=1.2, seed=5
    )
    psf_sigma, _ = blink_spatial_psf([movie])
    reference = estimate_psf(airy_autocorrelation(670.0, 1.2, 100.0, 41), (100.0, 100.0))
    assert psf_sigma[0] == pytest.approx(reference.psf_sigma, rel=0.04)
    # the Gaussian that fits an Airy core sits near the usual 0.21 lambda / NA
    assert reference.psf_sigma == pytest.approx(truth["airy_gaussian_sigma_nm"], rel=0.1)


def test_pure_noise_warns_and_gives_nan():
    noise = np.random.default_rng(0).random((30, 64, 64)).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="channel 0: no PSF found"):
        psf_sigma, info = blink_spatial_psf([noise])
    assert math.isnan(psf_sigma[0]) and math.isnan(info["sigx"][0])
    assert info["psf"][0].shape == (41, 41)


# ------------------------------------------------------------------ bad input
GOOD = np.random.default_rng(0).poisson(100, size=(10, 32, 32)).astype(np.uint16)


@pytest.mark.parametrize(
    ("channels", "kwargs", "error", "message"),
    [
        (GOOD, {}, TypeError, "channels: expected a sequence"),
        ([], {}, ValueError, "at least one channel"),
        ([GOOD[0]], {}, ValueError, "channel 0: expected a 3-D stack.*2-D"),
        ([GOOD[None]], {}, ValueError, "channel 0: expected a 3-D stack.*4-D"),
        ([GOOD, GOOD[:1]], {"crop_pix": 9}, ValueError, r"channel 1: 1 frame\(s\), at least 3"),
        ([GOOD], {"crop_pix": 41}, ValueError, "channel 0: frames of 32x32 pixels are smaller"),
        ([GOOD], {"crop_pix": 4}, ValueError, "crop_pix: must be at least 5"),
        ([GOOD], {"crop_pix": 9.5}, TypeError, "crop_pix"),
        ([GOOD], {"crop_pix": True}, TypeError, "crop_pix"),
        ([GOOD], {"crop_pix": 9, "channels_pixels_nm": -100}, ValueError, "channels_pixels_nm"),
        ([GOOD], {"crop_pix": 9, "channels_pixels_nm": 0.0}, ValueError, "channels_pixels_nm"),
        ([GOOD], {"crop_pix": 9, "channels_pixels_nm": "100"}, ValueError, "channels_pixels_nm"),
        ([GOOD] * 3, {"crop_pix": 9, "channels_pixels_nm": [100, 100, 100, 100]}, ValueError,
         "4 pixel sizes for 3 channel"),
        ([GOOD], {"crop_pix": 9, "channels_pixels_nm": (100, 100, 100)}, ValueError,
         "channels_pixels_nm"),
        ([GOOD], {"crop_pix": 9, "channels_pixels_nm": [(1, 2, 3)]}, ValueError,
         r"channels_pixels_nm\[0\]"),
        ([GOOD.astype(complex)], {"crop_pix": 9}, TypeError, "channel 0: complex"),
    ],
)
def test_bad_input_is_named(channels, kwargs, error, message):
    with pytest.raises(error, match=message):
        blink_spatial_psf(channels, **kwargs)


def test_nan_pixels_name_count_and_place():
    movie = GOOD.astype(np.float32)
    movie[3, 4, 5] = np.nan
    movie[6, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"channel 1: 2 NaN.*frame 3, row 4, column 5"):
        blink_spatial_psf([GOOD, movie], crop_pix=9)


@pytest.mark.parametrize("value", [0, 7])
def test_constant_stacks_are_rejected(value):
    with pytest.raises(ValueError, match="channel 0: the stack does not change"):
        blink_spatial_psf([np.full((10, 32, 32), value, np.uint16)], crop_pix=9)


def test_a_stack_that_changes_only_by_a_shared_level_is_told_so():
    """Each frame's mean level is left out of the sums: frames that differ only by it
    hold nothing, and the message says so instead of calling them constant."""
    image = np.random.default_rng(0).integers(100, 200, size=(32, 32), dtype=np.uint16)
    movie = image + (np.arange(30, dtype=np.uint16)[:, None, None] % 7)
    with pytest.raises(ValueError, match="channel 0: the stack does not change from frame "
                       "to frame .*, or only by a level shared by the whole frame"):
        blink_spatial_psf([movie], crop_pix=9)


def test_cuda_without_gpu_names_what_is_missing():
    from smlmlp.backend import cuda_status

    if cuda_status()[0]:
        pytest.skip("a GPU is available here")
    with pytest.raises(RuntimeError, match=r"cuda=True.*(cuda12|CUDA)"):
        blink_spatial_psf([GOOD], crop_pix=9, cuda=True)


def test_channels_of_different_shapes_are_independent(two_channels):
    channels, _ = two_channels
    both, _ = blink_spatial_psf(channels, crop_pix=21)
    alone, _ = blink_spatial_psf([channels[1]], crop_pix=21)
    assert both[1] == pytest.approx(alone[0], rel=1e-9)
