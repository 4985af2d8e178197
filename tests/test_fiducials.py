"""Fiducial markers (beads that never blink): found, and their pixels left out of the pass.

On a vibrating stage a bead's bright image moves from frame to frame, which narrows
the PSF by 10 % and more (docs/accuracy.md); with the beads left out the widths hold.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from smlmlp.block_sums import merge_sums
from smlmlp.channel import accumulate_channel, estimate_channel
from smlmlp.fiducials import find_fiducials, movie_fiducials, sample_indices
from smlmlp.simulation import MovieSimulator, simulate_movie
from smlmlp.spectra import accumulate_spectrum
from smlmlp.sums_io import load_sums, save_sums

EMCCD = dict(sigx_nm=130.0, photons=1000.0, background=50.0, camera="emccd",
             on_density_per_um2=0.5, on_time_frames=3.0)  # fmt: skip
BEADS = {"fiducial_count": 4, "fiducial_photons": 50000.0}
SHAKEN = {**BEADS, "drift_jitter_px": 0.02}


@pytest.fixture(scope="module")
def shaken_movie():
    simulator = MovieSimulator(1500, (64, 64), seed=22, artifacts=SHAKEN, **EMCCD)  # apart
    return simulator.movie(), simulator._fiducials_nm / 100.0


def _sigma(sums) -> float:
    estimate = estimate_channel(sums, crop_pix=41, pixel_nm=(100.0, 100.0), errors=False)
    return float(np.sqrt(estimate.sigx * estimate.sigy))


def test_sampled_frames_spread_over_the_whole_movie():
    assert sample_indices(10_000).tolist()[:3] == [0, 667, 1333]
    assert sample_indices(10_000)[-1] == 9999 and len(sample_indices(10_000)) == 16
    assert sample_indices(5).tolist() == [0, 1, 2, 3, 4]


def test_beads_are_found_where_they_are(shaken_movie):
    movie, truth_px = shaken_movie
    found = movie_fiducials(movie)
    assert len(found.spots) == 4
    for row, column in truth_px:  # each bead's peak, and its pixels masked
        distance = np.hypot(*(found.spots - (row - 0.5, column - 0.5)).T)
        assert distance.min() <= 1.0
        assert found.mask[int(row), int(column)]
    assert 4 * 40 <= found.mask.sum() <= 4 * 150  # about 4 sigma around each, no more


@pytest.mark.parametrize("drift", [(5.0, 10.0), (10.0, 20.0)])
def test_beads_the_stage_drifts_are_found_and_left_out_along_their_path(drift):
    """Beads the stage drifts by 11 or 22 px over the movie (1.1 or 2.2 µm, more than
    their width), on a stage that vibrates too: found in the static images of the
    movie's parts, their pixels masked all along their path, and the widths hold; left
    in, or sought in the whole movie's static image alone (where a drifting bead is in
    no pixel for long), they narrow sigma by 10 %."""
    artifacts = {**SHAKEN, "drift_px": drift}
    simulator = MovieSimulator(1500, (64, 64), seed=23, artifacts=artifacts, **EMCCD)
    movie = simulator.movie()
    found = movie_fiducials(movie)
    assert len(found.spots) == 4
    for frame in (0, 500, 1000, 1499):
        for row, column in (simulator._fiducials_nm + simulator._drift_nm[frame]) / 100.0:
            if 0 <= row < 64 and 0 <= column < 64:
                assert found.mask[int(row), int(column)], (frame, row, column)
    whole_movie_only = find_fiducials(movie[sample_indices(len(movie))], (64, 64))
    assert len(whole_movie_only.spots) == 0
    assert _sigma(accumulate_spectrum(movie, workers=2)) / 130.0 - 1.0 == pytest.approx(
        0.0, abs=0.03
    )
    assert _sigma(accumulate_spectrum(movie, workers=2, fiducials=False)) / 130.0 - 1.0 < -0.05


def test_a_bead_the_stage_drifts_out_of_the_field_is_left_out_until_it_leaves():
    """A bead that the stage drifts (by 22 px over the movie) out of the field before its
    end is in none of the last parts' static images: masked all along its path while in
    the field, and the widths are those of the same movie without beads (left in for
    the stretch before it leaves, it narrowed sigma by 1 %)."""
    artifacts = {**SHAKEN, "drift_px": (10.0, 20.0)}
    simulator = MovieSimulator(1500, (64, 64), seed=2, artifacts=artifacts, **EMCCD)
    movie = simulator.movie()
    found = movie_fiducials(movie)
    paths = [(simulator._fiducials_nm + simulator._drift_nm[frame]) / 100.0
             for frame in range(0, 1500, 50)]  # fmt: skip
    inside = [[1 <= row < 63 and 1 <= column < 63 for row, column in path] for path in paths]
    assert not all(inside[-1]) and all(inside[0])  # one bead leaves the field
    for path, present in zip(paths, inside, strict=True):
        for (row, column), here in zip(path, present, strict=True):
            assert not here or found.mask[int(row), int(column)], (row, column)
    beadless = MovieSimulator(
        1500, (64, 64), seed=2, artifacts={**artifacts, "fiducial_count": 0}, **EMCCD
    ).movie()
    with_beads = _sigma(accumulate_spectrum(movie, workers=2))
    assert with_beads / _sigma(accumulate_spectrum(beadless, workers=2)) - 1.0 == pytest.approx(
        0.0, abs=0.005
    )


def test_beads_under_a_flickering_laser_are_left_out_of_the_on_time():
    """Beads under a laser that flickers by 10 % from frame to frame: their flicker
    swamps the blinking in the on-time's pixel pairs (no decay found, or one 30 %
    long); their pixels left out, as the spatial pass leaves them, the on-time holds
    within 5 %. A movie without beads gives the same on-time either way."""
    from smlmlp import blink_temporal_on

    def relative_on_time(movie: np.ndarray, truth: dict, **options: object) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            on_time, _ = blink_temporal_on([movie], 60, 130.0, exposure_ms=1.0, **options)
        return float(on_time) / truth["correlation_time_frames"] - 1.0

    artifacts = {**BEADS, "flicker": 0.1}
    movie, truth = simulate_movie(1500, (64, 64), seed=24, artifacts=artifacts, **EMCCD)
    assert relative_on_time(movie, truth) == pytest.approx(0.0, abs=0.05)
    kept = relative_on_time(movie, truth, fiducials=False)
    assert not abs(kept) < 0.1  # NaN or far off
    plain, truth = simulate_movie(600, (48, 48), seed=25, **EMCCD)
    assert relative_on_time(plain, truth) == relative_on_time(plain, truth, fiducials=False)


def test_a_dense_sample_all_lit_at_the_start_is_no_bead():
    """A dSTORM movie whose filaments are all lit for its first 300 frames (a fifth of
    it) before they blink: bright, static, but in one part of the movie only, and no
    compact spot. Nothing is taken for a bead, and the widths hold."""
    conditions = {**EMCCD, "emitters": "filaments", "seed": 3}
    lit, _ = simulate_movie(300, (64, 64), **{**conditions, "on_density_per_um2": 30.0,
                                              "on_time_frames": 50.0})  # fmt: skip
    blinking, _ = simulate_movie(1200, (64, 64), **conditions)
    movie = np.concatenate([lit, blinking])
    found = movie_fiducials(movie)
    assert len(found.spots) == 0 and not found.mask.any()
    assert _sigma(accumulate_spectrum(movie, workers=2)) / 130.0 - 1.0 == pytest.approx(
        0.0, abs=0.03
    )


@pytest.mark.parametrize(
    ("artifacts", "conditions"),
    [
        (None, {}),
        ({"hot_pixel_fraction": 0.01}, {}),
        ({"haze_photons": 100.0}, {}),
        ({"telegraph_pixel_fraction": 0.02, "telegraph_electrons": 50.0,
          "telegraph_dwell_frames": 30.0}, {"camera": "scmos"}),
        ({"cosmic_rays_per_frame": 0.01}, {}),
        (None, {"emitters": "filaments", "camera": "scmos", "photons": 2000.0}),
        (None, {"on_density_per_um2": 2.0, "on_time_frames": 8.0}),
        (None, {"on_time_frames": 30.0, "photons": 5000.0}),  # bright, long-lived (PAINT)
        ({"fiducial_count": 1, "fiducial_photons": 3000.0}, {}),  # a faint bead: harmless
    ],
)  # fmt: skip
def test_blinking_and_other_artifacts_are_not_taken_for_beads(artifacts, conditions):
    movie, _ = simulate_movie(400, (64, 64), seed=5, artifacts=artifacts, **{**EMCCD, **conditions})
    found = movie_fiducials(movie)
    assert len(found.spots) == 0 and not found.mask.any()


def test_dropped_frames_among_the_sampled_ones_are_left_out():
    options = {**BEADS, "dropped_fraction": 0.3}
    movie, _ = simulate_movie(400, (64, 64), seed=8, artifacts=options, **EMCCD)
    sampled = movie[sample_indices(len(movie))]
    assert (sampled.reshape(len(sampled), -1).max(axis=1) == 0).sum() >= 2
    assert len(movie_fiducials(movie).spots) == 4
    assert len(find_fiducials(list(sampled[:7]), (64, 64)).spots) == 0  # too few frames


def test_beads_on_a_vibrating_stage_leave_the_widths_unbiased(shaken_movie):
    movie, _ = shaken_movie
    kept = accumulate_spectrum(movie, workers=2)
    assert _sigma(kept) / 130.0 - 1.0 == pytest.approx(0.0, abs=0.02)
    assert kept.fiducials == 4 and kept.masked_pixels == movie_fiducials(movie).mask.sum()
    # left in, the beads narrow it: what the mask mends
    assert _sigma(accumulate_spectrum(movie, workers=2, fiducials=False)) / 130.0 - 1.0 < -0.05


def test_the_verdict_notes_the_beads_and_stays_as_it_is(shaken_movie):
    movie, _ = shaken_movie
    sums = accumulate_channel(movie, crop_pix=21)
    estimate = estimate_channel(sums, crop_pix=21, pixel_nm=(100.0, 100.0))
    notes = [note for note in estimate.qc_notes if note.startswith("fiducials")]
    assert notes == [
        f"fiducials: 4 bright spot(s) that never blink (beads) found, their "
        f"{sums.masked_pixels} pixels left out (a vibrating stage would have made them "
        "narrow the PSF)"
    ]
    unnoted = replace(sums, fiducials=0, masked_pixels=0)  # the same sums, no beads said
    plain = estimate_channel(unnoted, crop_pix=21, pixel_nm=(100.0, 100.0))
    assert estimate.qc == plain.qc
    assert [note for note in estimate.qc_notes if note not in notes] == list(plain.qc_notes)
    assert estimate.fiducials == 4 and estimate.masked_pixels == sums.masked_pixels


def test_every_range_of_a_movie_leaves_out_the_same_pixels(shaken_movie, tmp_path):
    movie, _ = shaken_movie
    whole = accumulate_spectrum(movie, block_frames=50, group_frames=50)
    parts = [
        accumulate_spectrum(movie, start=a, stop=b, block_frames=50, group_frames=50)
        for a, b in ((0, 500), (500, 1500))
    ]
    merged = merge_sums(parts)
    np.testing.assert_allclose(merged.ac_sums, whole.ac_sums, rtol=1e-12, atol=0)
    assert (merged.fiducials, merged.masked_pixels) == (whole.fiducials, whole.masked_pixels)
    save_sums(merged, tmp_path / "sums.npz")
    back = load_sums(tmp_path / "sums.npz")
    assert (back.fiducials, back.masked_pixels) == (4, whole.masked_pixels)
    np.testing.assert_array_equal(back.ac_sums, merged.ac_sums)
    unmasked = accumulate_spectrum(movie, stop=500, block_frames=50, group_frames=50,
                                   fiducials=False)  # fmt: skip
    with pytest.raises(ValueError, match="different masked_pixels"):
        merge_sums([unmasked, parts[1]])


def test_tiles_count_the_beads_and_pixels_they_hold(shaken_movie, monkeypatch):
    import smlmlp.spectra

    movie, _ = shaken_movie
    field = accumulate_channel(movie[:600], crop_pix=21, field_tiles=(2, 2))
    whole = accumulate_spectrum(movie[:600])
    assert sum(part.fiducials for part in field.tile_sums) == 4
    assert sum(part.masked_pixels for part in field.tile_sums) == whole.masked_pixels
    assert field.combined().masked_pixels == whole.masked_pixels
    # the tiles' lost pairs worked out on two workers, the tiles shared (as for frames
    # beyond a core's cache): the same bits
    monkeypatch.setattr(smlmlp.spectra, "CACHE_BLOCK_BYTES", 1024)
    shared = accumulate_channel(movie[:600], crop_pix=21, field_tiles=(2, 2), workers=2)
    for one, two in zip(field.tile_sums, shared.tile_sums, strict=True):
        np.testing.assert_array_equal(one.coverage_sums, two.coverage_sums)


def test_the_pairs_lost_to_masked_pixels_are_given_back(monkeypatch):
    """A seventh of a bead-free 64² field masked as beads would be (six disks, two on the
    edges): the autocorrelation loses the pixel pairs reaching into them, and the
    coverage takes them off, so the width is the unmasked movie's within 0.5 %; counted
    as pairs inside the frame only, it comes out more than 0.8 % narrow."""
    import smlmlp.spectra as spectra
    from smlmlp.fiducials import Fiducials
    from smlmlp.holes import MapHoles

    movie, _ = simulate_movie(1500, (64, 64), seed=2, **EMCCD)
    unmasked = _sigma(accumulate_spectrum(movie, fiducials=False))
    rows, columns = np.mgrid[:64, :64]
    mask = np.zeros((64, 64), bool)
    for row, column in [(10, 12), (14, 44), (33, 30), (50, 10), (52, 50), (30, 60)]:
        mask |= (rows - row) ** 2 + (columns - column) ** 2 <= 30
    assert 0.13 < mask.mean() < 0.15
    forced = Fiducials(mask, np.zeros((0, 2), np.int64))
    monkeypatch.setattr(spectra, "movie_fiducials", lambda stack: forced)
    sums = accumulate_spectrum(movie)
    assert sums.masked_pixels == mask.sum()
    assert abs(_sigma(sums) / unmasked - 1.0) < 0.005
    monkeypatch.setattr(spectra, "MapHoles", lambda m, size, xp: MapHoles(0 * m, size, xp))
    assert _sigma(accumulate_spectrum(movie)) / unmasked - 1.0 < -0.008
