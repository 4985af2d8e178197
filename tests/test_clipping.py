"""Clipped values: the movie's ceiling (saturation) and floor (negative values set to
zero) found in the pass, exact against a count made here, the same however the movie is
cut, and a QC warning where clipping biases the PSF."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from smlmlp import blink_spatial_psf
from smlmlp.block_sums import BLOCK_FRAMES, BlockSums, merge_sums
from smlmlp.clipping import CLIPPING_ARRAYS
from smlmlp.estimate import SATURATION_WARNING, estimate_from_sums
from smlmlp.field_tiles import accumulate_field
from smlmlp.infofile import ChannelInfo, read_info, write_info
from smlmlp.simulation import simulate_movie
from smlmlp.spectra import CLIPPING_EVERY, accumulate_spectrum
from smlmlp.sums_io import load_sums, save_sums

N_FRAMES = 700
SHAPE = (52, 44)


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    frames, _ = simulate_movie(
        N_FRAMES, SHAPE, sigx_nm=130.0, photons=3000.0, background=30.0, seed=21
    )
    return frames


def clipped(movie: np.ndarray, percentile: float) -> tuple[np.ndarray, int]:
    ceiling = int(np.percentile(movie, percentile))
    return np.minimum(movie, ceiling), ceiling


def counted_here(
    movie: np.ndarray, block_frames: int = BLOCK_FRAMES, highest: bool = True
) -> tuple[float, float]:
    """The ceiling (or floor) and the fraction at it, counted directly: the searched
    blocks' values equal to the movie's largest (smallest), less the pixels holding
    it in every frame of their block."""
    blocks = [
        movie[first : first + block_frames]
        for first in range(0, len(movie), block_frames * CLIPPING_EVERY)
    ]
    ends = [float(block.max() if highest else block.min()) for block in blocks]
    extreme = max(ends) if highest else min(ends)
    at, searched = 0, 0
    for block in blocks:
        hits = (block == extreme).sum(axis=0)
        at += int(hits[hits < len(block)].sum())
        searched += block.size
    return extreme, at / searched


def above_floor_here(movie: np.ndarray, block_frames: int = BLOCK_FRAMES) -> float:
    """The fraction of the searched blocks' values one above the movie's smallest, less
    the pixels holding that value in every frame of their block."""
    blocks = [
        movie[first : first + block_frames]
        for first in range(0, len(movie), block_frames * CLIPPING_EVERY)
    ]
    level = counted_here(movie, block_frames, highest=False)[0] + 1
    at, searched = 0, 0
    for block in blocks:
        hits = (block == level).sum(axis=0)
        at += int(hits[hits < len(block)].sum())
        searched += block.size
    return at / searched


def zero_clipped(movie: np.ndarray, percentile: float) -> np.ndarray:
    """The movie less its ``percentile`` level, negative values set to zero."""
    level = np.percentile(movie, percentile)
    return np.clip(movie.astype(np.float32) - np.float32(level), 0, None)


def test_the_ceiling_and_its_fraction_are_those_counted_here(movie: np.ndarray) -> None:
    frames, ceiling = clipped(movie, 99.8)
    frames[:, 3, 5] = ceiling  # a pixel stuck at the ceiling: not counted
    found = accumulate_spectrum(frames).saturation()
    assert found == counted_here(frames)
    assert found[0] == ceiling
    assert 1e-3 < found[1] < 4e-3  # 0.2 % of the values clipped, sampled


def test_the_floor_and_its_fraction_are_those_counted_here(movie: np.ndarray) -> None:
    frames = zero_clipped(movie, 30.0)
    frames[:, 7, 2] = 0.0  # a dead pixel: not counted
    found = accumulate_spectrum(frames).floor_clipping()
    assert found == counted_here(frames, highest=False)
    assert found[0] == 0.0 and 0.25 < found[1] < 0.35


def test_without_clipping_both_ends_are_rare_draws(movie: np.ndarray) -> None:
    sums = accumulate_spectrum(movie)
    ceiling, fraction = sums.saturation()
    assert ceiling == counted_here(movie)[0]
    assert fraction < 1e-5 < SATURATION_WARNING
    floor, at_floor = sums.floor_clipping()
    assert floor == counted_here(movie, highest=False)[0] > 0
    assert at_floor < 1e-4


def both_ends(sums: BlockSums) -> tuple:
    return sums.saturation(), sums.floor_clipping(), sums.above_floor()


def test_the_same_tally_however_the_movie_is_cut(movie: np.ndarray) -> None:
    frames = np.clip(clipped(movie, 99.9)[0], np.percentile(movie, 5), None)
    whole = both_ends(accumulate_spectrum(frames))
    assert whole[1][1] > 0.03  # the floor is clipped too
    assert both_ends(accumulate_spectrum(frames, chunk_frames=7, workers=2)) == whole
    # frame ranges of a cluster job, cut inside a block and a group
    parts = [accumulate_spectrum(frames, start=0, stop=333), accumulate_spectrum(frames, start=333)]
    assert both_ends(merge_sums(parts)) == whole
    assert both_ends(merge_sums(parts[::-1])) == whole
    # the tiles of a field: the channel's tally is the whole frame's
    field = accumulate_field(frames, (2, 2))
    assert both_ends(field.combined()) == whole
    by_tile = [tile.saturation() for tile in field.tile_sums]
    assert max(ceiling for ceiling, _ in by_tile) == whole[0][0]
    # the sums as they stand before the end: an open block and group included
    partial = frames[: CLIPPING_EVERY * BLOCK_FRAMES + 7]
    assert both_ends(accumulate_spectrum(partial, chunk_frames=5)) == (
        counted_here(partial),
        counted_here(partial, highest=False),
        above_floor_here(partial),
    )


@pytest.mark.parametrize("frame_by_frame", [False, True])
def test_the_level_above_the_floor_is_that_counted_here(monkeypatch, frame_by_frame) -> None:
    """Photon counts without an offset (their own floor, zero): the values at one, as
    counted here, whichever block or frame holds the lowest value first and however
    the movie is cut; a pixel stuck at one is not counted."""
    if frame_by_frame:  # frames searched one at a time (as 2048² frames are)
        import smlmlp.spectra

        monkeypatch.setattr(smlmlp.spectra, "CACHE_BLOCK_BYTES", 1024)
        monkeypatch.setattr(smlmlp.spectra, "SHARED_BATCH_BYTES", 1024)
    frames, _ = simulate_movie(
        N_FRAMES, SHAPE, sigx_nm=130.0, background=1.0, camera="poisson", offset_adu=0.0,
        seed=5,
    )  # fmt: skip
    searched = BLOCK_FRAMES * CLIPPING_EVERY
    frames[:searched] += 1  # the first searched block's floor is 1
    frames[searched : searched + 10] += 1  # the second's falls from 1 to 0 halfway
    frames[:, 4, 4] = 1
    sums = accumulate_spectrum(frames)
    assert sums.floor_clipping() == counted_here(frames, highest=False)
    assert sums.above_floor() == above_floor_here(frames) > 0.2
    # cut on the block grid (a searched block cut in two would take its pixels at zero
    # through either part for stuck ones: a dim pixel often is, for 7 frames)
    parts = [accumulate_spectrum(frames, start=0, stop=340), accumulate_spectrum(frames, start=340)]
    assert both_ends(merge_sums(parts)) == both_ends(sums)
    assert both_ends(accumulate_spectrum(frames, chunk_frames=3, workers=2)) == both_ends(sums)
    assert both_ends(accumulate_field(frames, (2, 2)).combined()) == both_ends(sums)


def test_float_movies_are_searched_too(movie: np.ndarray) -> None:
    frames, ceiling = clipped(movie, 99.8)
    found = accumulate_spectrum(frames.astype(np.float32) - 100.5).saturation()
    assert found == (ceiling - 100.5, counted_here(frames)[1])


def test_sums_on_disk_keep_the_tally_and_older_files_have_none(
    movie: np.ndarray, tmp_path: Path
) -> None:
    sums = accumulate_spectrum(clipped(movie, 99.8)[0])
    save_sums(sums, tmp_path / "sums.npz")
    assert load_sums(tmp_path / "sums.npz").saturation() == sums.saturation()
    with np.load(tmp_path / "sums.npz") as data:
        older = {k: data[k] for k in data.files if k not in CLIPPING_ARRAYS}
    np.savez(tmp_path / "older.npz", **older)
    ceiling, fraction = load_sums(tmp_path / "older.npz").saturation()
    assert math.isnan(ceiling) and math.isnan(fraction)
    bare = BlockSums((8, 8), 20, 20, np.zeros(1, int), np.ones(1, int), np.ones(1, int),
                     np.zeros((1, 5, 5)))
    assert math.isnan(bare.saturation()[1])


def test_clipped_emitters_bias_the_psf_and_the_verdict_says_so(
    movie: np.ndarray, tmp_path: Path
) -> None:
    """Known truth: clipping 0.5 % of the values widens sigma by about 1 %; the
    verdict warns, the unclipped movie gets no such note, the file keeps both."""
    frames, ceiling = clipped(movie, 99.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma, _, estimates = blink_spatial_psf([movie, frames], full_output=True)
    plain, saturated = estimates
    assert sigma[1] > sigma[0] * 1.004  # the bias the note warns of
    assert saturated.qc == "warn" and saturated.ceiling_adu == ceiling
    assert saturated.saturated_fraction == pytest.approx(counted_here(frames)[1])
    note = next(note for note in saturated.qc_notes if note.startswith("saturated pixels:"))
    assert f"({ceiling})" in note
    assert not any(note.startswith("saturated") for note in plain.qc_notes)
    channels = [
        ChannelInfo.from_estimate(name, estimate, n_frames=N_FRAMES)
        for name, estimate in (("plain", plain), ("clipped", saturated))
    ]
    write_info(tmp_path / "info.h5", channels)
    back = read_info(tmp_path / "info.h5").channels
    assert back["clipped"].attrs["ceiling_adu"] == ceiling
    assert back["clipped"].attrs["saturated_fraction"] >= SATURATION_WARNING
    assert back["plain"].attrs["saturated_fraction"] < SATURATION_WARNING
    assert any(note.startswith("saturated pixels") for note in back["clipped"].qc_notes)


def test_values_clipped_at_zero_narrow_the_psf_and_the_verdict_says_so(
    movie: np.ndarray,
) -> None:
    """Known truth: the movie less its median, negative values set to zero, comes out
    narrow (about 7 %); the verdict says why. A noise-free camera's pile-up at its
    offset (a discrete floor, nothing clipped) is no such case."""
    frames = zero_clipped(movie, 50.0)
    offset_only, _ = simulate_movie(
        N_FRAMES, SHAPE, sigx_nm=130.0, background=0.5, camera="poisson", seed=4
    )
    # photon counts without an offset: zero is their own floor, as common as one
    counts = offset_only - offset_only.min()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sigma, _, estimates = blink_spatial_psf(
            [movie, frames, offset_only, counts], full_output=True
        )
    plain, zeroed, discrete, photons = estimates
    assert sigma[1] < sigma[0] * 0.97
    assert zeroed.floor_adu == 0.0 and 0.45 < zeroed.floor_fraction < 0.55
    assert zeroed.qc == "warn"
    assert any(note.startswith("clipped at zero:") for note in zeroed.qc_notes)
    assert zeroed.floor_fraction > 10 * zeroed.above_floor_fraction  # piled up at zero
    assert discrete.floor_fraction > 0.3 and discrete.floor_adu > 0  # the offset
    assert photons.floor_fraction > 0.3 and photons.floor_adu == 0  # no offset
    assert photons.floor_fraction < 2 * photons.above_floor_fraction
    assert sigma[3] == pytest.approx(sigma[2], rel=1e-9)  # the same movie, shifted
    for estimate in (plain, discrete, photons):
        assert not any(note.startswith("clipped") for note in estimate.qc_notes)


def test_every_qc_note_survives_the_info_file(movie: np.ndarray, tmp_path: Path) -> None:
    """The notes are joined by "; " in the file: none may hold it (each note comes back
    whole), whatever the verdict says at once: few groups, a large error, clipping."""
    from dataclasses import replace

    from smlmlp.estimate import _verdict

    estimate = estimate_from_sums(accumulate_spectrum(movie[:200]), 21, (100.0, 100.0))
    estimate = replace(
        estimate, psf_sigma_se=0.5 * estimate.psf_sigma, saturated_fraction=0.01,
        ceiling_adu=4095.0, floor_adu=0.0, floor_fraction=0.2, sigx=estimate.sigy,
    )  # fmt: skip
    qc, notes, is_round = _verdict(estimate)
    estimate = replace(estimate, qc=qc, qc_notes=notes, round=is_round)
    assert len(notes) == 5 and qc == "warn"  # round, few groups, error, both clippings
    write_info(tmp_path / "notes.h5", [ChannelInfo.from_estimate("c", estimate, n_frames=200)])
    assert read_info(tmp_path / "notes.h5").channels["c"].qc_notes == notes
