"""The streaming accumulator against direct computations."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from smlmlp import level, spectra
from smlmlp.block_sums import BlockSums, crop_size, merge_sums, plan_blocks
from smlmlp.level import level_bins
from smlmlp.spectra import (
    BLINKING_MAP_EVERY,
    SpectrumAccumulator,
    accumulate_regions,
    accumulate_spectrum,
)
from smlmlp.sums_io import load_sums, save_sums

#: the block length of the tests' 60-frame movie (plan_blocks(60))
BLOCK = 20


def block_fluctuations(movie: np.ndarray, block: int = BLOCK) -> tuple[np.ndarray, int]:
    """Each pixel minus the least-squares straight line over its block, and the dof.

    Blocks of fewer than 3 frames hold no fluctuation about a line: left out.
    """
    frames = movie.astype(np.float64)
    out = np.zeros_like(frames)
    dof = 0
    for first in range(0, len(frames), block):
        part = frames[first : first + block]
        if len(part) < 3:
            continue
        design = np.column_stack([np.ones(len(part)), np.arange(len(part))])
        flat = part.reshape(len(part), -1)
        coefficients, *_ = np.linalg.lstsq(design, flat, rcond=None)
        out[first : first + block] = (flat - design @ coefficients).reshape(part.shape)
        dof += len(part) - 2
    return out, dof


def frame_fluctuations(movie: np.ndarray, block: int = BLOCK) -> tuple[np.ndarray, int]:
    """:func:`block_fluctuations`, each frame less its mean level over the frame."""
    fluctuations, dof = block_fluctuations(movie, block)
    return fluctuations - fluctuations.mean(axis=(1, 2), keepdims=True), dof


def local_mean_given_back(crop: np.ndarray, fraction: np.ndarray, area: int) -> np.ndarray:
    """The documented rule: the crop's pair-weighted sum over its lags (or its central
    lags, up to half the frame's), over the frame's lags left out, back at each lag."""
    kept = crop.shape[0]
    while kept > 1 and 2 * kept**2 > area:
        kept -= 2
    trim = (crop.shape[0] - kept) // 2
    inner = slice(trim, trim + kept)
    products = (fraction * crop)[inner, inner].sum()
    return crop + products / ((area - kept**2) * fraction)


def direct_autocorrelation(movie: np.ndarray, crop: int) -> np.ndarray:
    """Block-fluctuation autocorrelation by explicit shifted products (float64, no FFT)."""
    fluctuations, dof = block_fluctuations(movie)
    n, height, width = fluctuations.shape
    half = crop // 2
    out = np.empty((2 * half + 1, 2 * half + 1))
    for i, ly in enumerate(range(-half, half + 1)):
        for j, lx in enumerate(range(-half, half + 1)):
            # pairs (r, r + l) with both pixels inside the frame
            a = fluctuations[:, max(0, -ly) : height - max(0, ly), max(0, -lx) : width - max(0, lx)]
            b = fluctuations[:, max(0, ly) : height - max(0, -ly), max(0, lx) : width - max(0, -lx)]
            out[i, j] = (a * b).sum() / (a[0].size * dof)
    return out


@pytest.fixture
def movie() -> np.ndarray:
    rng = np.random.default_rng(3)
    base = rng.poisson(200, size=(60, 24, 27)).astype(np.float64)
    # a spatially correlated fluctuating part, so the autocorrelation has structure
    blobs = rng.poisson(2.0, size=base.shape)
    kernel = np.ones((3, 3))
    from scipy.ndimage import convolve

    correlated = np.stack([convolve(frame, kernel, mode="wrap") for frame in blobs]) * 30
    static = 50 * np.sin(np.arange(27) / 3.0)[None, None, :]
    return (base + correlated + static + 100).astype(np.uint16)


def test_autocorrelation_matches_direct_products_for_odd_width(movie):
    accumulator = accumulate_spectrum(movie, chunk_frames=60)
    fft_result = accumulator.autocorrelation(9)
    circular = direct_circular(movie, 9)
    assert np.allclose(fft_result, circular, rtol=1e-5, atol=1e-6 * np.abs(circular).max())


def direct_pair_fraction(fluctuations: np.ndarray, crop: int, block: int = BLOCK) -> np.ndarray:
    """Blinking share of each lag's in-frame pairs, by explicit slices (the documented rule).

    The blinking map is the diagonal-neighbour products on the pixel corners, over
    blocks 0, 4, 8, ...; a lag ``l`` keeps half the map over the first pixels of its
    in-frame pairs plus half over the second, divided by the zero-lag value.
    """
    _, height, width = fluctuations.shape
    mapped = (np.arange(len(fluctuations)) // block) % BLINKING_MAP_EVERY == 0
    fluctuations = fluctuations[mapped]
    density = (fluctuations[:, :-1, :-1] * fluctuations[:, 1:, 1:]).sum(axis=0)
    density += (fluctuations[:, :-1, 1:] * fluctuations[:, 1:, :-1]).sum(axis=0)
    rows, columns = density.shape
    half = crop // 2
    out = np.empty((crop, crop))
    for i, ly in enumerate(range(-half, half + 1)):
        for j, lx in enumerate(range(-half, half + 1)):
            first = density[max(0, -ly) : rows - max(0, ly), max(0, -lx) : columns - max(0, lx)]
            second = density[max(0, ly) : rows + min(0, ly), max(0, lx) : columns + min(0, lx)]
            out[i, j] = 0.5 * (first.sum() + second.sum())
    fraction = out / out[half, half]
    if fraction.min() <= 0 or fraction.max() > 1.2:  # no blinking: the filled frame
        lags = np.arange(-half, half + 1)
        fraction = np.outer(1 - np.abs(lags) / height, 1 - np.abs(lags) / width)
    return fraction


def left_weight(width: int) -> np.ndarray:
    """The documented weight of the frame's left half: the step (1 on the first
    ``width // 2`` columns) with its Fourier series cut after ``LEVEL_MASK_BINS``
    terms (fewer in narrow frames) and tapered by a Hann window."""
    terms = min(level.LEVEL_MASK_BINS, (width - 1) // 2)
    coefficients = np.fft.fft((np.arange(width) < width // 2).astype(float))
    q = np.fft.fftfreq(width, 1.0 / width)
    taper = np.where(np.abs(q) <= terms, np.cos(0.5 * np.pi * q / (terms + 1)) ** 2, 0.0)
    return np.fft.ifft(coefficients * taper).real


def level_fitted(fluctuations: np.ndarray, trended: np.ndarray) -> np.ndarray:
    """The fluctuations less, at each frequency ``|ky|, |kx| <= LEVEL_BINS`` but zero
    (full FFT, mirrors included), the least-squares fits of the left half's
    fluctuations (:func:`left_weight`), less its own mean level, by the right half's
    mean level and of the right half's by the left half's, one coefficient per
    frequency over the whole movie, the halves and their levels taken of ``trended``
    (each pixel less its straight line in its block): the documented rule."""
    _, height, width = fluctuations.shape
    weight = left_weight(width)
    left_levels = (trended * weight).mean(axis=(1, 2))[:, None, None] / weight.mean()
    right_levels = (trended * (1 - weight)).mean(axis=(1, 2))[:, None, None] / (1 - weight).mean()
    transforms = np.fft.fft2(fluctuations)
    whole = np.fft.fft2(trended)
    left = np.fft.fft2(trended * weight) - left_levels * np.fft.fft2(
        np.broadcast_to(weight, whole.shape[1:])
    )
    right = np.fft.fft2(trended * (1 - weight))
    right -= right_levels * np.fft.fft2(np.broadcast_to(1 - weight, whole.shape[1:]))
    steps = min(level.LEVEL_BINS, (height - 1) // 2, (width - 1) // 2)
    ky = np.fft.fftfreq(height, 1.0 / height)[:, None]
    kx = np.fft.fftfreq(width, 1.0 / width)[None, :]
    window = (np.abs(ky) <= steps) & (np.abs(kx) <= steps) & ((ky != 0) | (kx != 0))
    of_left = (right_levels * left).sum(axis=0) / (right_levels**2).sum()
    of_right = (left_levels * right).sum(axis=0) / (left_levels**2).sum()
    transforms -= window * (right_levels * of_left + left_levels * of_right)
    return np.fft.ifft2(transforms).real


def direct_circular(movie: np.ndarray, crop: int, block: int = BLOCK) -> np.ndarray:
    """Circular products of the fluctuations less each frame's mean level and less what
    follows the mean levels of the frames' halves at the lowest frequencies, divided
    by the in-frame blinking share, the local mean level given back, as documented."""
    trended, dof = block_fluctuations(movie, block)
    levels = trended.mean(axis=(1, 2))
    mapped = trended - levels[:, None, None]
    fluctuations = level_fitted(mapped, trended)
    n, height, width = fluctuations.shape
    half = crop // 2
    fraction = direct_pair_fraction(mapped, crop, block)
    out = np.empty((crop, crop))
    for i, ly in enumerate(range(-half, half + 1)):
        for j, lx in enumerate(range(-half, half + 1)):
            shifted = np.roll(fluctuations, shift=(-ly, -lx), axis=(1, 2))
            out[i, j] = (fluctuations * shifted).sum() / (height * width * dof * fraction[i, j])
    return local_mean_given_back(out, fraction, height * width)


def test_block_plan_follows_the_movie_length():
    assert plan_blocks(60) == (BLOCK, BLOCK)
    for n_frames in (20, 100, 400, 600, 1000, 1999, 2000, 20000, 10**6):
        block, group = plan_blocks(n_frames)
        assert 10 <= block <= 50 and group % block == 0
        groups = -(-n_frames // group)
        if n_frames >= 400:
            assert 20 <= groups <= 40, n_frames


def test_block_means_remove_a_slow_background_change():
    """A background ramp over the movie: the movie mean leaves it in the AC, blocks do not."""
    rng = np.random.default_rng(4)
    noise = rng.normal(size=(200, 32, 32))
    ramp = np.linspace(-3.0, 3.0, 200)[:, None, None] * np.hanning(32)[None, :, None]
    sums = accumulate_spectrum(noise + ramp, block_frames=10)
    ac = sums.autocorrelation(7)
    # white noise: nothing off zero lag (the ramp, about the movie mean, would add ~3 at lag 3)
    assert np.abs(np.delete(ac.ravel(), 24)).max() < 0.05
    assert ac[3, 3] == pytest.approx(1.0, abs=0.05)  # per degree of freedom


def test_edge_correction_is_unbiased_for_a_stationary_field():
    """Short-range correlated noise: circular-and-corrected equals in-frame pairs on average."""
    rng = np.random.default_rng(5)
    white = rng.normal(size=(400, 21, 21))
    # f(y, x) = w(y, x) + w(y, x - 1) + w(y - 1, x), cut from a larger field (not periodic)
    field = white[:, 1:, 1:] + white[:, 1:, :-1] + white[:, :-1, 1:]
    corrected = accumulate_spectrum(field).autocorrelation(7)
    in_frame = direct_autocorrelation(field, 7)
    # one shared white term at lags (0, 1) and (1, -1), none at (1, 1) and (0, 3)
    assert corrected[3, 4] == pytest.approx(1.0, abs=0.03)
    assert corrected[4, 2] == pytest.approx(1.0, abs=0.03)
    assert corrected[4, 4] == pytest.approx(0.0, abs=0.03)
    assert corrected[3, 6] == pytest.approx(0.0, abs=0.03)
    assert np.abs(corrected - in_frame).max() < 0.05


@pytest.mark.parametrize("chunk", [1, 7, 59, 60, 500])
def test_streaming_equals_in_memory(movie, chunk):
    whole = SpectrumAccumulator(movie.shape[1:], block_frames=BLOCK)
    whole.add(movie)
    streamed = accumulate_spectrum(movie, chunk_frames=chunk)
    assert streamed.total_frames == movie.shape[0]
    expected = whole.sums().autocorrelation(11)
    scale = np.abs(expected).max()
    assert np.abs(streamed.autocorrelation(11) - expected).max() < 1e-6 * scale


def test_merge_of_frame_ranges_equals_single_pass(movie):
    whole = accumulate_spectrum(movie, chunk_frames=13, group_frames=40)
    first = accumulate_spectrum(movie, stop=20, chunk_frames=13, group_frames=40)
    second = accumulate_spectrum(movie, start=20, chunk_frames=13, group_frames=40)
    merged = merge_sums([second, first])
    assert merged.total_frames == 60
    # the group of frames 0-39 was cut in two and is whole again
    assert merged.first_frames.tolist() == whole.first_frames.tolist() == [0, 40]
    assert merged.n_frames.tolist() == whole.n_frames.tolist() == [40, 20]
    expected = whole.autocorrelation(11)
    assert np.abs(merged.autocorrelation(11) - expected).max() < 1e-6 * np.abs(expected).max()


def test_ranges_on_the_block_grid_merge_to_the_same_bits(movie):
    """Each block subtracts its own first frame: ranges cut on blocks redo the same sums."""
    whole = accumulate_spectrum(movie, chunk_frames=10)
    parts = [accumulate_spectrum(movie, start=a, stop=a + 20, chunk_frames=10) for a in (0, 20, 40)]
    merged = merge_sums([merge_sums(parts[:2]), parts[2]])  # associative
    assert np.array_equal(merge_sums(parts).ac_sums, merged.ac_sums)
    assert np.array_equal(merged.ac_sums, whole.ac_sums)


def test_the_shift_by_the_first_frame_does_not_change_the_sums(movie):
    """A huge common offset (a bright background) leaves the block fluctuations as they are."""
    offset = movie.astype(np.float64) + 30000.0
    direct = direct_circular(movie, 9)
    shifted = accumulate_spectrum(offset, chunk_frames=7).autocorrelation(9)
    assert np.allclose(shifted, direct, rtol=1e-5, atol=1e-6 * np.abs(direct).max())


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.int32, np.float64])
def test_integer_references_kept_as_read_give_the_bits_of_float32_frames(movie, dtype):
    """A block's reference frame is kept in the frames' own type when every value of
    it is a float32 (16-bit integers): the frames less it, and so every sum, are the
    bits of the same values given as float32 frames."""
    values = movie.astype(np.int32) - 900  # negative values too, for the signed types
    if np.dtype(dtype).kind == "u":
        values = movie
    options = {"chunk_frames": 7, "block_frames": 20, "group_frames": 20}
    expected = accumulate_spectrum(values.astype(np.float32), **options)
    sums = accumulate_spectrum(values.astype(dtype), **options)
    assert np.array_equal(sums.ac_sums, expected.ac_sums)
    assert np.array_equal(sums.coverage_sums, expected.coverage_sums)
    assert np.array_equal(sums.level_bins, expected.level_bins)


@pytest.mark.parametrize("grid", [False, True])
@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32, np.int32, np.float64])
def test_shift_in_bands_gives_the_bits_of_one_subtraction(monkeypatch, dtype, grid):
    """The shift by the reference, worked in bands of a few rows (a cast, then a
    float32 subtraction), gives the bits of one subtraction over the rows asked
    for and leaves the other rows alone; other types are subtracted as numpy
    promotes them, then rounded to float32."""
    rng = np.random.default_rng(11)
    frames = rng.integers(-30000, 30000, size=(3, 2 * 37, 2 * 23) if grid else (3, 2, 37, 23))
    if np.dtype(dtype).kind == "u":
        frames = frames + 30000
    if np.dtype(dtype).kind == "f":
        frames = frames * np.pi
    frames = frames.astype(dtype)
    if grid:  # a grid's 2 x 2 tiles, a strided view (frames, rows, columns, height, width)
        frames = frames.reshape(3, 2, 37, 2, 23).transpose(0, 1, 3, 2, 4)
    reference = frames[0].astype(spectra.reference_dtype(frames.dtype))
    monkeypatch.setattr(spectra, "SHIFT_BAND_BYTES", 4 * 3 * 2 * 23 * 4)  # 4 rows a band
    monkeypatch.setattr(spectra, "GRID_SHIFT_BAND_BYTES", 4 * 3 * 2 * 23 * 4)
    out = np.full(frames.shape, -1.0, np.float32)
    spectra.shift_by_reference(frames, reference, out, slice(5, 31))
    if frames.dtype.itemsize <= 2 or frames.dtype == np.float32:
        expected = frames.astype(np.float32) - reference.astype(np.float32)
    else:
        expected = (frames - reference).astype(np.float32)
    assert np.array_equal(out[..., 5:31, :], expected[..., 5:31, :])
    assert (out[..., :5, :] == -1).all() and (out[..., 31:, :] == -1).all()


def test_save_and_load_round_trip(tmp_path, movie):
    sums = accumulate_spectrum(movie, chunk_frames=16)
    path = tmp_path / "sub" / "acc.npz"
    save_sums(sums, path)
    save_sums(sums, path)  # overwrite in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["acc.npz"]
    loaded = load_sums(path)
    assert isinstance(loaded, BlockSums)
    assert loaded.total_frames == sums.total_frames
    assert loaded.frame_shape == sums.frame_shape
    assert (loaded.block_frames, loaded.group_frames) == (sums.block_frames, sums.group_frames)
    assert np.array_equal(loaded.autocorrelation(9), sums.autocorrelation(9))


def test_load_rejects_foreign_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, something=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz"):
        load_sums(path)
    truncated = tmp_path / "cut.npz"
    save_sums(accumulate_spectrum(np.random.default_rng(0).normal(size=(20, 8, 8))), truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(ValueError, match="cut.npz: not readable block sums"):
        load_sums(truncated)


def test_sums_of_an_earlier_format_are_refused_by_name(tmp_path, movie):
    """Format 3 kept each frame's mean level in the sums: read as today's, its crops
    would be wrong, so the file is refused, named, with what to do."""
    path = tmp_path / "old.npz"
    save_sums(accumulate_spectrum(movie), path)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    np.savez(path, **{**arrays, "format_version": np.array(3)})
    with pytest.raises(ValueError, match="old.npz: .*format 3.*delete the file"):
        load_sums(path)


def test_sums_of_format_4_are_read_without_the_level_fit(tmp_path, movie):
    """Format 4 had no sums of the lowest frequencies by the halves' mean levels: read
    as they are, with nothing fitted by those levels."""
    sums = accumulate_spectrum(movie)
    assert np.abs(sums.level_bins).max() > 0 and sums.level_spread[:, :2].min() > 0
    path = tmp_path / "format4.npz"
    save_sums(sums, path)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files if not name.startswith("level_")}
    np.savez(path, **{**arrays, "format_version": np.array(4)})
    loaded = load_sums(path)
    assert not loaded.level_bins.any() and not loaded.level_spread.any()
    assert np.array_equal(loaded.ac_sums, sums.ac_sums)
    unfitted = BlockSums(**{**vars(sums), "level_bins": None, "level_spread": None})
    assert np.array_equal(loaded.autocorrelation(9), unfitted.autocorrelation(9))


def test_merging_sums_of_other_blocks_is_refused(movie):
    with pytest.raises(ValueError, match="block_frames"):
        merge_sums([accumulate_spectrum(movie), accumulate_spectrum(movie, block_frames=30)])


def test_nan_pixels_are_reported_with_count_and_position():
    movie = np.ones((10, 16, 16), dtype=np.float32)
    movie[4, 3, 5] = np.nan
    movie[7, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"channel 2: 2 NaN or infinite.*frame 4, row 3, column 5"):
        accumulate_spectrum(movie, name="channel 2")


@pytest.mark.parametrize(("workers", "batch"), [(2, 1), (3, 1), (2, 4), (3, 5)])
def test_large_frames_shared_by_rows_give_the_exact_sums(movie, monkeypatch, workers, batch):
    """Frames beyond the cache block (``batch`` per sub-batch): the workers share each
    sub-batch by rows, and the sums are the bits of one worker fed other chunks."""
    import smlmlp.spectra

    frame_bytes = 4 * movie.shape[1] * movie.shape[2]
    monkeypatch.setattr(smlmlp.spectra, "CACHE_BLOCK_BYTES", 1024)
    monkeypatch.setattr(smlmlp.spectra, "SHARED_BATCH_BYTES", (batch + 1) * frame_bytes - 1)
    accumulator = SpectrumAccumulator(movie.shape[1:], workers=workers, block_frames=BLOCK)
    single = SpectrumAccumulator(movie.shape[1:], workers=1, block_frames=BLOCK)
    assert accumulator._sub == single._sub == batch
    for first in range(0, movie.shape[0], 7):
        accumulator.add(movie[first : first + 7])
    for first in range(0, movie.shape[0], 11):
        single.add(movie[first : first + 11])
    circular = direct_circular(movie, 9)
    result = accumulator.sums().autocorrelation(9)
    accumulator.release_buffer()
    assert np.allclose(result, circular, rtol=1e-5, atol=1e-6 * np.abs(circular).max())
    np.testing.assert_array_equal(accumulator.sums().ac_sums, single.sums().ac_sums)


def test_regions_shared_by_rows_close_their_groups_region_by_region(monkeypatch):
    """Tiles beyond the cache block: each group's crops and coverage are worked out by
    regions shared among the workers; every region's sums are the bits of that region
    alone with one worker."""
    import smlmlp.spectra

    monkeypatch.setattr(smlmlp.spectra, "CACHE_BLOCK_BYTES", 1024)
    rng = np.random.default_rng(11)
    movie = rng.poisson(40, size=(83, 30, 44)).astype(np.uint16)
    movie[:, 10:20, 5:12] += rng.poisson(30, size=(83, 10, 7)).astype(np.uint16)
    tiles = [(slice(r, r + 15), slice(c, c + 22)) for r in (0, 15) for c in (0, 22)]
    options = {"block_frames": 20, "group_frames": 40, "chunk_frames": 13}
    shared = accumulate_regions(movie, tiles, workers=3, **options)
    for region, sums in zip(tiles, shared, strict=True):
        (alone,) = accumulate_regions(movie, [region], workers=1, **options)
        np.testing.assert_array_equal(sums.ac_sums, alone.ac_sums)
        np.testing.assert_array_equal(sums.coverage_sums, alone.coverage_sums)
        assert np.any(sums.coverage_sums != 0)  # blinking maps made it into the groups


def test_an_open_block_shared_by_rows_is_in_the_sums(movie, monkeypatch):
    """Frames still in the open block's float32 sums are part of a snapshot."""
    import smlmlp.spectra

    monkeypatch.setattr(smlmlp.spectra, "CACHE_BLOCK_BYTES", 1024)
    accumulator = SpectrumAccumulator(movie.shape[1:], workers=2, block_frames=100)
    for first in range(0, movie.shape[0], 5):
        accumulator.add(movie[first : first + 5])
    assert accumulator._block.received == movie.shape[0]  # the block is still open
    circular = direct_circular(movie, 9, block=100)
    result = accumulator.sums().autocorrelation(9)
    accumulator.release_buffer()
    assert np.allclose(result, circular, rtol=1e-5, atol=1e-6 * np.abs(circular).max())


