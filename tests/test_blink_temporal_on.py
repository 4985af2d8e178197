"""blink_temporal_on: the documented contract, streaming = direct, accuracy, bad input."""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
import scipy.ndimage
import scipy.special
import tifffile

from smlmlp import blink_temporal_on
from smlmlp.backend import cuda_status
from smlmlp.loading import open_movie
from smlmlp.simulation import simulate_movie
from smlmlp.temporal import (
    TemporalAccumulator,
    accumulate_temporal,
    binned_shape,
    fit_decay,
    pair_gain,
    pair_series,
    plan_memory,
)

INFO_KEYS = ["ac", "average", "fit", "time"]


# ------------------------------------------------------------------ helpers
def direct_autocovariance(movie, max_lag, sigma_px, bin_pixels=1):
    """Whole movie in memory: background (the smooth copy subtracted twice), each
    pixel's partners (its four neighbours; with bins, the odd pixels of the bin paired
    with the even ones), centring, products, normalisation (not divided by the gain)."""
    frames = np.asarray(movie, dtype=np.float64)
    n_frames, height, width = frames.shape
    values = frames
    for _ in range(2):
        values = values - scipy.ndimage.gaussian_filter(
            values, sigma=(0.0, *sigma_px), mode="nearest", truncate=4.0
        )
    if bin_pixels == 1:
        own = values
        partners = np.zeros_like(values)
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            target = (
                slice(None),
                slice(max(0, -dy), height - max(0, dy)),
                slice(max(0, -dx), width - max(0, dx)),
            )
            source = (
                slice(None),
                slice(max(0, dy), height - max(0, -dy)),
                slice(max(0, dx), width - max(0, -dx)),
            )
            partners[target] += values[source]
    else:
        rows, columns = binned_shape((height, width), bin_pixels)
        even = (np.add.outer(np.arange(height), np.arange(width)) % 2) == 0

        def binned(image):
            padded = np.zeros((n_frames, rows * bin_pixels, columns * bin_pixels))
            padded[:, :height, :width] = image
            shape = (n_frames, rows, bin_pixels, columns, bin_pixels)
            return padded.reshape(shape).sum((2, 4))

        own, partners = binned(values * even), binned(values * ~even)
    own = own - own.mean(axis=0)
    partners = partners - partners.mean(axis=0)
    return np.array(
        [
            np.sum(own[lag:] * partners[: n_frames - lag]) / (height * width * (n_frames - lag))
            for lag in range(max_lag + 1)
        ]
    )


def assert_close(actual, expected, rel):
    scale = np.abs(expected).max()
    assert np.abs(np.asarray(actual) - expected).max() <= rel * scale


@pytest.fixture(scope="module")
def small_movie():
    movie, truth = simulate_movie(
        400, (20, 23), on_time_frames=3.0, on_probability=0.05, on_density_per_um2=2.0, seed=5
    )
    return movie, truth


@pytest.fixture(scope="module")
def blinking():
    """Two channels of the same blinking statistics; the second one shorter."""
    options = {
        "on_time_frames": 4.0,
        "on_probability": 0.02,
        "pixel_nm": 200.0,
        "on_density_per_um2": 1.0,
    }
    first, truth = simulate_movie(3000, (32, 32), seed=3, **options)
    second, _ = simulate_movie(2400, (24, 28), seed=4, **options)
    return first, second, truth


