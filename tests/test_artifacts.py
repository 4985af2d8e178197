"""The simulated artifacts of real acquisitions (smlmlp.artifacts, MovieSimulator(artifacts=))."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smlmlp.artifacts import Artifacts, gaussian_patches, slow_levels
from smlmlp.simulation import MovieSimulator, psf_image, simulate_movie

SMALL = {"n_frames": 60, "shape": (24, 28), "on_density_per_um2": 2.0}
EVERYTHING = {
    "bleach_lifetime_frames": 40.0,
    "drift_px": (1.0, -2.0),
    "drift_walk_px": 0.05,
    "flicker": 0.05,
    "haze_photons": 20.0,
    "hot_pixel_fraction": 0.01,
    "cosmic_rays_per_frame": 0.2,
    "field_sigma_factor": 1.3,
    "focus_sigma_factor": 1.2,
    "defocused_fraction": 0.2,
}


def test_artifacts_are_seeded_chunk_independent_and_reported():
    movie, truth = simulate_movie(**SMALL, seed=3, artifacts=EVERYTHING)
    again, _ = simulate_movie(**SMALL, seed=3, artifacts=Artifacts(**EVERYTHING))
    plain, plain_truth = simulate_movie(**SMALL, seed=3)
    assert np.array_equal(movie, again) and not np.array_equal(movie, plain)
    simulator = MovieSimulator(**SMALL, seed=3, artifacts=EVERYTHING)
    for chunk in (1, 7, 60):
        assert np.array_equal(np.concatenate(list(simulator.chunks(chunk))), movie)
    assert truth["artifacts"]["drift_px"] == [1.0, -2.0]
    assert "artifacts" not in plain_truth


def test_one_artifact_leaves_the_other_draws_alone():
    """Each artifact has its own stream: flicker on or off, the emitters and noise agree."""
    base = MovieSimulator(**SMALL, seed=5)
    flicker = MovieSimulator(**SMALL, seed=5, artifacts={"flicker": 0.1})
    assert np.array_equal(base.positions_nm, flicker.positions_nm)
    expected_base = np.concatenate(list(base.expected_chunks()))
    expected_flicker = np.concatenate(list(flicker.expected_chunks()))
    # the emitter light scales by the frame's laser factor, the background does not
    factors = flicker._laser
    emitters_base = expected_base - base.background
    emitters_flicker = expected_flicker - flicker.background
    assert np.allclose(emitters_flicker, emitters_base * factors[:, None, None])
    assert 0.05 < factors.std() < 0.15
    # with flicker_background, the background follows the same factor
    both = MovieSimulator(
        **SMALL, seed=5, artifacts={"flicker": 0.1, "flicker_background": True}
    )
    expected_both = np.concatenate(list(both.expected_chunks()))
    background = both.background * factors[:, None, None]
    assert np.allclose(expected_both - background, emitters_flicker)


def test_a_background_under_a_beam_keeps_its_mean_and_flickers_with_its_profile():
    """Known truth: a Gaussian beam of rms width 0.25 frame, centred, mean 1 over the
    frame; with flicker_background each frame's background is the beam times the
    laser factor, the emitters as without the beam."""
    shape = SMALL["shape"]
    plain = MovieSimulator(**SMALL, seed=5, artifacts={"flicker": 0.1})
    beam = MovieSimulator(
        **SMALL,
        seed=5,
        artifacts={"flicker": 0.1, "flicker_background": True, "background_beam": 0.25},
    )
    axes = [(np.arange(side) - 0.5 * (side - 1)) / (0.25 * side) for side in shape]
    profile = np.exp(-0.5 * (axes[0][:, None] ** 2 + axes[1][None, :] ** 2))
    profile /= profile.mean()
    assert profile.max() / profile.min() > 20  # peaked: from the centre to a corner
    factors = beam._laser
    expected = np.concatenate(list(beam.expected_chunks()))
    emitters = np.concatenate(list(plain.expected_chunks())) - plain.background
    assert np.allclose(expected - emitters, beam.background * factors[:, None, None] * profile)
    assert beam.mean_image().mean() == pytest.approx(plain.mean_image().mean())


def test_bleaching_leaves_the_expected_fraction_of_emitters():
    n_frames = 500
    simulator = MovieSimulator(
        n_frames, (32, 32), seed=1, artifacts={"bleach_lifetime_frames": n_frames / math.log(5)}
    )
    alive_at_end = np.mean(simulator._bleach_frame > n_frames)
    assert alive_at_end == pytest.approx(0.2, abs=0.05)
    light = [chunk.sum() for chunk in simulator.expected_chunks(100)]
    background = simulator.background * 32 * 32 * 100
    assert (light[-1] - background) < 0.5 * (light[0] - background)


def test_drift_moves_the_emitters_by_the_given_shift():
    simulator = MovieSimulator(
        101, (40, 40), seed=2, on_probability=0.5, artifacts={"drift_px": (2.0, -3.0)}
    )
    assert np.allclose(simulator._drift_nm[-1], [200.0, -300.0])
    expected = list(simulator.expected_chunks(101))[0] - simulator.background
    # the same emitters lit all the time (p = 0.5): the light follows the stage
    before, after = expected[:10].mean(0), expected[-10:].mean(0)
    correlation = np.fft.ifft2(np.fft.fft2(after) * np.conj(np.fft.fft2(before))).real
    peak = np.unravel_index(np.argmax(correlation), correlation.shape)
    shift = [(p + 20) % 40 - 20 for p in peak]
    assert shift == [2, -3]


def test_haze_is_smooth_positive_and_wanders():
    levels = slow_levels(np.random.default_rng(0), 5000, 0.5, 50.0, 2)
    assert levels.min() >= 0 and levels.mean() == pytest.approx(1.0, abs=0.1)
    assert levels.std() == pytest.approx(0.5, abs=0.1)
    assert np.abs(np.diff(levels[:, 0])).mean() < 0.05  # slow: small frame-to-frame steps
    simulator = MovieSimulator(
        200, (48, 48), seed=3, on_density_per_um2=0.0, background=0.0,
        artifacts={"haze_photons": 60.0},
    )  # fmt: skip
    expected = np.concatenate(list(simulator.expected_chunks()))
    assert expected.mean() == pytest.approx(60.0, rel=0.3)
    assert expected.std(axis=(1, 2)).mean() > 1.0  # a pattern, not flat
    assert expected.mean(axis=(1, 2)).std() > 3.0  # its level changes with time


def test_haze_wider_than_the_frame_is_uniform():
    """A haze scale far beyond the frame leaves no pattern to normalise: a uniform
    haze whose level wanders, not an overflow."""
    simulator = MovieSimulator(
        1000, (16, 16), seed=3, on_density_per_um2=0.0, background=0.0,
        artifacts={"haze_photons": 60.0, "haze_scale_px": 1000.0},
    )  # fmt: skip
    expected = np.concatenate(list(simulator.expected_chunks()))
    assert np.all(np.isfinite(expected))
    assert np.allclose(expected, expected[:, :1, :1])  # flat in every frame
    assert expected.mean() == pytest.approx(60.0, rel=0.3)
    assert expected.mean(axis=(1, 2)).std() > 3.0


def test_telegraph_pixels_jump_between_two_levels():
    """A fraction of the pixels with a readout level that jumps by the set electrons,
    dwelling the set number of frames on average; the rest untouched; no light."""
    options = {"telegraph_pixel_fraction": 0.05, "telegraph_electrons": 40.0,
               "telegraph_dwell_frames": 8.0}  # fmt: skip
    quiet = dict(on_density_per_um2=0.0, background=0.0, camera="poisson", seed=5)
    clean = MovieSimulator(3000, (32, 32), **quiet).movie().astype(float)
    simulator = MovieSimulator(3000, (32, 32), **quiet, artifacts=options)
    noisy = simulator.movie().astype(float)
    added = (noisy - clean).reshape(3000, -1)  # the same noise draws: only the levels
    pixels, levels = simulator._telegraph
    assert 0.03 * 1024 <= len(pixels) <= 0.07 * 1024
    others = np.setdiff1d(np.arange(1024), pixels)
    assert np.all(added[:, others] == 0)
    assert np.allclose(added[:, pixels], 40.0 * levels, atol=1.0)  # 1 ADU per electron
    dwells = [np.diff(np.flatnonzero(np.diff(levels[:, i]))).mean() for i in range(len(pixels))]
    assert np.mean(dwells) == pytest.approx(8.0, rel=0.1)
    assert levels.mean() == pytest.approx(0.5, abs=0.1)


def test_banding_shifts_every_row_and_column_by_its_own_offset_each_frame():
    """Rows and columns offset by the set rms electrons, drawn anew each frame; no light."""
    quiet = dict(on_density_per_um2=0.0, background=0.0, camera="poisson", seed=6)
    clean = MovieSimulator(400, (32, 48), **quiet).movie().astype(float)
    options = {"row_noise_electrons": 8.0, "column_noise_electrons": 5.0}
    added = MovieSimulator(400, (32, 48), **quiet, artifacts=options).movie() - clean
    # a row's offset and a column's, to the rounding of the readout (±1 ADU)
    rows = np.median(added - np.median(added, axis=1, keepdims=True), axis=2)
    columns = np.median(added - np.median(added, axis=2, keepdims=True), axis=1)
    assert rows.std() == pytest.approx(8.0, rel=0.1)
    assert columns.std() == pytest.approx(5.0, rel=0.1)
    model = added - rows[:, :, None] - columns[:, None, :]
    assert np.abs(model - np.median(model, axis=(1, 2), keepdims=True)).max() <= 3.0
    assert abs(np.corrcoef(rows[:-1].ravel(), rows[1:].ravel())[0, 1]) < 0.05  # new each frame


def test_fiducials_shine_in_every_frame_and_move_with_the_vibrating_stage():
    """Beads that never blink, inside the field, their photons in every frame; a
    vibrating stage moves them (and nothing else changes) by its rms, anew each frame."""
    quiet = dict(on_density_per_um2=0.0, background=0.0, camera="poisson", seed=7)
    still = MovieSimulator(
        300, (40, 40), **quiet, artifacts={"fiducial_count": 3, "fiducial_photons": 2e4}
    )
    frames = np.concatenate(list(still.expected_chunks()))
    assert np.allclose(frames, frames[0])  # no blinking, no motion
    assert frames[0].sum() == pytest.approx(3 * 2e4, rel=1e-3)
    positions = still._fiducials_nm / 100.0  # pixels
    assert positions.shape == (3, 2) and positions.min() >= 5.0 and positions.max() <= 35.0
    options = {"fiducial_count": 1, "fiducial_photons": 2e4, "drift_jitter_px": 0.05}
    shaken = np.concatenate(list(MovieSimulator(300, (40, 40), **quiet,
                                                artifacts=options).expected_chunks()))  # fmt: skip
    rows, columns = np.indices((40, 40))
    weight = shaken.sum(axis=(1, 2))
    centroid = np.stack([(shaken * rows).sum(axis=(1, 2)), (shaken * columns).sum(axis=(1, 2))])
    steps = centroid / weight - (centroid / weight).mean(axis=1, keepdims=True)
    assert steps.std(axis=1) == pytest.approx([0.05, 0.05], rel=0.15)
    assert abs(np.corrcoef(steps[0, :-1], steps[0, 1:])[0, 1]) < 0.15  # new each frame


def test_hot_pixels_and_cosmic_rays():
    simulator = MovieSimulator(
        50, (32, 32), seed=4, on_density_per_um2=0.0, background=1.0,
        artifacts={"hot_pixel_fraction": 0.02, "hot_pixel_electrons": 500.0,
                   "cosmic_rays_per_frame": 1.0},
    )  # fmt: skip
    expected = np.concatenate(list(simulator.expected_chunks()))
    hot = np.all(expected >= 500.0, axis=0)
    assert 5 <= hot.sum() <= 45
    spikes = (expected - simulator._dark[None] > 1500.0).sum(axis=(1, 2))
    assert 0 < spikes.sum() and spikes.max() <= 5 * 4


def test_a_saturating_camera_clips_at_its_ceiling():
    """The same draws, the values above the ceiling set to it, the others untouched."""
    plain, _ = simulate_movie(**SMALL, seed=6, photons=3000.0)
    ceiling = float(np.percentile(plain, 99.0))
    clipped, truth = simulate_movie(**SMALL, seed=6, photons=3000.0,
                                    artifacts={"ceiling_adu": ceiling})  # fmt: skip
    assert np.array_equal(clipped, np.minimum(plain, int(ceiling)))
    assert 0.005 < np.mean(clipped == clipped.max()) < 0.02
    assert truth["artifacts"]["ceiling_adu"] == ceiling


def test_a_subtracted_level_sets_the_negative_values_to_zero():
    plain, _ = simulate_movie(**SMALL, seed=6)
    level = float(np.median(plain))
    zeroed, _ = simulate_movie(**SMALL, seed=6, artifacts={"subtracted_adu": level})
    expected = np.maximum(plain.astype(int) - int(level), 0)
    assert np.array_equal(zeroed, expected)
    assert 0.4 < np.mean(zeroed == 0) < 0.6


def test_sample_region_confines_the_emitters():
    simulator = MovieSimulator(
        10, (64, 64), seed=5, artifacts={"sample_region": (0.25, 0.75, 0.0, 0.5)}
    )
    y, x = simulator.positions_nm.T
    assert y.min() >= 1600.0 and y.max() <= 4800.0
    # the left side reaches the frame's edge: emitters just outside it shine in
    assert x.min() < 0.0 and x.max() <= 3200.0


def test_varying_widths_follow_field_focus_and_defocus():
    simulator = MovieSimulator(
        11, (50, 100), seed=6, sigx_nm=100.0, on_density_per_um2=1.0,
        artifacts={"field_sigma_factor": 1.5, "focus_sigma_factor": 1.2,
                   "defocused_fraction": 0.3, "defocused_sigma_factor": 3.0},
    )  # fmt: skip
    emitters = np.arange(simulator.n_emitters)
    first, last = simulator.width_factor(emitters, 0), simulator.width_factor(emitters, 10)
    assert np.allclose(last / first, 1.2)
    x = simulator.positions_nm[:, 1]
    focused = ~simulator.defocused
    expected = 1.0 + 0.5 * np.clip(x / 10_000.0, 0.0, 1.0)
    assert np.allclose(first[focused], expected[focused])
    assert np.allclose(first[~focused], 3.0 * expected[~focused])
    assert 0.2 < simulator.defocused.mean() < 0.4


@pytest.mark.parametrize("theta", [0.0, 90.0, 30.0])
def test_patches_of_varying_width_match_the_fixed_psf(theta):
    """gaussian_patches at one width equals the simulator's own PSF."""
    half = (7, 7)
    y, x = np.array([1234.0]), np.array([987.0])
    row0, col0, values = gaussian_patches(
        y, x, np.array([130.0]), np.array([100.0]), theta, (100.0, 100.0), half
    )
    image = psf_image((40, 40), (1234.0, 987.0), sigx_nm=130.0, sigy_nm=100.0, theta_deg=theta)
    window = image[row0[0] : row0[0] + 15, col0[0] : col0[0] + 15]
    assert np.allclose(values[0], window, atol=2e-6)
    assert values[0].sum() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"flicker": -0.1}, "flicker must be >= 0"),
        ({"flicker_background": "yes"}, "flicker_background must be true or false"),
        ({"background_beam": 0.0}, r"background_beam must be > 0"),
        ({"bleach_lifetime_frames": 0.0}, "bleach_lifetime_frames must be > 0"),
        ({"sample_region": (0.5, 0.2, 0.0, 1.0)}, "sample_region"),
        ({"drift_px": (1.0,)}, "drift_px"),
        ({"field_profile": "diagonal"}, "field_profile"),
        ({"wobble": 1.0}, "unknown field"),
        ({"defocused_fraction": 1.0}, "defocused_fraction"),
        ({"ceiling_adu": 70000.0}, r"ceiling_adu must be in \(0, 65535\]"),
        ({"drift_jitter_px": -0.01}, "drift_jitter_px must be >= 0"),
        ({"fiducial_count": 1.5}, "fiducial_count must be an integer >= 0"),
        ({"fiducial_count": True}, "fiducial_count must be an integer >= 0"),
        ({"fiducial_count": -1}, "fiducial_count must be an integer >= 0"),
        ({"fiducial_photons": float("nan")}, "fiducial_photons must be >= 0"),
    ],
)
def test_bad_artifacts_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        MovieSimulator(10, (16, 16), artifacts=options)


def test_varying_widths_need_a_gaussian_psf():
    with pytest.raises(ValueError, match="needs psf='gaussian'"):
        MovieSimulator(10, (16, 16), psf="airy", artifacts={"focus_sigma_factor": 1.2})