@pytest.mark.parametrize("workers", [1, 2])
def test_sums_of_an_unfinished_movie_do_not_change_the_accumulator(movie, workers):
    """Snapshots mid-block and mid-group, also while blocks are on the workers."""
    accumulator = SpectrumAccumulator(
        movie.shape[1:], block_frames=10, group_frames=20, workers=workers
    )
    for first in range(0, 60, 7):
        accumulator.add(movie[first : first + 7])
        accumulator.sums()  # a snapshot, taken mid-block and mid-group
    final = accumulator.sums()
    once = accumulate_spectrum(movie, block_frames=10, group_frames=20)
    assert final.n_frames.tolist() == once.n_frames.tolist() == [20, 20, 20]
    assert final.dof.tolist() == once.dof.tolist() == [16, 16, 16]
    assert np.abs(final.ac_sums - once.ac_sums).max() < 1e-6 * np.abs(once.ac_sums).max()


def test_a_failed_pass_leaves_no_worker_thread_behind():
    import threading

    movie = np.random.default_rng(2).poisson(50, size=(12, 16, 16)).astype(np.float32)
    movie[9, 1, 1] = np.nan  # found in the third chunk, after two chunks on two workers
    before = set(threading.enumerate())  # (threads of earlier tests may end meanwhile)
    with pytest.raises(ValueError, match="1 NaN"):
        accumulate_spectrum(movie, chunk_frames=4, workers=2)
    assert set(threading.enumerate()) - before == set()


