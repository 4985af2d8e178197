"""pco CamWare recordings: ``.pcoraw`` TIFF files, their 32-bit data offsets that wrap
around past 4 GiB, and the exposure of the ``.rec`` text beside them."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.folder_movies import list_movies
from smlmlp.loading import open_movie
from smlmlp.simulation import simulate_movie
from smlmlp.tiff_metadata import pco_rec_exposure_ms

FRAMES, SHAPE = 300, (40, 36)
FRAME_BYTES = SHAPE[0] * SHAPE[1] * 2


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    frames, _ = simulate_movie(
        FRAMES, SHAPE, sigx_nm=135.0, sigy_nm=115.0, photons=2000.0, background=20.0, seed=29
    )
    return frames


def _sigmas(stack) -> list[float]:  # noqa: ANN001 (any stack of frames)
    _, info = blink_spatial_psf([stack], 21, channels_pixels_nm=100.0, chunk_frames=64)
    return [float(info["sigx"][0]), float(info["sigy"][0])]


def _sparse_or_skip(path: Path) -> None:
    """Files past 4 GiB are written sparse: skip where the file system cannot."""
    if os.stat(path).st_blocks * 512 > 2**30:
        path.unlink()
        pytest.skip("this file system does not keep files sparse")


def test_pcoraw_reads_as_its_tiff_with_the_exposure_of_its_rec(
    movie: np.ndarray, movie_formats, tmp_path: Path
) -> None:
    path = movie_formats.write_pcoraw(tmp_path / "cells.pcoraw", movie,
                                      exposure="12.500000 ms / 0.000000 ms")
    with open_movie(path) as opened:
        assert opened.shape == movie.shape
        np.testing.assert_array_equal(np.asarray(opened[:]), movie)
        assert opened.metadata["exposure_ms"] == 12.5
        assert opened.metadata["pixel_nm"] is None
        assert opened.paths == [str(path), str(tmp_path / "cells.rec")]
    assert [os.path.basename(p) for p in list_movies(tmp_path)] == ["cells.pcoraw"]


def test_offsets_that_wrap_past_4_gib_are_unwrapped(
    movie: np.ndarray, movie_formats, tmp_path: Path
) -> None:
    """The frames straddle the 4 GiB mark: read where they lie, not where the
    wrapped offsets point (tifffile alone reads the file's start for them)."""
    start = 2**32 - 100 * FRAME_BYTES - 123 * 2  # frame 100 straddles it
    path = movie_formats.write_pcoraw(tmp_path / "long.pcoraw", movie, data_offset=start)
    _sparse_or_skip(path)
    with tifffile.TiffFile(path) as tif:  # what the file says: offsets that wrap
        offsets = [page.dataoffsets[0] for page in tif.pages]
    assert offsets[101] < offsets[100] < 2**32  # frame 100 straddles the mark
    with open_movie(path) as opened:
        assert opened.shape == movie.shape
        np.testing.assert_array_equal(np.asarray(opened[95:110]), movie[95:110])
        np.testing.assert_array_equal(np.asarray(opened[:]), movie)
        np.testing.assert_allclose(_sigmas(opened), _sigmas(movie), rtol=1e-9)


def test_a_bigtiff_past_4_gib_with_its_pages_in_any_order_reads_as_written(
    movie: np.ndarray, movie_formats, tmp_path: Path
) -> None:
    """64-bit offsets that fall from page to page are not taken for wrapped ones."""
    start = 2**32 - 100 * FRAME_BYTES
    path = movie_formats.write_pcoraw(tmp_path / "any.pcoraw", movie[:150], data_offset=start,
                                      true_offsets_reversed=True)
    _sparse_or_skip(path)
    with open_movie(path) as opened:
        np.testing.assert_array_equal(np.asarray(opened[:]), movie[:150])


def test_wrapped_offsets_of_frames_not_back_to_back_fail_with_one_line(
    movie: np.ndarray, movie_formats, tmp_path: Path
) -> None:
    start = 2**32 - 10 * FRAME_BYTES
    path = movie_formats.write_pcoraw(tmp_path / "odd.pcoraw", movie[:20], data_offset=start)
    _sparse_or_skip(path)
    # the fifth frame's offset (after the first IFDs of 9 entries) points at the first frame's
    ifd_bytes = 8 + 9 * 20 + 8
    with open(path, "r+b") as fh:
        fh.seek(16 + 4 * ifd_bytes + 8 + 5 * 20 + 12)
        fh.write(struct.pack("<Q", start))
    with pytest.raises(ValueError, match="wrap around at 4 GiB") as caught:
        open_movie(path)
    assert "odd.pcoraw" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("line", "encoding", "expected"),
    [
        ("30.000000 ms / 0.000000 ms", "utf-16", 30.0),
        ("800.000000 us / 0.000000 us", "utf-16", 0.8),
        ("25.000000 ms / 5.000000 ms", "utf-8", 25.0),
        ("0,05 s / 0 s", "latin-1", 50.0),
        ("20.000000 ms / 0.000000 ms", "utf-16-le", 20.0),  # no byte-order mark
        ("unknown", "utf-16", None),
        ("0.000000 ms / 0.000000 ms", "utf-16", None),
        ("12 fortnights / 0 ms", "utf-16", None),
    ],
)
def test_exposure_of_the_rec_text(
    line: str, encoding: str, expected: float | None, movie_formats, tmp_path: Path
) -> None:
    movie_formats.write_pco_rec(tmp_path / "cells.rec", exposure=line, encoding=encoding)
    found = pco_rec_exposure_ms(str(tmp_path / "cells.pcoraw"))
    assert found == pytest.approx(expected) if expected is not None else found is None


def test_a_camware_tiff_takes_its_name_tif_rec(
    movie: np.ndarray, movie_formats, tmp_path: Path
) -> None:
    tifffile.imwrite(tmp_path / "cells.tif", movie[:120])
    with open_movie(tmp_path / "cells.tif") as opened:
        assert opened.metadata["exposure_ms"] is None  # no .rec
    movie_formats.write_pco_rec(tmp_path / "cells.tif.rec", exposure="15.000000 ms / 0 ms")
    with open_movie(tmp_path / "cells.tif") as opened:
        assert opened.metadata["exposure_ms"] == 15.0
    assert [os.path.basename(p) for p in list_movies(tmp_path)] == ["cells.tif"]
