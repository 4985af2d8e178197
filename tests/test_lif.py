"""Leica ``.lif`` projects, read without a library: the frames of every image of one
frame axis, each channel a movie, their pixel size and frame interval, and one line for
every file that holds no movie or is cut short."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.infofile import read_info
from smlmlp.lif_movie import lif_left_out
from smlmlp.loading import list_channels, open_movie
from smlmlp.simulation import simulate_movie


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    frames, _ = simulate_movie(
        300, (32, 40), sigx_nm=125.0, sigy_nm=140.0, seed=31, pixel_nm=100.0,
        photons=2000.0, background=20.0, on_density_per_um2=0.5,
    )
    return frames


def _sigmas(stack) -> list[float]:
    _, info = blink_spatial_psf([stack], 21, channels_pixels_nm=100.0, chunk_frames=64)
    return [float(info["sigx"][0]), float(info["sigy"][0])]


def _one_line(error: BaseException, *words: str) -> str:
    text = str(error)
    assert "\n" not in text, text
    for word in words:
        assert word in text, text
    return text


@pytest.mark.parametrize("version", [1, 2])
def test_the_frames_widths_and_metadata(version, movie, movie_formats, tmp_path) -> None:
    """A project of a snapshot and a movie: the movie is read, with its pixel size
    (Length / (count - 1) of x and y) and frame interval, and gives the TIFF's widths."""
    tiff = tmp_path / "movie.tif"
    tifffile.imwrite(tiff, movie, photometric="minisblack")
    path = movie_formats.write_lif(
        tmp_path / "gsd.lif", movie, pixel_nm=107.0, interval_ms=10.0, version=version
    )
    assert list_channels(path) == ()  # the snapshot is no movie: one movie in the file
    with open_movie(path) as lif, open_movie(tiff) as plain:
        assert lif.shape == movie.shape and lif.dtype == np.uint16
        np.testing.assert_array_equal(lif[123:190], movie[123:190])
        assert lif.metadata["pixel_nm"] == pytest.approx((107.0, 107.0), rel=1e-5)
        assert lif.metadata["exposure_ms"] == pytest.approx(10.0, rel=1e-5)
        assert lif.metadata["axes"] == "TYX" and lif.metadata["image"] == "Series001"
        np.testing.assert_allclose(_sigmas(lif), _sigmas(plain), rtol=1e-9)


def test_images_and_channels_are_the_movies(movie, movie_formats, tmp_path) -> None:
    """Every channel of every image of frames is a movie, named after the image (its
    path when two share a name) and the channel."""
    both = np.stack([movie[:40], movie[100:140]], axis=1)  # frames, channels, y, x
    path = movie_formats.write_lif(tmp_path / "two.lif", both, names=["cell 1", "cell 2"])
    names = ("cell_1_c0", "cell_1_c1", "cell_2_c0", "cell_2_c1")
    assert list_channels(path) == names
    for name in names:
        with open_movie(path, channel=name) as lif:
            expected = movie[100:140] if name.endswith("c1") else movie[:40]
            np.testing.assert_array_equal(np.asarray(lif), expected)
            assert lif.metadata["channel"] == name
    with pytest.raises(ValueError) as caught:
        open_movie(path, channel="cell_3")
    _one_line(caught.value, str(path), "cell_3")
    # one image of two channels: named after the channels alone
    one = movie_formats.write_lif(tmp_path / "one.lif", both, snapshot=False)
    assert list_channels(one) == ("c0", "c1")


@pytest.mark.parametrize(
    ("exposures", "sequential", "expected"),
    [
        (["0.0095"], False, [9.5, 9.5]),  # one for every channel, in seconds
        (["0.02", "30 ms"], False, [20.0, 30.0]),  # one per channel, with a unit
        (["0.02", "0.03"], True, [20.0, 30.0]),  # a sequential acquisition's steps
        (["n/a", "0"], False, [12.0, 12.0]),  # no usable time: the frame interval
    ],
)
def test_the_camera_exposure_of_each_channel(
    exposures, sequential, expected, movie, movie_formats, tmp_path
) -> None:
    """A camera system's hardware settings give each channel's exposure, which is read
    before the frame interval (12 ms here)."""
    both = np.stack([movie[:30], movie[100:130]], axis=1)
    path = movie_formats.write_lif(
        tmp_path / "gsd.lif", both, interval_ms=12.0, exposures=exposures, sequential=sequential
    )
    for channel, exposure in zip(("c0", "c1"), expected, strict=True):
        with open_movie(path, channel=channel) as lif:
            assert lif.metadata["exposure_ms"] == pytest.approx(exposure, rel=1e-9)