def test_wrong_chunk_shape_and_range_are_rejected(movie):
    accumulator = SpectrumAccumulator((24, 27))
    with pytest.raises(ValueError, match="expected frames of shape"):
        accumulator.add(np.zeros((3, 24, 26)))
    with pytest.raises(ValueError, match="frame range"):
        accumulate_spectrum(movie, start=10, stop=5)
    with pytest.raises(ValueError, match="smaller than the 31x31 crop"):
        accumulate_spectrum(movie).autocorrelation(31)
    with pytest.raises(ValueError, match="at least 3 frames"):
        accumulate_spectrum(movie, stop=1).autocorrelation(5)


def test_progress_reports_every_chunk(movie):
    seen = []
    accumulate_spectrum(movie, chunk_frames=25, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(20, 60), (40, 60), (60, 60)]  # chunks of whole batches (20 frames)
    seen = []
    accumulate_spectrum(movie, chunk_frames=7, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(7 * k, 60) for k in range(1, 9)] + [(60, 60)]
    seen = []  # from frame 10: the first chunk up to the next batch
    accumulate_spectrum(movie, start=10, chunk_frames=25, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(10, 50), (30, 50), (50, 50)]


def test_parallel_workers_give_the_same_result(movie):
    serial = accumulate_spectrum(movie).autocorrelation(9)
    parallel = accumulate_spectrum(movie, workers=2).autocorrelation(9)
    # the same sums in another order: float32 rounding, far below the noise
    assert np.abs(serial - parallel).max() < 1e-7 * np.abs(serial).max()


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("chunk", [7, 25, 64])
def test_the_same_bits_whatever_the_workers_and_chunks(movie, workers, chunk):
    """Sub-batches are fixed by the frame shape, the workers share them by rows: the
    sums are the bits of one worker reading the whole movie at once."""
    whole = SpectrumAccumulator(movie.shape[1:], workers=1)
    whole.add(movie)
    accumulator = SpectrumAccumulator(movie.shape[1:], workers=workers)
    for first in range(0, movie.shape[0], chunk):
        accumulator.add(movie[first : first + chunk])
    ours, theirs = accumulator.sums(), whole.sums()
    np.testing.assert_array_equal(ours.ac_sums, theirs.ac_sums)
    np.testing.assert_array_equal(ours.coverage_sums, theirs.coverage_sums)
    np.testing.assert_array_equal(ours.dof, theirs.dof)


