"""Hamamatsu HCImage ``.cxd`` movies (OLE2 compound files): frames read straight from
the file or through olefile, images of a frame as channels, both places of the image
details, padded rows, the calibration and the frame interval, and one line for every
file that cannot be read."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import tifffile

from smlmlp.cli import main
from smlmlp.compound_file import CompoundFile
from smlmlp.cxd_movie import CxdMovie
from smlmlp.infofile import read_info
from smlmlp.loading import list_channels, open_movie
from smlmlp.simulation import simulate_movie

SIMULATION = {"pixel_nm": 100.0, "photons": 2000.0, "background": 20.0, "on_density_per_um2": 0.5}


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    frames, _ = simulate_movie(240, (48, 44), sigx_nm=135.0, sigy_nm=115.0, seed=31, **SIMULATION)
    return frames


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("scattered", [False, True], ids=["sectors-in-order", "scattered"])
def test_frames_widths_and_metadata_as_written(
    scattered: bool, version: int, movie: np.ndarray, movie_formats, tmp_path: Path
) -> None:
    """Frames of 4224 bytes live in the file's regular sectors (512 or 4096 bytes): one
    run of them where they follow each other, a run per sector where a file's sectors
    are dealt out."""
    widths = movie_formats.widths
    path = movie_formats.write_cxd(
        tmp_path / "orca.cxd", movie, interval_ms=12.5, scattered=scattered, version=version,
        comments="factor=0.065;um\r\nmagnification=1.6;\r\nunits=um;\r\n",
    )
    with open_movie(path) as cxd:
        assert isinstance(cxd, CxdMovie)
        runs = cxd._file.runs(cxd._bitmap(7))
        sectors = -(-48 * 44 * 2 // (512 if version == 3 else 4096))
        assert len(runs) == (sectors if scattered else 1)
        assert sum(length for _, length in runs) == 48 * 44 * 2
        assert cxd.shape == movie.shape and cxd.dtype == np.uint16
        np.testing.assert_array_equal(cxd[37:151], movie[37:151])
        np.testing.assert_array_equal(np.asarray(cxd), movie)
        assert cxd.metadata["kind"] == "cxd"
        assert cxd.metadata["pixel_nm"] == pytest.approx((104.0, 104.0))  # 0.065 µm x 1.6
        assert cxd.metadata["exposure_ms"] == pytest.approx(12.5, rel=1e-9)
        np.testing.assert_allclose(widths(cxd), widths(movie), rtol=1e-9)


def test_images_of_a_frame_are_channels(movie: np.ndarray, movie_formats, tmp_path) -> None:
    second = movie[:, ::-1, :]
    path = movie_formats.write_cxd(tmp_path / "two.cxd", movie[:60], channels=[second[:60]])
    assert list_channels(path) == ("c0", "c1")
    with open_movie(path, channel="c1") as cxd:
        assert cxd.channel == 1
        np.testing.assert_array_equal(np.asarray(cxd), second[:60])
    with open_movie(path, channel=0) as cxd:
        np.testing.assert_array_equal(cxd[10:20], movie[10:20])
    with pytest.raises(ValueError, match="the file holds 2 channels"):
        open_movie(path)


def test_older_layout_padded_rows_and_bytes(movie: np.ndarray, movie_formats, tmp_path) -> None:
    """Details in the field's own storage, rows padded to 4 more bytes, 12-bit and
    8-bit frames, no calibration (or an uncalibrated one) and no time stamps' steps."""
    path = movie_formats.write_cxd(
        tmp_path / "old.cxd", movie[:50], details_in_image=False, row_padding=4, depth=12,
        comments=None,
    )
    with open_movie(path) as cxd:
        assert cxd.shape == (50, 48, 44) and cxd.dtype == np.uint16
        np.testing.assert_array_equal(np.asarray(cxd), movie[:50])
        assert cxd.metadata["pixel_nm"] is None
    small = (movie[:30] // 16).astype(np.uint8)
    path = movie_formats.write_cxd(
        tmp_path / "byte.cxd", small, comments="factor=1;pixels\n", interval_ms=0.0
    )
    with open_movie(path) as cxd:
        assert cxd.dtype == np.uint8
        np.testing.assert_array_equal(np.asarray(cxd), small)
        assert cxd.metadata["pixel_nm"] is None and cxd.metadata["exposure_ms"] is None


def test_frames_stored_as_tiff_images(movie: np.ndarray, movie_formats, tmp_path) -> None:
    """SimplePCI's bitmaps that are TIFF files (compressed: of every size) are decoded."""
    path = movie_formats.write_cxd(tmp_path / "pci.cxd", movie[:40], embedded_tiff=True)
    with open_movie(path) as cxd:
        assert cxd._embedded_tiff and cxd.shape == (40, 48, 44) and cxd.dtype == np.uint16
        np.testing.assert_array_equal(cxd[5:31], movie[5:31])


def test_every_stream_as_olefile_reads_it(movie_formats, tmp_path: Path) -> None:
    """A file past 7 MB lists its FAT's sectors beyond the header's 109 in a DIFAT
    sector: ours and olefile, the reference reader, read every stream (small ones in the
    mini stream, large ones in dealt-out sectors) to the same bytes."""
    import olefile

    frames = np.random.default_rng(5).integers(0, 4096, (240, 128, 128), dtype=np.uint16)
    path = movie_formats.write_cxd(
        tmp_path / "large.cxd", frames, scattered=True, comments="factor=0.1;um\n"
    )
    assert struct.unpack_from("<I", path.read_bytes()[:512], 72)[0] >= 1  # DIFAT sectors
    with olefile.OleFileIO(str(path), raise_defects=olefile.DEFECT_INCORRECT) as ole:
        names = ["/".join(parts) for parts in ole.listdir()]
        assert len(names) == 3 + 240 * 7  # File Info's, and 7 streams a frame
        with CompoundFile(path) as ours:
            for name in names:
                assert ours.read(ours.find(name)) == ole.openstream(name).read(), name
            assert ours.find("Field Data/Field 241") is None
    with open_movie(path) as cxd:
        np.testing.assert_array_equal(cxd[100:140], frames[100:140])
        assert cxd.metadata["pixel_nm"] == (100.0, 100.0)


def _streams_changed(
    movie_formats, path: Path, frames: np.ndarray, changes: dict[str, bytes | None], **options
) -> Path:
    """A .cxd of ``frames`` (``write_cxd``'s ``options``) with some streams replaced
    (None: left out)."""
    import olefile

    written = movie_formats.write_cxd(path.with_suffix(".tmp.cxd"), frames, **options)
    streams = {}
    with olefile.OleFileIO(str(written)) as ole:
        for parts in ole.listdir():
            name = "/".join(parts)
            streams[name] = ole.openstream(name).read()
    written.unlink()
    for name, data in changes.items():
        if data is None:
            streams.pop(name)
        else:
            streams[name] = data
    return movie_formats.write_compound_file(path, streams)


def test_bad_files_one_line(movie: np.ndarray, movie_formats, tmp_path: Path) -> None:
    def fails(path: Path, *words: str) -> None:
        with pytest.raises(ValueError) as caught:
            with open_movie(path) as cxd:
                np.asarray(cxd)
        movie_formats.one_line(caught.value, str(path), *words)

    frames = movie[:8]
    other = tmp_path / "other.cxd"
    tifffile.imwrite(other, frames, photometric="minisblack")
    fails(other, "not a .cxd file (no OLE2 compound file header")
    fails(
        _streams_changed(movie_formats, tmp_path / "nocount.cxd", frames,
                         {"File Info/Field Count": None}),
        "no 'File Info/Field Count' stream",
    )
    fails(
        _streams_changed(movie_formats, tmp_path / "empty.cxd", frames,
                         {"File Info/File Has Image": struct.pack("<h", 0)}),
        "holds no image",
    )
    fails(
        _streams_changed(movie_formats, tmp_path / "cut.cxd", frames,
                         {"File Info/Field Count": struct.pack("<i", 9)}),
        "truncated .cxd file: 'File Info/Field Count' says 9 fields (frames), 'Field Data' "
        "holds 8",
    )
    depth = "Field Data/Field 1/i_Image1/Details/Image_Depth"
    fails(
        _streams_changed(movie_formats, tmp_path / "rgb.cxd", frames,
                         {depth: struct.pack("<d", 24)}),
        "colour frames (24-bit RGB)",
    )
    fails(
        _streams_changed(movie_formats, tmp_path / "wide.cxd", frames,
                         {depth: struct.pack("<d", 32)}),
        "32-bit pixels are not read",
    )
    bitmap = "Field Data/Field 5/i_Image1/Bitmap 1"
    fails(
        _streams_changed(movie_formats, tmp_path / "short.cxd", frames,
                         {bitmap: frames[4].tobytes()[:-88]}),
        "corrupt or truncated .cxd file (frame 4's bitmap holds 4136 bytes, the first "
        "frame's 4224)",
    )
    first = "Field Data/Field 1/i_Image1/Bitmap 1"
    fails(
        _streams_changed(movie_formats, tmp_path / "odd.cxd", frames,
                         {first: frames[0].tobytes() + b"\0" * 5}),
        "a frame's bitmap holds 4229 bytes; 44 x 48 pixels of 2 bytes need 4224",
    )
    embedded = io.BytesIO()
    tifffile.imwrite(embedded, np.zeros((48, 60), np.uint16))
    fails(  # a TIFF frame of another shape among TIFF frames
        _streams_changed(movie_formats, tmp_path / "mixed.cxd", frames,
                         {"Field Data/Field 3/i_Image1/Bitmap 1": embedded.getvalue()},
                         embedded_tiff=True),
        "frame 2's TIFF image is (48, 60), the first (48, 44)",
    )
    fails(  # a raw frame among TIFF frames
        _streams_changed(movie_formats, tmp_path / "raw.cxd", frames,
                         {"Field Data/Field 2/i_Image1/Bitmap 1": frames[1].tobytes()},
                         embedded_tiff=True),
        "frame 1's TIFF image: ",
    )
    cut = movie_formats.write_cxd(tmp_path / "cut_short.cxd", frames)
    cut.write_bytes(cut.read_bytes()[:6000])
    fails(cut, "corrupt or truncated .cxd file (")
    looping = movie_formats.write_cxd(tmp_path / "loop.cxd", frames)
    data = bytearray(looping.read_bytes())
    with CompoundFile(looping) as compound:
        bitmap = compound.find("Field Data/Field 2/i_Image1/Bitmap 1")
        start = int(compound.starts[bitmap])
        fat_at = 512 * (int(np.frombuffer(data[76:80], "<u4")[0]) + 1)
    struct.pack_into("<I", data, fat_at + 4 * (start + 3), start)  # its 4th sector: back to 1st
    looping.write_bytes(bytes(data))
    fails(looping, "corrupt or truncated .cxd file", "a chain of sectors loops or breaks")
    lost = "Field Data/Field 1/i_Image1/Details/Image_Width"
    fails(
        _streams_changed(movie_formats, tmp_path / "nowidth.cxd", frames, {lost: None}),
        "its first field gives no 'Image_Width'",
    )


def test_the_command_reads_the_calibration(movie: np.ndarray, movie_formats, tmp_path, capsys):
    widths = movie_formats.widths
    folder = tmp_path / "hcimage"
    movie_formats.write_cxd(folder / "cell_01.cxd", movie, interval_ms=20.0,
                            comments="factor=0.1;um\nmagnification=1;\n")
    out = tmp_path / "psf.h5"
    code = main(["psf", str(folder), "--crop-pix", "21", "-o", str(out)])
    assert code == 0, capsys.readouterr().err
    channel = read_info(out).channels["cell_01"]
    np.testing.assert_allclose([channel.sigx_nm, channel.sigy_nm], widths(movie), rtol=1e-9)
    assert 125 < channel.sigx_nm < 145 and 105 < channel.sigy_nm < 125
    assert main(["inspect", str(folder / "cell_01.cxd")]) == 0
    printed = capsys.readouterr().out
    assert "  format      cxd" in printed and "20" in printed