@pytest.mark.parametrize("memory_element", [True, False])
def test_lof_object_files(memory_element, movie, movie_formats, tmp_path, capsys) -> None:
    """LAS X's ``.lof`` (one image, its memory block before its XML) reads as a .lif's
    image does, with its pixel size and interval; the command names it after the file."""
    path = movie_formats.write_lof(
        tmp_path / "cell 3.lof", movie, pixel_nm=108.0, interval_ms=20.0,
        memory_element=memory_element,
    )
    tiff = tmp_path / "movie.tif"
    tifffile.imwrite(tiff, movie, photometric="minisblack")
    with open_movie(path) as lof, open_movie(tiff) as plain:
        np.testing.assert_array_equal(lof[50:90], movie[50:90])
        assert lof.metadata["kind"] == "lof" and lof.metadata["image"] == "cell 3"
        assert lof.metadata["pixel_nm"] == pytest.approx((108.0, 108.0), rel=1e-9)
        assert lof.metadata["exposure_ms"] == pytest.approx(20.0, rel=1e-9)
        np.testing.assert_allclose(_sigmas(lof), _sigmas(plain), rtol=1e-9)
    cut = tmp_path / "cut.lof"
    cut.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError) as caught:
        open_movie(cut)
    _one_line(caught.value, str(cut), "corrupt or truncated .lof file")


def test_z_stack_is_a_movie_of_z(movie, movie_formats, tmp_path) -> None:
    path = movie_formats.write_lif(tmp_path / "z.lif", movie[:20], frame_axis="z")
    with open_movie(path) as lif:
        assert lif.metadata["axes"] == "ZYX" and lif.metadata["exposure_ms"] is None
        np.testing.assert_array_equal(np.asarray(lif), movie[:20])


def test_files_without_a_movie(movie, movie_formats, tmp_path) -> None:
    """A project of snapshots only, or of a z stack in time, is no movie: one line
    naming the file and its images; left out of an experiment folder with that line."""
    from smlmlp_workflow.discovery import inspect_experiment

    folder = tmp_path / "exp"
    movie_formats.write_lif(folder / "cells.lif", movie)
    snap = movie_formats.write_lif(folder / "overview.lif", movie[:1])
    why = "a Leica .lif file without a movie (Snapshot: one image (32 x 40); Series001: one image"
    assert lif_left_out(snap).startswith(why)
    with pytest.raises(ValueError) as caught:
        open_movie(snap)
    _one_line(caught.value, str(snap), "no movie in this .lif file (Snapshot: one image (32 x 40)")
    experiment = inspect_experiment(folder)
    assert experiment.ok, experiment.problem
    assert list(experiment.channels) == ["cells"]
    assert experiment.left_out["overview.lif"].startswith(why)
    assert lif_left_out(folder / "cells.lif") is None


@pytest.mark.parametrize(("keep", "words"), [
    (0.6, ["truncated .lif file: Series001 needs", "of its memory block MemBlock_3"]),
    (0.004, ["corrupt or truncated .lif file", "one cut short or corrupt"]),
])
def test_cut_short_one_line(keep, words, movie, movie_formats, tmp_path) -> None:
    path = movie_formats.write_lif(tmp_path / "cut.lif", movie)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), *words)


def test_command_reads_the_pixel_size_from_the_file(movie, movie_formats, tmp_path, capsys):
    path = movie_formats.write_lif(tmp_path / "gsd.lif", movie, pixel_nm=100.0)
    out = tmp_path / "psf.h5"
    assert main(["psf", str(path), "--crop-pix", "21", "-q", "-o", str(out)]) == 0
    channel = read_info(out).channels["gsd"]
    assert channel.attrs["pixel_nm_origin"] == "movie file metadata"
    with open_movie(path) as lif:
        np.testing.assert_allclose([channel.sigx_nm, channel.sigy_nm], _sigmas(lif), rtol=1e-6)
    assert main(["inspect", str(path)]) == 0
    assert "  format      lif (image Series001), axes TYX" in capsys.readouterr().out