def test_waiting_for_each_closed_group_gives_the_same_bits(movie, monkeypatch):
    """Groups whose arrays are waited for before the next group closes (large
    frames' groups, here every group) hold the same sums as groups left to run."""
    import smlmlp.spectra

    left_to_run = accumulate_spectrum(movie, workers=2, block_frames=10, group_frames=10)
    monkeypatch.setattr(smlmlp.spectra, "GROUP_WAIT_BYTES", 0)
    waited = accumulate_spectrum(movie, workers=2, block_frames=10, group_frames=10)
    assert waited.n_groups == left_to_run.n_groups > 2
    np.testing.assert_array_equal(waited.ac_sums, left_to_run.ac_sums)
    np.testing.assert_array_equal(waited.coverage_sums, left_to_run.coverage_sums)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_frames_taken_in_cache_blocks_give_the_exact_sums(movie, monkeypatch, workers):
    """Sub-batches of 2 frames, chunks of 25 that cut them, against direct products."""
    import smlmlp.spectra

    frame_bytes = 4 * movie.shape[1] * movie.shape[2]
    monkeypatch.setattr(smlmlp.spectra, "WORKER_BATCH_BYTES", 3 * frame_bytes - 1)
    accumulator = SpectrumAccumulator(movie.shape[1:], workers=workers, block_frames=30)
    assert accumulator._sub == 2
    for first in range(0, movie.shape[0], 25):
        accumulator.add(movie[first : first + 25])
    assert accumulator.n_frames == movie.shape[0]
    circular = direct_circular(movie, 9, block=30)
    result = accumulator.sums().autocorrelation(9)
    accumulator.release_buffer()
    assert np.allclose(result, circular, rtol=1e-5, atol=1e-6 * np.abs(circular).max())


