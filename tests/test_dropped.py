"""Dropped frames (one value in every pixel): found, left out, their neighbours' times kept."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from smlmlp import blink_spatial_psf
from smlmlp.block_sums import merge_sums
from smlmlp.dropped import SAMPLED_ROWS, dropped_frames
from smlmlp.estimate import estimate_from_sums
from smlmlp.infofile import ChannelInfo, read_info, write_info
from smlmlp.simulation import simulate_movie
from smlmlp.spectra import SpectrumAccumulator, accumulate_spectrum
from smlmlp.sums_io import load_sums, save_sums

BLOCK = 20
CONDITION = dict(
    sigx_nm=130.0, photons=1000.0, background=50.0, camera="emccd", on_density_per_um2=0.5
)


def test_frames_of_one_value_are_found_and_real_frames_are_not():
    rng = np.random.default_rng(4)
    frames = rng.poisson(100, size=(6, 40, 33)).astype(np.uint16)
    frames[1] = 0
    frames[4] = 812
    # constant along the rows looked at first, varying elsewhere: a real frame
    frames[2] = 300
    frames[2, 1] += 1
    assert 1 % max(1, 40 // SAMPLED_ROWS)  # row 1 is not among the rows looked at first
    assert dropped_frames(frames).tolist() == [False, True, False, False, True, False]
    assert dropped_frames(frames.astype(np.float32)).tolist()[1::3] == [True, True]
    assert dropped_frames(frames[:0]).shape == (0,)


def _block_fluctuation_products(movie: np.ndarray, lost: np.ndarray, crop: int) -> np.ndarray:
    """Sum over blocks of the circular products of the kept frames' fluctuations about
    each pixel's straight line fitted at the frames' true times (float64, no FFT)."""
    half = crop // 2
    out = np.zeros((crop, crop))
    for first in range(0, len(movie), BLOCK):
        times = np.flatnonzero(~lost[first : first + BLOCK])
        if len(times) < 3:
            continue
        part = movie[first + times].astype(np.float64)
        design = np.column_stack([np.ones(len(times)), times])
        flat = part.reshape(len(times), -1)
        coefficients, *_ = np.linalg.lstsq(design, flat, rcond=None)
        residual = (flat - design @ coefficients).reshape(part.shape)
        residual -= residual.mean(axis=(1, 2), keepdims=True)  # each frame's mean level
        for i, ly in enumerate(range(-half, half + 1)):
            for j, lx in enumerate(range(-half, half + 1)):
                shifted = np.roll(residual, shift=(-ly, -lx), axis=(1, 2))
                out[i, j] += (residual * shifted).sum()
    return out


@pytest.fixture
def movie_with_drops() -> tuple[np.ndarray, np.ndarray]:
    movie, _ = simulate_movie(100, (24, 27), seed=8, **CONDITION)
    lost = np.zeros(len(movie), bool)
    # inside a block, a block's first frame, two in a row, and a block of 19 lost
    lost[[3, 7, 20, 41, 42]] = True
    lost[60:79] = True
    movie[lost] = 0
    return movie, lost


def test_the_sums_leave_dropped_frames_out_and_keep_the_others_times(movie_with_drops):
    movie, lost = movie_with_drops
    sums = accumulate_spectrum(movie, block_frames=BLOCK, group_frames=BLOCK)
    crop = 9
    trim = (sums.stored_crop - crop) // 2
    ours = sums.ac_sums[:, trim : trim + crop, trim : trim + crop].sum(axis=0)
    direct = _block_fluctuation_products(movie, lost, crop)
    np.testing.assert_allclose(ours, direct, rtol=1e-5, atol=1e-6 * np.abs(direct).max())
    assert sums.dropped_frames.tolist() == [2, 1, 2, 19, 0]
    assert sums.n_frames.tolist() == [20] * 5  # frames of the movie, dropped or not
    # kept frames less the trend's two terms; a block of one frame kept has none
    assert sums.dof.tolist() == [16, 17, 16, 0, 18]


@pytest.mark.parametrize(("workers", "chunk"), [(1, 7), (2, 13), (3, 100)])
def test_the_same_bits_whatever_the_chunks_workers_and_cut(movie_with_drops, workers, chunk):
    movie, _ = movie_with_drops
    whole = accumulate_spectrum(movie, block_frames=BLOCK, group_frames=BLOCK)
    accumulator = SpectrumAccumulator(
        movie.shape[1:], block_frames=BLOCK, group_frames=BLOCK, workers=workers
    )
    for first in range(0, len(movie), chunk):
        accumulator.add(movie[first : first + chunk])
    ours = accumulator.finish()[0]
    np.testing.assert_array_equal(ours.ac_sums, whole.ac_sums)
    np.testing.assert_array_equal(ours.dropped_frames, whole.dropped_frames)
    # a movie cut on the block grid, next to dropped frames, the parts merged
    parts = [
        accumulate_spectrum(movie, start=start, stop=stop, block_frames=BLOCK, group_frames=BLOCK)
        for start, stop in ((0, 40), (40, 100))
    ]
    merged = merge_sums(parts)
    np.testing.assert_allclose(merged.ac_sums, whole.ac_sums, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(merged.dropped_frames, whole.dropped_frames)
    np.testing.assert_array_equal(merged.dof, whole.dof)


def test_the_count_of_dropped_frames_is_saved_with_the_sums(movie_with_drops, tmp_path):
    movie, _ = movie_with_drops
    sums = accumulate_spectrum(movie, block_frames=BLOCK, group_frames=BLOCK)
    save_sums(sums, tmp_path / "sums.npz")
    assert load_sums(tmp_path / "sums.npz").dropped_frames.tolist() == [2, 1, 2, 19, 0]
    assert sums.select([1, 3]).dropped_frames.tolist() == [1, 19]


def test_the_open_block_with_dropped_frames_is_in_the_sums(movie_with_drops):
    """Sums asked for in the middle of a block (its dropped frames already seen)."""
    movie, lost = movie_with_drops
    accumulator = SpectrumAccumulator(movie.shape[1:], block_frames=BLOCK, group_frames=BLOCK)
    accumulator.add(movie[:50])
    partial = accumulator.sums()
    assert partial.dropped_frames.tolist() == [2, 1, 2]
    crop = 5
    trim = (partial.stored_crop - crop) // 2
    ours = partial.ac_sums[:, trim : trim + crop, trim : trim + crop].sum(axis=0)
    direct = _block_fluctuation_products(movie[:50], lost[:50], crop)
    np.testing.assert_allclose(ours, direct, rtol=1e-5, atol=1e-6 * np.abs(direct).max())


def test_dropped_frames_do_not_bias_sigma_and_are_reported(tmp_path):
    """Known truth: 3 % of the frames saved as zeros, left out, leave sigma as it is in
    the movie without them. Kept, each adds to the fluctuations the block's mean image
    less its mean level over the frame (that level drops out): on filaments, their
    static image. It follows the frames' mean levels, so its lowest frequencies come
    off with the fit by the halves' levels, but the products at every lag change."""
    options = dict(CONDITION, seed=21, emitters="filaments")
    clean, _ = simulate_movie(1000, (64, 64), **options)
    dropped, truth = simulate_movie(1000, (64, 64), artifacts={"dropped_fraction": 0.03}, **options)
    assert truth["dropped_frames"] > 15
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sums = accumulate_spectrum(dropped)
        estimate = estimate_from_sums(sums, 41, (100.0, 100.0))
        reference = estimate_from_sums(accumulate_spectrum(clean), 41, (100.0, 100.0))
    assert estimate.psf_sigma == pytest.approx(reference.psf_sigma, rel=0.005)
    assert estimate.psf_sigma == pytest.approx(130.0, rel=0.02)
    # the same frames with one pixel set apart are not dropped frames: kept, they bias it
    kept = dropped.copy()
    kept[np.all(dropped == 0, axis=(1, 2)), 0, 0] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kept_sums = accumulate_spectrum(kept)
        biased = estimate_from_sums(kept_sums, 41, (100.0, 100.0))
    assert biased.dropped_frames == 0
    assert biased.psf_sigma == pytest.approx(reference.psf_sigma, rel=0.005)
    centre = sums.ac_sums.shape[-1] // 2
    change = np.abs(kept_sums.ac_sums.sum(axis=0) - sums.ac_sums.sum(axis=0))
    assert change[centre - 10 : centre + 11, centre - 10 : centre + 11].max() > 0.01 * np.abs(
        sums.ac_sums.sum(axis=0)
    ).max()
    assert estimate.dropped_frames == truth["dropped_frames"]
    assert estimate.n_frames == 1000
    notes = [note for note in estimate.qc_notes if note.startswith("dropped frames:")]
    assert notes == [
        f"dropped frames: {truth['dropped_frames']} of 1000 frames hold one value in every "
        "pixel (frames the camera or its software failed to deliver), left out"
    ]
    # left out, they take nothing from the verdict
    assert estimate.qc == reference.qc
    write_info(tmp_path / "info.h5", [ChannelInfo.from_estimate("c0", estimate, n_frames=1000)])
    back = read_info(tmp_path / "info.h5").channels["c0"]
    assert back.attrs["dropped_frames"] == truth["dropped_frames"]
    assert notes[0] in back.qc_notes


def test_a_movie_of_dropped_frames_only_is_a_constant_stack():
    frames = np.zeros((60, 48, 48), np.uint16)
    with pytest.raises(ValueError, match=r"^channel 0: the stack does not change from frame"):
        blink_spatial_psf([frames])
    frames[:] = 7
    with pytest.raises(ValueError, match=r"^channel 0: the stack does not change from frame"):
        blink_spatial_psf([frames])


def test_too_few_frames_besides_the_dropped_ones_says_so():
    movie, _ = simulate_movie(30, (48, 48), seed=2, **CONDITION)
    movie[2:] = 0
    with pytest.raises(ValueError, match=r"^channel 0: at least 3 frames are needed, got 2 "
                       r"besides 28 dropped frames$"):  # fmt: skip
        blink_spatial_psf([movie])
