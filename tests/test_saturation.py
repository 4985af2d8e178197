"""Saturated pixels: the movie's ceiling found in the pass, exact against a count made
here, the same however the movie is cut, and a QC warning where clipping biases the PSF."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from smlmlp import blink_spatial_psf
from smlmlp.estimate import SATURATION_WARNING, estimate_from_sums
from smlmlp.field_tiles import accumulate_field
from smlmlp.infofile import ChannelInfo, read_info, write_info
from smlmlp.simulation import simulate_movie
from smlmlp.spectra import (
    BLOCK_FRAMES,
    SATURATION_EVERY,
    BlockSums,
    accumulate_spectrum,
    merge_sums,
)
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


def counted_here(movie: np.ndarray, block_frames: int = BLOCK_FRAMES) -> tuple[float, float]:
    """The ceiling and the fraction at it, counted directly: the searched blocks'
    values equal to the movie's largest, less the pixels holding it in every frame
    of their block."""
    blocks = [
        movie[first : first + block_frames]
        for first in range(0, len(movie), block_frames * SATURATION_EVERY)
    ]
    ceiling = max(float(block.max()) for block in blocks)
    at, searched = 0, 0
    for block in blocks:
        hits = (block == ceiling).sum(axis=0)
        at += int(hits[hits < len(block)].sum())
        searched += block.size
    return ceiling, at / searched


def test_the_ceiling_and_its_fraction_are_those_counted_here(movie: np.ndarray) -> None:
    frames, ceiling = clipped(movie, 99.8)
    frames[:, 3, 5] = ceiling  # a pixel stuck at the ceiling: not counted
    found = accumulate_spectrum(frames).saturation()
    assert found == counted_here(frames)
    assert found[0] == ceiling
    assert 1e-3 < found[1] < 4e-3  # 0.2 % of the values clipped, sampled


def test_without_saturation_the_largest_value_is_a_rare_draw(movie: np.ndarray) -> None:
    ceiling, fraction = accumulate_spectrum(movie).saturation()
    assert ceiling == counted_here(movie)[0]
    assert fraction < 1e-5 < SATURATION_WARNING


def test_the_same_tally_however_the_movie_is_cut(movie: np.ndarray) -> None:
    frames, _ = clipped(movie, 99.9)
    whole = accumulate_spectrum(frames).saturation()
    assert accumulate_spectrum(frames, chunk_frames=7, workers=2).saturation() == whole
    # frame ranges of a cluster job, cut inside a block and a group
    parts = [accumulate_spectrum(frames, start=0, stop=333), accumulate_spectrum(frames, start=333)]
    assert merge_sums(parts).saturation() == whole
    assert merge_sums(parts[::-1]).saturation() == whole
    # the tiles of a field: the channel's tally is the whole frame's
    field = accumulate_field(frames, (2, 2))
    assert field.combined().saturation() == whole
    by_tile = [tile.saturation() for tile in field.tile_sums]
    assert max(ceiling for ceiling, _ in by_tile) == whole[0]
    # the sums as they stand before the end: an open block and group included
    partial = frames[: SATURATION_EVERY * BLOCK_FRAMES + 7]
    assert accumulate_spectrum(partial, chunk_frames=5).saturation() == counted_here(partial)


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
        older = {k: data[k] for k in data.files if k not in ("peak_values", "peak_counts",
                                                              "sampled_values")}
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


def test_every_qc_note_survives_the_info_file(movie: np.ndarray, tmp_path: Path) -> None:
    """The notes are joined by "; " in the file: none may hold it (each note comes back
    whole), whatever the verdict says at once: few groups, a large error, saturation."""
    from dataclasses import replace

    from smlmlp.estimate import _verdict

    estimate = estimate_from_sums(accumulate_spectrum(movie[:200]), 21, (100.0, 100.0))
    estimate = replace(
        estimate, psf_sigma_se=0.5 * estimate.psf_sigma, saturated_fraction=0.01,
        ceiling_adu=4095.0, sigx=estimate.sigy,
    )  # fmt: skip
    qc, notes, is_round = _verdict(estimate)
    estimate = replace(estimate, qc=qc, qc_notes=notes, round=is_round)
    assert len(notes) == 4 and qc == "warn"  # round, few groups, error, saturation
    write_info(tmp_path / "notes.h5", [ChannelInfo.from_estimate("c", estimate, n_frames=200)])
    assert read_info(tmp_path / "notes.h5").channels["c"].qc_notes == notes