def test_crop_size_is_odd_and_checked():
    assert [crop_size(c) for c in (5, 6, 41, 40)] == [5, 7, 41, 41]
    with pytest.raises(ValueError, match="crop_pix: must be at least 5"):
        crop_size(4)
    with pytest.raises(TypeError, match="crop_pix: expected an integer"):
        crop_size(7.5)


def test_peak_memory_does_not_grow_with_the_number_of_frames(tmp_path):
    """Stream memmaps of 1000 and 3000 frames (20 groups each): the extra memory is the same."""
    peaks = []
    for n_frames in (1000, 3000):
        path = tmp_path / f"movie{n_frames}.u16"
        writer = np.memmap(path, dtype=np.uint16, mode="w+", shape=(n_frames, 64, 64))
        rng = np.random.default_rng(0)
        for start in range(0, n_frames, 100):
            writer[start : start + 100] = rng.poisson(100, size=(100, 64, 64))
        writer.flush()
        del writer
        stack = np.memmap(path, dtype=np.uint16, mode="r", shape=(n_frames, 64, 64))
        tracemalloc.start()
        accumulate_spectrum(stack, chunk_frames=32)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # 3000 frames hold 24 MB as uint16 and 48 MB as float32: the peak must not see them
    assert peaks[1] < 1.2 * peaks[0] + 100_000
    # the sums themselves: two 63x63 float64 crops per group, up to 39 groups
    assert peaks[1] < 6 * 2**20


