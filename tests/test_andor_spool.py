"""Andor Solis's spooled series (a ``.sifx`` header, ``acquisitionmetadata.ini`` and
the frames in ``*spool.dat`` files): the frames and widths of the movie, its layouts,
an acquisition stopped early, and one line for every bad folder."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.formats import movie_name
from smlmlp.infofile import read_info
from smlmlp.loading import open_movie
from smlmlp.simulation import simulate_movie

pytest.importorskip("sif_parser")

N_FRAMES = 140
SHAPE = (24, 32)
HEADER = "Spooled files.sifx"


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    frames, _ = simulate_movie(N_FRAMES, SHAPE, sigx_nm=130.0, sigy_nm=115.0, seed=31,
                               pixel_nm=100.0, photons=2000.0, background=20.0)
    return frames


def _sigmas(stack: object) -> list[float]:
    _, info = blink_spatial_psf([stack], 21, channels_pixels_nm=100.0, chunk_frames=32)
    return [float(info["sigx"][0]), float(info["sigy"][0])]


def _one_line(error: BaseException, *words: str) -> None:
    text = str(error)
    assert "\n" not in text, text
    for word in words:
        assert word in text, text


@pytest.mark.parametrize(
    ("encoding", "per_file", "padding", "trailer"),
    [("Mono16", 7, 6, 40), ("Mono16", 1, 0, 0), ("Mono16", 200, 4, 8), ("Mono32", 25, 8, 40)],
)
def test_frames_of_every_layout(movie_formats: ModuleType, movie: np.ndarray, tmp_path: Path,
                                encoding: str, per_file: int, padding: int, trailer: int) -> None:
    """Rows padded to their stride, frame metadata after each image, any number of
    images per file, 16 or 32 bits: the frames as they were, read in any range."""
    path = movie_formats.write_andor_spool(
        tmp_path / HEADER, movie, images_per_file=per_file, encoding=encoding,
        row_padding=padding, trailer=trailer, exposure_ms=12.5,
    )
    with open_movie(path) as lazy:
        assert lazy.shape == movie.shape and lazy.metadata["kind"] == "andor-spool"
        assert lazy.dtype == np.dtype(np.uint16 if encoding == "Mono16" else np.uint32)
        np.testing.assert_array_equal(lazy[:], movie)
        np.testing.assert_array_equal(lazy[5:23], movie[5:23])
        np.testing.assert_array_equal(lazy[-1], movie[-1])
        assert lazy.metadata["exposure_ms"] == pytest.approx(12.5)
        assert lazy.metadata["pixel_nm"] is None
        dats = sorted(p for p in os.listdir(tmp_path) if p.endswith("spool.dat"))
        assert len(lazy.paths) == 2 + len(dats) and lazy.paths[1].endswith("metadata.ini")


@pytest.mark.parametrize(("width", "padding"), [(32, 0), (32, 5), (31, 3)])
def test_twelve_bit_packed_pixels(movie_formats: ModuleType, movie: np.ndarray,
                                  tmp_path: Path, width: int, padding: int) -> None:
    """``Mono12Packed`` (two pixels in three bytes, Solis's fastest spooling): every
    pixel as it was, rows of even or odd width, padded or not, in any range, as 16-bit
    pixels; the widths those of the same movie unpacked, to 1e-9."""
    assert movie.max() < 4096
    frames = np.ascontiguousarray(movie[:, :, :width])
    path = movie_formats.write_andor_spool(
        tmp_path / HEADER, frames, images_per_file=9, encoding="Mono12Packed",
        row_padding=padding, trailer=24,
    )
    ini = (tmp_path / "acquisitionmetadata.ini").read_text()
    assert f"AOIStride = {(3 * width + 1) // 2 + padding}" in ini
    with open_movie(path) as lazy:
        assert lazy.shape == frames.shape and lazy.dtype == np.dtype(np.uint16)
        np.testing.assert_array_equal(lazy[:], frames)
        np.testing.assert_array_equal(lazy[8:19], frames[8:19])
        np.testing.assert_array_equal(lazy[-1], frames[-1])
        np.testing.assert_allclose(_sigmas(lazy), _sigmas(frames), rtol=1e-9)


def test_twelve_bit_packing_bit_by_bit() -> None:
    """The bits of each pixel where Andor's SDK3 puts them: a pair ``(a, b)`` in the
    bytes ``a[11:4]``, ``b[3:0] a[3:0]``, ``b[11:4]``; every 12-bit value of both
    pixels of a pair comes back; too few bytes for the row fail."""
    from smlmlp.andor_spool import unpack_mono12

    row = np.array([0xAB, 0x3C, 0x12, 0x00, 0xF0, 0xFF, 0x7F, 0x05], np.uint8)
    assert unpack_mono12(row, 5).tolist() == [0xABC, 0x123, 0x000, 0xFFF, 0x7F5]
    values = np.arange(4096, dtype=np.uint16)
    pairs = np.stack([values, values[::-1]], axis=-1)  # (4096, 2): a, b
    packed = np.stack([pairs[:, 0] >> 4, (pairs[:, 1] & 15) << 4 | (pairs[:, 0] & 15),
                       pairs[:, 1] >> 4], axis=-1).astype(np.uint8)
    np.testing.assert_array_equal(unpack_mono12(packed, 2), pairs)
    with pytest.raises(ValueError, match="cannot hold 5 Mono12Packed pixels"):
        unpack_mono12(row[:7], 5)


def test_same_frames_as_the_libraries_reader(movie_formats: ModuleType, movie: np.ndarray,
                                             tmp_path: Path) -> None:
    """sif_parser's own reader of spooled series (which loads the whole movie) reads
    the same frames from the files the tests write."""
    import sif_parser

    path = movie_formats.write_andor_spool(tmp_path / HEADER, movie, images_per_file=10)
    whole, _ = sif_parser.np_spool_open(str(tmp_path))
    with open_movie(path) as lazy:
        np.testing.assert_array_equal(lazy[:], whole)


def test_named_after_its_folder_and_measured_as_the_tiff(
    movie_formats: ModuleType, movie: np.ndarray, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A spooled series in a folder of its own beside a TIFF movie: the command on the
    experiment folder measures both, the series named after its folder, the widths of
    the same movie in a TIFF to 1e-9; every file of the series recorded."""
    experiment = tmp_path / "e1"
    path = movie_formats.write_andor_spool(experiment / "cell 1" / HEADER, movie)
    tifffile.imwrite(experiment / "green.tif", movie[::-1], photometric="minisblack")
    assert movie_name(path) == "cell 1"
    out = tmp_path / "psf.h5"
    assert main(["psf", str(experiment), "-o", str(out), "--pixel-nm", "100", "--crop-pix",
                 "21", "-q"]) == 0
    channels = read_info(out).channels
    assert sorted(channels) == ["cell 1", "green"]
    widths = [channels["cell 1"].sigx_nm, channels["cell 1"].sigy_nm]
    np.testing.assert_allclose(widths, _sigmas(movie), rtol=1e-9)
    files = [Path(f).name for f in channels["cell 1"].source_files]
    assert files[:3] == [HEADER, "acquisitionmetadata.ini", "0000000000spool.dat"]
    assert len(files) == 2 + -(-N_FRAMES // 7)
    capsys.readouterr()
    assert main(["inspect", str(path)]) == 0
    assert ("format      andor-spool (20 frames files, 0000000000spool.dat .. "
            "9100000000spool.dat), axes TYX") in capsys.readouterr().out


def test_workflow_experiment_with_a_spooled_series(movie_formats: ModuleType,
                                                   movie: np.ndarray, tmp_path: Path) -> None:
    """The workflow's channel of a spooled series: named after its folder, its inputs
    every file of the series (a changed frames file reruns it)."""
    from smlmlp_workflow import discover_experiments

    movie_formats.write_andor_spool(tmp_path / "e1" / "cam" / HEADER, movie)
    config = {"experiments_dir": str(tmp_path), "pixel_nm": None, "exposure_ms": None}
    channel = discover_experiments(tmp_path, config)["e1"].channels["cam"]
    names = [Path(f).name for f in channel.files]
    assert names[:3] == [HEADER, "acquisitionmetadata.ini", "0000000000spool.dat"]
    assert len(names) == 2 + -(-N_FRAMES // 7)


def test_an_acquisition_stopped_early(movie_formats: ModuleType, movie: np.ndarray,
                                      tmp_path: Path) -> None:
    """Fewer frames spooled than the header gives (the acquisition was stopped): the
    frames spooled are read, with a warning."""
    path = movie_formats.write_andor_spool(tmp_path / HEADER, movie, declared_frames=500)
    with pytest.warns(UserWarning, match=f"stopped early: {N_FRAMES} of the 500 frames"):
        lazy = open_movie(path)
    with lazy:
        assert lazy.shape == movie.shape
        np.testing.assert_array_equal(lazy[-3:], movie[-3:])


def test_a_series_run_until_stopped(movie_formats: ModuleType, movie: np.ndarray,
                                    tmp_path: Path) -> None:
    """A header without a frame count (a series run until it was stopped): every frame
    spooled, without a warning."""
    import warnings

    path = movie_formats.write_andor_spool(tmp_path / HEADER, movie, declared_frames=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_movie(path) as lazy:
            np.testing.assert_array_equal(lazy[:], movie)


def test_bad_folders_one_line(movie_formats: ModuleType, movie: np.ndarray,
                              tmp_path: Path) -> None:
    def write(name: str, **options: object) -> Path:
        return movie_formats.write_andor_spool(tmp_path / name / HEADER, movie, **options)

    path = write("gap")
    os.remove(path.parent / "3000000000spool.dat")  # frames 21..27
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "frames 21..", "3000000000spool.dat")

    path = write("cut")
    dat = path.parent / "1000000000spool.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "truncated", "1000000000spool.dat")

    path = write("colour")
    ini = path.parent / "acquisitionmetadata.ini"
    ini.write_text(ini.read_text().replace("Mono16", "RGB8Packed"))
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "RGB8Packed is not read", "Mono12Packed", "TIFF")

    path = write("packed_too_short", encoding="Mono12Packed", row_padding=0)
    ini = path.parent / "acquisitionmetadata.ini"  # rows too short for their pixels
    ini.write_text(ini.read_text().replace(f"AOIWidth = {SHAPE[1]}", "AOIWidth = 40"))
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "does not describe frames", "Mono12Packed")

    path = write("no_ini")
    os.remove(path.parent / "acquisitionmetadata.ini")
    with pytest.raises(FileNotFoundError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "acquisitionmetadata.ini is missing")

    path = write("bad_ini")
    (path.parent / "acquisitionmetadata.ini").write_text("[data]\nAOIHeight = 24\n")
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "acquisitionmetadata.ini cannot be read")

    path = write("last_cut")  # the last frames file cut inside a frame: read to its end
    last = sorted(path.parent.glob("*spool.dat"), key=lambda p: p.name[::-1])[-1]
    last.write_bytes(last.read_bytes()[:-10])
    with pytest.warns(UserWarning, match="stopped early"), open_movie(path) as lazy:
        assert lazy.shape[0] == N_FRAMES - 1
