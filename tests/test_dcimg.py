"""Hamamatsu ``.dcimg`` movies, read without a library: both layouts (0x7, 0x1000000),
padded rows, sub-arrays and binning, the four pixels stored apart, the frame interval
from the time stamps, and one line for every file that cannot be read."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile

from smlmlp.cli import main
from smlmlp.dcimg_movie import read_dcimg_layout
from smlmlp.infofile import read_info
from smlmlp.loading import open_movie
from smlmlp.simulation import simulate_movie

SIMULATION = {"pixel_nm": 100.0, "photons": 2000.0, "background": 20.0, "on_density_per_um2": 0.5}


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    frames, _ = simulate_movie(300, (40, 36), sigx_nm=135.0, sigy_nm=115.0, seed=23, **SIMULATION)
    return frames


#: (version, sensor row of the sub-array's first row, binning, row padding) -> the row
#: whose first four pixels the file stores apart
LAYOUTS = [
    pytest.param(dict(version=0x7), 20, id="0x7"),
    pytest.param(dict(version=0x7, row_padding=8), 20, id="0x7-padded"),
    pytest.param(dict(version=0x1000000, sensor_y0=1000), 23, id="0x1000000-subarray"),
    pytest.param(dict(version=0x1000000, sensor_y0=1000, row_padding=4), 23, id="padded"),
    pytest.param(dict(version=0x1000000, sensor_y0=990, binning=2), 16, id="binned"),
    pytest.param(dict(version=0x1000000), None, id="0x1000000-top"),
]


@pytest.mark.parametrize(("layout", "row"), LAYOUTS)
def test_frames_and_widths_as_the_tiff(
    layout: dict, row: int | None, movie: np.ndarray, movie_formats, tmp_path: Path
) -> None:
    widths = movie_formats.widths
    path = movie_formats.write_dcimg(tmp_path / "orca.dcimg", movie, interval_ms=12.5, **layout)
    tiff = tmp_path / "orca.tif"
    tifffile.imwrite(tiff, movie, photometric="minisblack")
    assert read_dcimg_layout(path).pixels_row == row
    with open_movie(path) as dcimg, open_movie(tiff) as plain:
        assert dcimg.shape == movie.shape and dcimg.dtype == np.uint16
        np.testing.assert_array_equal(dcimg[37:151], movie[37:151])
        np.testing.assert_array_equal(np.asarray(dcimg), movie)
        assert dcimg.metadata["kind"] == "dcimg" and dcimg.metadata["pixel_nm"] is None
        assert dcimg.metadata["exposure_ms"] == pytest.approx(12.5, abs=1e-9)
        np.testing.assert_allclose(widths(dcimg), widths(plain), rtol=1e-9)


def test_the_four_pixels_apart_are_put_back(movie: np.ndarray, movie_formats, tmp_path) -> None:
    """The frames hold a marker (0, 65535, 0, 65535) where the file keeps four pixels
    apart: read as stored, every frame would have four saturated pixels. Were the
    pixels put back into the wrong row (a camera whose row is not the ORCA-Flash4.0's),
    four pixels would stay stuck, which moves the widths by 0.2 % on these small frames
    (40 x 36 px)."""
    widths = movie_formats.widths
    for version, options in ((0x7, {}), (0x1000000, {"sensor_y0": 1000})):
        path = movie_formats.write_dcimg(
            tmp_path / f"{version}.dcimg", movie, version=version, **options
        )
        layout = read_dcimg_layout(path)
        row = layout.pixels_row
        assert row is not None
        stored = np.ndarray(
            movie.shape, "<u2", path.read_bytes(), layout.data_offset,
            (layout.frame_bytes, layout.row_bytes, 2),
        )
        marker = np.tile([0, 65535, 0, 65535], (len(movie), 1))
        np.testing.assert_array_equal(stored[:, row, :4], marker)
        with open_movie(path) as dcimg:
            np.testing.assert_array_equal(dcimg[3:9][:, row, :6], movie[3:9, row, :6])
            assert int(np.asarray(dcimg).max()) == int(movie.max()) < 65535
            np.testing.assert_allclose(widths(stored), widths(dcimg), rtol=3e-3)


def test_8_bit_frames_and_time_stamps(movie_formats, tmp_path: Path) -> None:
    frames = np.random.default_rng(3).integers(0, 255, (12, 24, 16)).astype(np.uint8)
    path = movie_formats.write_dcimg(tmp_path / "b.dcimg", frames, interval_ms=0.5)
    with open_movie(path) as dcimg:
        assert dcimg.dtype == np.uint8
        np.testing.assert_array_equal(np.asarray(dcimg), frames)
        assert dcimg.metadata["exposure_ms"] == pytest.approx(0.5, abs=1e-9)
    # time stamps that do not increase (a camera without a clock writes zeros): no interval
    data = bytearray(path.read_bytes())
    layout = read_dcimg_layout(path)
    for frame in range(12):
        struct.pack_into("<II", data, layout.stamps_offset + frame * layout.stamps_step, 0, 0)
    path.write_bytes(bytes(data))
    with open_movie(path) as dcimg:
        assert dcimg.metadata["exposure_ms"] is None


def _patched(path: Path, offset: int, fmt: str, value: int) -> Path:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))
    return path


def test_bad_files_one_line(movie: np.ndarray, movie_formats, tmp_path: Path) -> None:
    def fails(path: Path, *words: str) -> None:
        with pytest.raises(ValueError) as caught:
            with open_movie(path) as dcimg:
                np.asarray(dcimg)
        movie_formats.one_line(caught.value, str(path), *words)

    def written(name: str, **options) -> Path:
        return movie_formats.write_dcimg(tmp_path / name, movie[:10], **options)

    fails(_patched(written("v.dcimg"), 8, "<I", 0x2000000), "DCIMG version 0x2000000 is not read")
    fails(_patched(written("p.dcimg"), 232 + 64, "<I", 3), "pixel type 3 is not read")
    fails(_patched(written("s.dcimg", version=0x7), 232 + 56, "<I", 100), "sizes do not add up")
    cut = written("cut.dcimg")
    cut.write_bytes(cut.read_bytes()[:-40])
    fails(cut, "truncated .dcimg file: 10 frames of 40x36 px need")
    head = written("head.dcimg")
    head.write_bytes(head.read_bytes()[:300])
    fails(head, "the file ends inside its header")
    other = tmp_path / "other.dcimg"
    tifffile.imwrite(other, movie[:3], photometric="minisblack")
    fails(other, "not a DCIMG file")


def test_the_command_on_a_folder_of_dcimg(movie: np.ndarray, movie_formats, tmp_path, capsys):
    widths = movie_formats.widths
    folder = tmp_path / "orca"
    movie_formats.write_dcimg(folder / "cell_01.dcimg", movie, interval_ms=20.0, sensor_y0=1000)
    movie_formats.write_dcimg(folder / "cell_02.dcimg", movie[::-1], version=0x7)
    out = tmp_path / "psf.h5"
    code = main(["psf", str(folder), "--pixel-nm", "100", "--crop-pix", "21", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    info = read_info(out)
    assert sorted(info.channels) == ["cell_01", "cell_02"]
    first, second = info.channels["cell_01"], info.channels["cell_02"]
    np.testing.assert_allclose([first.sigx_nm, first.sigy_nm], widths(movie), rtol=1e-9)
    assert 125 < first.sigx_nm < 145 and 105 < first.sigy_nm < 125
    np.testing.assert_allclose([second.sigx_nm, second.sigy_nm], widths(movie[::-1]), rtol=1e-9)
    assert main(["inspect", str(folder / "cell_01.dcimg")]) == 0
    assert "  format      dcimg" in capsys.readouterr().out