@pytest.mark.parametrize("workers", [1, 2])
def test_regions_side_by_side_give_each_region_its_own_sums(workers):
    """Tiles summed in one accumulator (a region axis in every pass) equal each tile's
    movie summed alone, group by group, blinking map included."""
    rng = np.random.default_rng(5)
    whole = rng.poisson(150, size=(90, 24, 36)).astype(np.uint16)
    whole[:, 12:, :] += (rng.poisson(3.0, size=(90, 12, 36)) * 40).astype(np.uint16)  # tiles differ
    regions = [(slice(r, r + 12), slice(c, c + 18)) for r in (0, 12) for c in (0, 18)]
    accumulator = SpectrumAccumulator((24, 36), workers=workers, group_frames=40, regions=regions)
    for first in range(0, 90, 25):
        accumulator.add(whole[first : first + 25])
    together = accumulator.region_sums()
    assert len(together) == 4
    for (rows, columns), ours in zip(regions, together, strict=True):
        alone = SpectrumAccumulator((12, 18), workers=1, group_frames=40)
        alone.add(whole[:, rows, columns])
        theirs = alone.sums()
        assert ours.frame_shape == (12, 18)
        np.testing.assert_array_equal(ours.first_frames, theirs.first_frames)
        np.testing.assert_array_equal(ours.dof, theirs.dof)
        scale = np.abs(theirs.ac_sums).max()
        assert np.abs(ours.ac_sums - theirs.ac_sums).max() <= 1e-9 * scale
        cover = np.abs(theirs.coverage_sums).max()
        assert cover > 0
        assert np.abs(ours.coverage_sums - theirs.coverage_sums).max() <= 1e-9 * cover
    # the tiles differ: the lower ones blink
    assert np.abs(together[2].ac_sums).max() > 10 * np.abs(together[0].ac_sums).max()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_grid_of_tiles_read_as_a_view_gives_the_bits_of_tiles_copied(workers):
    """Tiles of a regular grid are shifted straight from the chunk (a strided view);
    the same tiles in another order are copied side by side first: the same bits."""
    rng = np.random.default_rng(8)
    movie = rng.poisson(120, size=(70, 20, 33)).astype(np.uint16)
    grid = [(slice(r, r + 9), slice(c, c + 10)) for r in (1, 10) for c in (2, 12, 22)]
    view = SpectrumAccumulator((20, 33), workers=workers, regions=grid)
    copied = SpectrumAccumulator((20, 33), workers=workers, regions=grid[::-1])
    assert view._grid == (1, 2, 2, 3) and copied._grid is None
    for first in range(0, 70, 13):
        view.add(movie[first : first + 13])
        copied.add(movie[first : first + 13])
    for ours, theirs in zip(view.region_sums(), copied.region_sums()[::-1], strict=True):
        np.testing.assert_array_equal(ours.ac_sums, theirs.ac_sums)
        np.testing.assert_array_equal(ours.coverage_sums, theirs.coverage_sums)