# ------------------------------------------------------------------ contract
def test_signature_is_the_specified_one():
    parameters = inspect.signature(blink_temporal_on).parameters
    names = list(parameters)
    assert names[:7] == [
        "channels",
        "crop_fr",
        "psf_sigma_nm",
        "exposure_ms",
        "channels_pixels_nm",
        "cuda",
        "parallel",
    ]
    assert parameters["channels"].kind is inspect.Parameter.POSITIONAL_ONLY
    assert parameters["crop_fr"].kind is inspect.Parameter.POSITIONAL_ONLY
    assert parameters["crop_fr"].default is None
    assert parameters["psf_sigma_nm"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert parameters["psf_sigma_nm"].default == 100.0
    for name, default in (
        ("exposure_ms", 50.0),
        ("channels_pixels_nm", 100.0),
        ("cuda", False),
        ("parallel", False),
    ):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[name].default == default
    assert all(parameters[n].kind is inspect.Parameter.KEYWORD_ONLY for n in names[3:])
    assert "config" in names


def test_return_values_follow_the_contract(blinking):
    first, _, truth = blinking
    on_time, info = blink_temporal_on([first], 80, 130.0, exposure_ms=20.0)
    assert isinstance(on_time, float)
    assert sorted(info) == INFO_KEYS
    assert len(info["ac"]) == 1 and info["ac"][0].shape == (80,)
    for key in ("average", "fit", "time"):
        assert info[key].shape == (80,)
    np.testing.assert_array_equal(info["time"], np.arange(1, 81) * 20.0)
    np.testing.assert_array_equal(info["average"], info["ac"][0])
    assert on_time == pytest.approx(20.0 * truth["correlation_time_frames"], rel=0.05)
    # 'fit' is the fitted decay on the same lags: it follows the curve
    residual = info["fit"] - info["average"]
    assert np.abs(residual[:20]).max() < 0.05 * info["average"][0]


def test_default_crop_is_half_the_shortest_channel(blinking):
    first, second, _ = blinking
    _, info = blink_temporal_on([first], channels_pixels_nm=200.0)
    assert len(info["ac"][0]) == 3000 // 2 - 1
    _, info = blink_temporal_on([first, second], channels_pixels_nm=200.0)
    assert [len(curve) for curve in info["ac"]] == [2400 // 2 - 1] * 2
    assert len(info["time"]) == len(info["fit"]) == 2400 // 2 - 1


def test_config_mapping_fills_parameters(small_movie):
    movie, _ = small_movie
    explicit, info = blink_temporal_on([movie], 30, exposure_ms=20.0, psf_sigma_nm=130.0)
    configured, info_config = blink_temporal_on(
        [movie], 30, config={"exposure_ms": 20.0, "psf_sigma_nm": 130.0, "other": 1}
    )
    assert configured == explicit
    np.testing.assert_array_equal(info_config["time"], info["time"])


def test_progress_reports_both_passes(small_movie):
    movie, _ = small_movie
    calls = []
    blink_temporal_on(
        [movie, movie[:300]], 20, chunk_frames=64, progress=lambda *a: calls.append(a)
    )
    totals = {total for _, total in calls}
    assert totals == {2 * (400 + 300)}
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == 2 * (400 + 300)


# ----------------------------------------------------- streaming = direct
@pytest.mark.parametrize("chunk_frames", [1, 7, 64, None])
def test_streaming_equals_direct_computation(small_movie, chunk_frames):
    movie, _ = small_movie
    sigma_px = (3 * 130.0 / 100.0, 3 * 130.0 / 100.0)
    direct = direct_autocovariance(movie, 120, sigma_px)
    _, info = blink_temporal_on([movie], 120, 130.0, chunk_frames=chunk_frames)
    gain = pair_gain(1, movie.shape[1:], (1.3, 1.3), sigma_px)
    assert_close(info["ac"][0], direct[1:] / gain, rel=1e-9)


@pytest.mark.parametrize(("block_frames", "chunk_frames"), [(1, 3), (5, 11), (64, 7), (400, 400)])
def test_fft_blocks_equal_direct_computation(small_movie, block_frames, chunk_frames):
    movie, _ = small_movie
    direct = direct_autocovariance(movie, 150, (2.0, 3.0))
    result = accumulate_temporal(
        movie, 150, (2.0, 3.0), block_frames=block_frames, chunk_frames=chunk_frames
    )
    assert_close(result.autocovariance(), direct, rel=1e-9)


def test_accumulator_pairs_every_frame_once():
    series = np.random.default_rng(3).normal(size=(97, 5))
    for block_frames in (1, 4, 30, 200):
        accumulator = TemporalAccumulator(5, 40, block_frames, pixel_batch=2)
        for first in range(0, 97, 13):
            accumulator.add(series[first : first + 13])
        sums = accumulator.finish()
        direct = [np.sum(series[: 97 - lag] * series[lag:]) for lag in range(41)]
        np.testing.assert_allclose(sums, direct, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("psf_sigma", [0.8, 1.3, 2.0])
@pytest.mark.parametrize("bin_pixels", [1, 2, 3, 4])
def test_pair_gain_equals_a_discrete_computation(psf_sigma, bin_pixels):
    """The pair gain's closed form against pixel-integrated Gaussian spots, filtered
    twice with scipy, at a grid of positions over a bin: the pairs' products over
    each pixel's own squares (within 0.3 % here)."""
    side, k = 96, bin_pixels
    filter_sigma = 3.0 * psf_sigma

    def pixel_integrated(centre):
        edges = np.arange(side + 1) - centre
        return np.diff(0.5 * (1.0 + scipy.special.erf(edges / (math.sqrt(2.0) * psf_sigma))))

    steps = side / 2 + (np.arange(4 * k) + 0.5) / 4
    own = pairs = 0.0
    for y0 in steps:
        for x0 in steps:
            spot = np.outer(pixel_integrated(y0), pixel_integrated(x0))
            for _ in range(2):
                spot = spot - scipy.ndimage.gaussian_filter(
                    spot, filter_sigma, mode="reflect", truncate=4.0
                )
            own += np.sum(spot**2)
            first, second = pair_series(spot[None], k)
            pairs += np.sum(first * second)
    # a frame large enough for its edges not to matter
    gain = pair_gain(k, (960 * k, 960 * k), (psf_sigma,) * 2, (filter_sigma,) * 2)
    assert gain == pytest.approx(pairs / own, rel=0.004)


def test_binned_path_equals_direct_binned_computation(small_movie):
    movie, _ = small_movie
    direct = direct_autocovariance(movie, 100, (3.9, 3.9), bin_pixels=3)
    _, info = blink_temporal_on([movie], 100, 130.0, bin_pixels=3, chunk_frames=50)
    # the stored curve is per single pixel: the binned sums over the pair gain
    gain = pair_gain(3, movie.shape[1:], (1.3, 1.3), (3.9, 3.9))
    assert_close(info["ac"][0], direct[1:] / gain, rel=1e-9)


def test_memory_budget_bins_pixels_without_changing_the_decay(blinking):
    first, _, truth = blinking
    plan = plan_memory(first.shape[1:], 3000, 600, memory_bytes=12 * 2**20)
    assert plan.bin_pixels == 2
    assert plan.buffer_bytes(first.shape[1:], 600) <= 6 * 2**20
    on_full, info_full = blink_temporal_on([first], 600, 130.0, channels_pixels_nm=200.0)
    on_binned, info_binned = blink_temporal_on(
        [first], 600, 130.0, channels_pixels_nm=200.0, memory_bytes=12 * 2**20
    )
    expected = 50.0 * truth["correlation_time_frames"]
    assert on_full == pytest.approx(expected, rel=0.05)
    assert on_binned == pytest.approx(expected, rel=0.05)
    # the bins pair other pixels than the neighbours, divided out again: the same curve
    assert info_binned["ac"][0][0] == pytest.approx(info_full["ac"][0][0], rel=0.05)


def test_coarse_binning_warns(blinking):
    first, _, _ = blinking
    with pytest.warns(RuntimeWarning, match="channel 0: 600 lags .* 7x7 pixel bins"):
        blink_temporal_on([first], 600, 130.0, channels_pixels_nm=200.0, memory_bytes=2**20)


def test_lazy_stacks_equal_arrays(small_movie, tmp_path):
    movie, _ = small_movie
    _, reference = blink_temporal_on([movie], 50, chunk_frames=32)
    path = tmp_path / "movie.raw"
    memmap = np.memmap(path, dtype=movie.dtype, mode="w+", shape=movie.shape)
    memmap[:] = movie
    memmap.flush()
    _, from_memmap = blink_temporal_on([memmap], 50, chunk_frames=32)
    np.testing.assert_array_equal(from_memmap["ac"][0], reference["ac"][0])
    tiff = tmp_path / "movie.tif"
    tifffile.imwrite(tiff, movie)
    with open_movie(tiff) as lazy:
        _, from_tiff = blink_temporal_on([lazy], 50, chunk_frames=32)
    np.testing.assert_array_equal(from_tiff["ac"][0], reference["ac"][0])


# ------------------------------------------------------------------ accuracy
@pytest.mark.parametrize(
    ("on_time_frames", "on_probability", "n_frames"),
    [(1.5, 0.05, 2000), (3.0, 0.03, 3000), (8.0, 0.02, 4000), (20.0, 0.01, 8000)],
)
def test_on_time_matches_the_simulated_truth(on_time_frames, on_probability, n_frames):
    movie, truth = simulate_movie(
        n_frames,
        (32, 32),
        pixel_nm=200.0,
        on_time_frames=on_time_frames,
        on_probability=on_probability,
        on_density_per_um2=1.0,
        seed=0,
    )
    on_time, info = blink_temporal_on(
        [movie], psf_sigma_nm=130.0, exposure_ms=10.0, channels_pixels_nm=200.0
    )
    # the documented value: the correlation time 1 / (k_on + k_off) ...
    correlation_time = truth["correlation_time_frames"]
    assert correlation_time == pytest.approx(on_time_frames * (1 - on_probability))
    assert on_time == pytest.approx(10.0 * correlation_time, rel=0.05)
    # ... which is within p_on of the mean on-time
    assert on_time == pytest.approx(10.0 * on_time_frames, rel=0.05 + on_probability)
    assert np.all(np.isfinite(info["fit"]))


def test_on_time_scales_with_the_exposure(small_movie):
    movie, _ = small_movie
    short, info_short = blink_temporal_on([movie], 40, exposure_ms=10.0)
    long, info_long = blink_temporal_on([movie], 40, exposure_ms=35.0)
    assert math.isfinite(short)
    assert long == pytest.approx(3.5 * short, rel=1e-12)
    np.testing.assert_allclose(info_long["time"], 3.5 * info_short["time"])
    np.testing.assert_array_equal(info_long["average"], info_short["average"])


def test_several_channels_are_averaged(blinking):
    first, second, truth = blinking
    on_time, info = blink_temporal_on(
        [first, second],
        200,
        psf_sigma_nm=[130.0, 150.0],
        channels_pixels_nm=[(200.0, 200.0), (200.0, 200.0)],
    )
    assert len(info["ac"]) == 2
    np.testing.assert_allclose(info["average"], (info["ac"][0] + info["ac"][1]) / 2)
    decay = fit_decay(info["average"])
    assert on_time == pytest.approx(50.0 * decay.tau)
    np.testing.assert_allclose(info["fit"], decay.model(np.arange(1, 201)))
    assert on_time == pytest.approx(50.0 * truth["correlation_time_frames"], rel=0.05)
    # each channel with its own PSF width: the second curve is the one-channel result
    _, alone = blink_temporal_on([second], 200, 150.0, channels_pixels_nm=200.0)
    np.testing.assert_array_equal(alone["ac"][0], info["ac"][1])


# ------------------------------------------------------------------ pure noise
def test_pure_noise_gives_nan_and_a_warning():
    noise = np.random.default_rng(4).poisson(100.0, size=(1000, 32, 32)).astype(np.uint16)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        on_time, info = blink_temporal_on([noise])
    messages = [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 2
    assert messages[0].startswith("channel 0: ") and "above the noise" in messages[0]
    assert messages[1].startswith("on_time is NaN")
    assert math.isnan(on_time)
    assert np.all(np.isnan(info["fit"]))
    assert np.all(np.isfinite(info["ac"][0]))


def test_a_noise_channel_is_named_and_the_others_still_give_an_on_time(blinking):
    first, _, truth = blinking
    noise = np.random.default_rng(5).poisson(50.0, size=(2400, 16, 16)).astype(np.uint16)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        on_time, _ = blink_temporal_on(
            [first, noise], 100, 130.0, channels_pixels_nm=[200.0, 200.0]
        )
    messages = [str(w.message) for w in record if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and messages[0].startswith("channel 1:")
    assert on_time == pytest.approx(50.0 * truth["correlation_time_frames"], rel=0.05)


def test_unresolved_decay_is_nan_not_a_bound():
    lags = np.arange(1, 11)
    decay = fit_decay(np.exp(-lags / 300.0))
    assert not decay.valid and math.isnan(decay.tau)
    assert "not resolved" in decay.reason
    exact = fit_decay(2.0 * np.exp(-np.arange(1, 200) / 6.5) - 0.3)
    assert exact.tau == pytest.approx(6.5, rel=1e-6)


# ------------------------------------------------------------------ bad input
def _movie(frames=10):
    return np.random.default_rng(0).poisson(20.0, size=(frames, 8, 8)).astype(np.uint16)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (([],), {}, ValueError, "at least one channel"),
        ((_movie(),), {}, TypeError, "sequence of"),
        (([np.zeros((8, 8))],), {}, ValueError, "channel 0: expected a 3-D"),
        (([_movie(), _movie(2)],), {}, ValueError, r"channel 1: 2 frame\(s\), at least 3"),
        (([_movie(3)],), {}, ValueError, "channel 0: 3 frames give no lag"),
        (([_movie()], 0), {}, ValueError, "crop_fr: must be at least 1"),
        (([_movie()], 10), {}, ValueError, "crop_fr: 10 lags .* channel 0 has 10"),
        (([_movie(20), _movie()], 12), {}, ValueError, "channel 1 has 10"),
        (([_movie()], 2.5), {}, TypeError, "crop_fr: expected an integer"),
        (([_movie()], True), {}, TypeError, "crop_fr: expected an integer"),
        (([_movie()], 3, -100.0), {}, ValueError, "psf_sigma_nm: must be positive"),
        (([_movie()], 3, [100.0, 120.0]), {}, ValueError, "2 PSF sigmas for 1 channel"),
        (([_movie()], 3, [0.0]), {}, ValueError, r"psf_sigma_nm\[0\]"),
        (([_movie()], 3), {"exposure_ms": 0.0}, ValueError, "exposure_ms: must be positive"),
        (([_movie()], 3), {"exposure_ms": math.nan}, ValueError, "exposure_ms"),
        (([_movie()], 3), {"channels_pixels_nm": -1.0}, ValueError, "channels_pixels_nm"),
        (([_movie()], 3), {"chunk_frames": 0}, ValueError, "chunk_frames"),
        (([_movie()], 3), {"bin_pixels": 1.5}, TypeError, "bin_pixels"),
        (([np.full((10, 8, 8), 7.0)], 3), {}, ValueError, "channel 0: the stack does not change"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        blink_temporal_on(*args, **kwargs)


def test_nan_pixels_are_rejected_naming_channel_and_frame():
    movie = _movie().astype(np.float32)
    movie[6, 2, 3] = np.nan
    with pytest.raises(ValueError, match="channel 1: 1 NaN .* first at frame 6, row 2, column 3"):
        blink_temporal_on([_movie(), movie], 3, chunk_frames=4)


@pytest.mark.skipif(cuda_status()[0], reason="a GPU is available")
def test_cuda_without_a_gpu_fails_clearly():
    with pytest.raises(RuntimeError, match="cuda=True was requested"):
        blink_temporal_on([_movie()], 3, cuda=True)


# ------------------------------------------------------------------ GPU
@pytest.mark.gpu
@pytest.mark.skipif(not cuda_status()[0], reason=f"no usable GPU: {cuda_status()[1]}")
def test_gpu_equals_cpu(small_movie):
    movie, _ = small_movie
    cpu_time, cpu = blink_temporal_on([movie], 120, chunk_frames=64)
    gpu_time, gpu = blink_temporal_on([movie], 120, chunk_frames=64, cuda=True)
    # the GPU pass runs in float32 (working_dtype): its documented agreement
    assert_close(gpu["ac"][0], cpu["ac"][0], rel=1e-5)
    assert gpu_time == pytest.approx(cpu_time, rel=1e-4)
    _, gpu_binned = blink_temporal_on([movie], 120, cuda=True, bin_pixels=3, memory_bytes=2**20)
    _, cpu_binned = blink_temporal_on([movie], 120, bin_pixels=3, memory_bytes=2**20)
    assert_close(gpu_binned["ac"][0], cpu_binned["ac"][0], rel=1e-5)


def test_messages_name_the_channels_by_the_callers_names():
    movie = np.random.default_rng(0).poisson(50, size=(30, 16, 16)).astype(np.float32)
    with pytest.raises(ValueError, match=r"40 lags need more than 40 frames, red \(a.tif\)"):
        blink_temporal_on([movie], 40, names=["red (a.tif)"])
    with pytest.raises(ValueError, match="names: expected one name per channel"):
        blink_temporal_on([movie], 5, names=["a", "b"])


def test_paired_accumulator_pairs_each_frame_with_earlier_partners():
    rng = np.random.default_rng(7)
    series, partners = rng.normal(size=(2, 83, 4))  # (frames, pixels) each
    for block_frames in (1, 9, 200):
        accumulator = TemporalAccumulator(4, 30, block_frames, pixel_batch=3, paired=True)
        for first in range(0, 83, 10):
            accumulator.add(series[first : first + 10], partners[first : first + 10])
        sums = accumulator.finish()
        direct = [np.sum(series[lag:] * partners[: 83 - lag]) for lag in range(31)]
        np.testing.assert_allclose(sums, direct, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="partners go with a paired accumulator"):
        TemporalAccumulator(4, 3, 5).add(series[:5], partners[:5])
    with pytest.raises(ValueError, match="partners go with a paired accumulator"):
        TemporalAccumulator(4, 3, 5, paired=True).add(series[:5])
    with pytest.raises(ValueError, match=r"expected partners of shape \(5, 4\)"):
        TemporalAccumulator(4, 3, 5, paired=True).add(series[:5], partners[:4])


def test_group_lag_sums_split_the_pairs_by_their_later_frame():
    rng = np.random.default_rng(4)
    series = rng.normal(size=(95, 3))  # (frames, pixels)
    accumulator = TemporalAccumulator(3, max_lag=6, block_frames=40, group_frames=20)
    for first in range(0, 95, 13):
        accumulator.add(series[first : first + 13])
    total = accumulator.finish()
    starts, sums = accumulator.groups()
    assert starts.tolist() == [0, 20, 40, 60, 80]
    assert np.allclose(sums.sum(axis=0), total, rtol=1e-12, atol=1e-12)
    for start, group in zip(starts, sums, strict=True):
        stop = min(start + 20, 95)
        direct = [
            sum(series[t - lag] @ series[t] for t in range(max(start, lag), stop))
            for lag in range(7)
        ]
        assert np.allclose(group, direct, rtol=1e-10, atol=1e-10)


def test_leaving_a_group_out_drops_its_pairs():
    movie = np.random.default_rng(5).poisson(40, size=(120, 12, 12)).astype(np.float64)
    result = accumulate_temporal(movie, 5, (3.0, 3.0), group_frames=40)
    assert result.group_first.tolist() == [0, 40, 80]
    kept = result.autocovariance(leave_out=1)
    pairs = (result.n_frames - np.arange(6)) - np.array([40] * 6)
    expected = (result.sums - result.group_sums[1]) / (result.n_pixels * pairs)
    assert np.allclose(kept, expected)
    first = result.autocovariance(leave_out=0)  # lags below the group's end only
    pairs = (result.n_frames - np.arange(6)) - (40 - np.arange(6))
    assert np.allclose(first, (result.sums - result.group_sums[0]) / (result.n_pixels * pairs))


@pytest.mark.slow
def test_on_time_standard_error_follows_the_seed_to_seed_spread():
    values, errors = [], []
    for seed in range(20):
        movie, truth = simulate_movie(
            1500, (32, 32), on_time_frames=4.0, on_probability=0.02, seed=100 + seed
        )
        on_time, _, extra = blink_temporal_on([movie], 60, exposure_ms=1.0, full_output=True)
        values.append(on_time)
        errors.append(extra["on_time_se"])
        assert extra["n_groups"] == 25  # groups of 3 blocks of 20 frames
        assert extra["on_time_frames_se"] == extra["on_time_se"]
    ratio = np.mean(errors) / np.std(values, ddof=1)
    assert 0.7 <= ratio <= 1.4, ratio
    truth_value = truth["correlation_time_frames"]
    assert np.mean(np.abs(np.array(values) - truth_value) <= 1.96 * np.array(errors)) >= 0.8


def test_curve_does_not_depend_on_the_memory_budget() -> None:
    """Bins chosen by a small budget raise the binned sums several-fold; the stored
    curve is divided by the binning gain, so it stays that of single pixels."""
    movie, _ = simulate_movie(1500, (64, 64), sigx_nm=130.0, sigy_nm=130.0, seed=2)
    curves, taus = {}, {}
    for k in (1, 2, 3, 4):
        taus[k], info, errors = blink_temporal_on(
            [movie], 60, psf_sigma_nm=130.0, bin_pixels=k, full_output=True
        )
        assert errors["bin_pixels"] == [k]
        assert errors["pair_gain"][0] == pair_gain(k, (64, 64), (1.3, 1.3), (3.9, 3.9))
        curves[k] = info["ac"][0]
    for k in (2, 3, 4):
        # raw: up to 7x; within 5.4 % here, mostly the edges of a 64-pixel frame
        # (1.9 % for bins of 4 in a 128-pixel frame)
        assert curves[k][0] == pytest.approx(curves[1][0], rel=0.06)
        assert taus[k] == pytest.approx(taus[1], rel=0.03)