def test_regions_are_checked():
    with pytest.raises(ValueError, match="cell 2: regions must all have one shape"):
        SpectrumAccumulator(
            (16, 16),
            regions=[(slice(0, 8), slice(0, 8)), (slice(8, 16), slice(0, 4))],
            name="cell 2",
        )
    with pytest.raises(ValueError, match="a region must be a non-empty rectangle"):
        SpectrumAccumulator((16, 16), regions=[(slice(4, 4), slice(0, 8))])
    with pytest.raises(ValueError, match="no region given"):
        SpectrumAccumulator((16, 16), regions=[])
    accumulator = SpectrumAccumulator((16, 16), regions=[(slice(0, 8), slice(0, 8))])
    with pytest.raises(ValueError, match="this accumulator sums regions; use region_sums"):
        accumulator.sums()
    with pytest.raises(ValueError, match=r"expected frames of shape \(n, 16, 16\)"):
        accumulator.add(np.zeros((3, 8, 8)))


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("expected", [None, 7, 57, 400])
def test_the_groups_store_gives_the_same_bits_however_it_is_sized(movie, workers, expected):
    """The closed groups' crops go into slabs sized from the frames expected (too few:
    more slabs; unknown: slabs of a fixed size): the bits of a snapshot of the whole
    movie, a shorter last block included; snapshots taken earlier do not change as
    frames come; no frame after finish()."""
    frames = movie[:57]  # six groups of 10 frames, the last one of 7
    reference = SpectrumAccumulator(frames.shape[1:], block_frames=10, group_frames=10)
    reference.add(frames)
    whole = reference.sums()
    accumulator = SpectrumAccumulator(
        frames.shape[1:],
        block_frames=10,
        group_frames=10,
        workers=workers,
        expected_frames=expected,
    )
    accumulator.add(frames[:35])
    early = accumulator.sums()
    early_copy = (early.ac_sums.copy(), early.coverage_sums.copy())
    accumulator.add(frames[35:])
    final = accumulator.finish()[0]
    assert final.n_frames.tolist() == [10, 10, 10, 10, 10, 7]
    for field in ("first_frames", "n_frames", "dof", "ac_sums", "coverage_sums"):
        assert np.array_equal(getattr(final, field), getattr(whole, field)), field
    assert np.array_equal(early.ac_sums, early_copy[0])
    assert np.array_equal(early.coverage_sums, early_copy[1])
    assert np.array_equal(early.ac_sums[:3], final.ac_sums[:3])
    assert np.array_equal(accumulator.region_sums()[0].ac_sums, final.ac_sums)
    with pytest.raises(ValueError, match="after finish"):
        accumulator.add(frames[:1])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_kept_crop_holds_the_same_numbers_in_smaller_sums(workers: int) -> None:
    rng = np.random.default_rng(11)
    movie = rng.poisson(60, size=(130, 64, 72)).astype(np.uint16)
    quads = [(slice(r, r + 32), slice(c, c + 36)) for r in (0, 32) for c in (0, 36)]
    options = dict(workers=workers, chunk_frames=17)
    for region in (None, quads):
        regions = region or [(slice(0, 64), slice(0, 72))]
        full = accumulate_regions(movie, regions, **options)
        kept = accumulate_regions(movie, regions, kept_crop=20, **options)
        for whole, small in zip(full, kept, strict=True):
            assert small.stored_crop == 21 < whole.stored_crop
            trim = slice((whole.stored_crop - 21) // 2, (whole.stored_crop + 21) // 2)
            np.testing.assert_array_equal(small.ac_sums, whole.ac_sums[:, trim, trim])
            np.testing.assert_array_equal(small.coverage_sums, whole.coverage_sums[:, trim, trim])
            np.testing.assert_array_equal(small.leave_one_out(15), whole.leave_one_out(15))
        with pytest.raises(ValueError, match="larger than the 21x21"):
            kept[0].autocorrelation(23)


def test_level_bins_made_as_groups_close_are_those_made_at_the_end():
    """Each closed group's level bins, made on a worker as it closes (or here with one
    worker), are those made of all the groups' moments at once (the way of the GPU) to
    rounding (the matrix products of one group or of all may round apart), the same
    bits with one worker or two, tiles and an open last group included."""
    from smlmlp.simulation import simulate_movie

    movie, _ = simulate_movie(
        230, (64, 64), sigx_nm=130.0, seed=21,
        artifacts={"flicker": 0.05, "haze_photons": 30.0},
    )  # fmt: skip
    regions = [(slice(0, 32), slice(0, 32)), (slice(32, 64), slice(32, 64))]
    made = []
    for workers in (1, 2):
        accumulator = SpectrumAccumulator(
            (64, 64), workers=workers, block_frames=10, group_frames=20, regions=regions
        )
        accumulator.add(movie)
        open_parts = accumulator.region_sums()  # the last group still open: made here
        parts = accumulator.finish()
        store = accumulator._store
        assert all(bins is not None for bins in store.bins)
        moments = np.stack([level[0] for level in store.levels])
        spread = np.stack([level[1] for level in store.levels])
        at_once = level_bins(moments, spread[..., 2], accumulator._level_transforms)
        for region, (part, open_part) in enumerate(zip(parts, open_parts, strict=True)):
            assert part.n_groups == open_part.n_groups == len(store.bins) == 12
            scale = np.abs(at_once[:, region]).max()
            assert scale > 0
            np.testing.assert_allclose(part.level_bins, at_once[:, region], rtol=0,
                                       atol=1e-13 * scale)
            np.testing.assert_array_equal(open_part.level_bins[:-1], part.level_bins[:-1])
            np.testing.assert_allclose(
                open_part.level_bins[-1], part.level_bins[-1], rtol=1e-12, atol=0
            )
        made.append([part.level_bins for part in parts])
    for one, two in zip(*made, strict=True):
        np.testing.assert_array_equal(one, two)
