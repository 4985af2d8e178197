"""Micro-Manager NDTiff datasets, written by Micro-Manager's own ``ndtiff`` writer: one
movie per dataset (or per channel) whichever of its files is named, through the library,
the command line and discovery."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.infofile import read_info
from smlmlp.loading import list_channels, open_movie
from smlmlp.movie_series import NDTIFF_INDEX, dataset_index, group_movie_paths, group_series
from smlmlp.simulation import simulate_movie
from smlmlp.tiff_movie import tiff_may_hold_channels
from smlmlp_workflow import inspect_experiment

pytest.importorskip("ndtiff")

NAMES = ["Cy5", "Cy3"]


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """``(frames, channels, height, width)``: two channels of distinct random values."""
    return np.random.default_rng(3).integers(0, 60000, (14, 2, 12, 10)).astype(np.uint16)


def _tiffs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.tif"))


def test_one_file_dataset(frames: np.ndarray, movie_formats, tmp_path: Path) -> None:
    folder = movie_formats.write_ndtiff(tmp_path, "cell", frames[:, 0], pixel_um=0.107)
    (path,) = _tiffs(folder)
    assert path.name == "cell_NDTiffStack.tif"
    assert list_channels(path) == () and not tiff_may_hold_channels(path)
    with open_movie(path) as movie:
        assert movie.shape == (14, 12, 10) and movie.metadata["kind"] == "ndtiff"
        np.testing.assert_array_equal(np.asarray(movie), frames[:, 0])
        np.testing.assert_array_equal(movie[3:9], frames[3:9, 0])
        assert movie.metadata["pixel_nm"] == pytest.approx((107.0, 107.0))
        assert movie.metadata["exposure_ms"] == 20.0


def test_dataset_over_several_files_is_one_movie(
    frames: np.ndarray, movie_formats, tmp_path: Path
) -> None:
    """Micro-Manager starts a new file every 4 GB; any of them opens the whole movie,
    and the files are grouped into one movie whose first file opens it."""
    folder = movie_formats.write_ndtiff(tmp_path, "long", frames[:, 1], file_bytes=5_000_600)
    paths = _tiffs(folder)
    assert len(paths) == 14  # one frame per file at this size
    for path in (paths[0], paths[5]):
        with open_movie(path) as movie:
            np.testing.assert_array_equal(np.asarray(movie), frames[:, 1])
            assert sorted(movie.paths) == sorted(str(p) for p in paths)
    names = [p.name for p in paths]
    assert group_series(folder, names[::-1]) == {"long_NDTiffStack.tif": names}
    given = [str(p) for p in paths[3:]] + [str(paths[0])]  # in any order, some left out
    assert group_movie_paths(given) == [[str(p) for p in paths]]
    # one file given: its dataset, named after its first file
    assert group_movie_paths([str(paths[4])]) == [[str(p) for p in paths]]
    assert dataset_index(paths[2]) == str(folder / NDTIFF_INDEX)
    # a plain TIFF beside the dataset is a movie of its own, and has no index
    other = folder / "other.tif"
    other.write_bytes(paths[0].read_bytes())  # a copy, not listed in the index
    assert dataset_index(other) is None
    assert group_series(folder, [*names, "other.tif"])["other.tif"] == ["other.tif"]


def test_channels_named_from_the_index(frames: np.ndarray, movie_formats, tmp_path) -> None:
    folder = movie_formats.write_ndtiff(
        tmp_path, "two", frames, channel_names=NAMES, pixel_um=0.1, exposure_ms=[30.0, 50.0],
        file_bytes=5_002_000,
    )
    path = _tiffs(folder)[0]
    assert tiff_may_hold_channels(path)
    assert list_channels(path) == ("Cy5", "Cy3")
    for index, name in enumerate(NAMES):
        with open_movie(path, channel=name) as movie:
            assert movie.channel == index and movie.metadata["channel"] == name
            np.testing.assert_array_equal(np.asarray(movie), frames[:, index])
            np.testing.assert_array_equal(movie[5:12], frames[5:12, index])
            assert movie.metadata["exposure_ms"] == [30.0, 50.0][index]
            assert movie.metadata["pixel_nm"] == pytest.approx((100.0, 100.0))
    with pytest.raises(ValueError, match=r"two_NDTiffStack.tif: no channel named 'GFP'; "
                       r"the file's channels are 0: Cy5, 1: Cy3"):
        open_movie(path, channel="GFP")


def test_positions_and_channels(movie_formats, tmp_path: Path) -> None:
    """A multi-position acquisition: a movie per channel of each position (``p0_Cy5``,
    ``p0_Cy3``, ``p1_Cy5``, ...), each with its channel's exposure."""
    data = np.random.default_rng(5).integers(0, 60000, (9, 3, 2, 72, 80)).astype(np.uint16)
    folder = movie_formats.write_ndtiff(tmp_path, "multi", data, channel_names=NAMES,
                                        exposure_ms=[30.0, 50.0], positions=3,
                                        file_bytes=5_050_000)
    path = _tiffs(folder)[0]
    assert tiff_may_hold_channels(path)
    names = list_channels(path)
    assert names == tuple(f"p{p}_{c}" for p in range(3) for c in NAMES)
    for index, name in enumerate(names):
        position, channel = divmod(index, 2)
        with open_movie(path, channel=name) as movie:
            np.testing.assert_array_equal(np.asarray(movie), data[:, position, channel], name)
            np.testing.assert_array_equal(movie[2:7], data[2:7, position, channel], name)
            assert movie.metadata["exposure_ms"] == [30.0, 50.0][channel]


def test_stopped_acquisition(frames: np.ndarray, movie_formats, tmp_path: Path) -> None:
    """The last frame's second channel was never written: that channel's movie ends
    one frame earlier (with a warning), the first channel's is whole."""
    folder = movie_formats.write_ndtiff(tmp_path, "cut", frames, channel_names=NAMES,
                                        missing_last=1)
    path = _tiffs(folder)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_movie(path, channel="Cy5") as movie:
            np.testing.assert_array_equal(np.asarray(movie), frames[:, 0])
    with pytest.warns(UserWarning, match=r"cut_NDTiffStack.tif \[channel Cy3\]: the acquisition "
                      r"stopped early: the last 1 of the dataset's 14 frames were not written; "
                      r"the first 13 are read"):
        movie = open_movie(path, channel="Cy3")
    with movie:
        assert movie.shape == (13, 12, 10)
        np.testing.assert_array_equal(np.asarray(movie), frames[:13, 1])


def test_a_file_missing_in_the_middle_is_an_error(
    frames: np.ndarray, movie_formats, tmp_path: Path
) -> None:
    folder = movie_formats.write_ndtiff(tmp_path, "gap", frames[:, 0], file_bytes=5_000_600)
    os.remove(folder / "gap_NDTiffStack_4.tif")
    with pytest.raises(ValueError, match=r"gap_NDTiffStack.tif: .*(missing|No such file)"):
        with open_movie(folder / "gap_NDTiffStack.tif") as movie:
            np.asarray(movie)


@pytest.fixture(scope="module")
def two_cameras(movie_formats, tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A two-channel dataset over several files of two simulated cameras' movies."""
    movies = [
        simulate_movie(300, (32, 32), sigx_nm=130.0, sigy_nm=120.0, seed=21)[0],
        simulate_movie(300, (32, 32), sigx_nm=150.0, seed=22)[0],
    ]
    both = np.stack(movies, axis=1)
    folder = movie_formats.write_ndtiff(
        tmp_path_factory.mktemp("ndtiff"), "cells", both, channel_names=NAMES, pixel_um=0.1,
        file_bytes=5_200_000,
    )
    return folder, both


def test_psf_of_each_channel_is_its_movies(two_cameras) -> None:
    folder, both = two_cameras
    path = _tiffs(folder)[0]
    for index, name in enumerate(NAMES):
        with open_movie(path, channel=name) as movie:
            from_file, _ = blink_spatial_psf([movie], 21, channels_pixels_nm=100.0)
        in_memory, _ = blink_spatial_psf([both[:, index]], 21, channels_pixels_nm=100.0)
        assert from_file == in_memory  # the same frames: the same bits


def test_command_line_takes_the_dataset_once(two_cameras, tmp_path, capsys) -> None:
    """``smlmlp psf folder/*.tif``: every file of the dataset given, one row per channel,
    the library's widths."""
    folder, both = two_cameras
    paths = _tiffs(folder)
    assert len(paths) > 2
    out = tmp_path / "info.h5"
    assert main(["psf", *map(str, paths[::-1]), "-o", str(out), "--quiet", "--crop-pix", "21"]) == 0
    info = read_info(out)
    assert sorted(info.channels) == ["cells_NDTiffStack_Cy3", "cells_NDTiffStack_Cy5"]
    for index, name in enumerate(NAMES):
        channel = info.channels[f"cells_NDTiffStack_{name}"]
        assert channel.attrs["file_channel"] == name
        assert sorted(Path(p).name for p in channel.source_files) == [p.name for p in paths]
        _, expected = blink_spatial_psf([both[:, index]], 21, channels_pixels_nm=100.0)
        np.testing.assert_allclose(
            [channel.sigx_nm, channel.sigy_nm], [expected["sigx"][0], expected["sigy"][0]],
            rtol=1e-9,
        )
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [row for row in rows if row[1:] == ["300"]] == [  # the table: one row a channel
        ["cells_NDTiffStack_Cy5", "300"], ["cells_NDTiffStack_Cy3", "300"]
    ]


def test_discovery_makes_a_channel_of_each(two_cameras) -> None:
    folder, _ = two_cameras
    experiment = inspect_experiment(folder)
    assert experiment.ok, experiment.problem
    assert sorted(experiment.channels) == ["cells_NDTiffStack_Cy3", "cells_NDTiffStack_Cy5"]
    channel = experiment.channels["cells_NDTiffStack_Cy3"]
    assert channel.file_channel == 1
    names = [Path(f).name for f in channel.files]
    assert names == [p.name for p in _tiffs(folder)] + [NDTIFF_INDEX]


def test_inspect_names_the_movie_after_the_first_file(two_cameras, capsys) -> None:
    folder, _ = two_cameras
    assert main(["inspect", str(_tiffs(folder)[3])]) == 0
    out = capsys.readouterr().out
    assert "format      ndtiff, axes TCYX" in out and "pixel size  100 x 100 nm" in out
    assert "2: Cy5, Cy3 (smlmlp psf names them cells_NDTiffStack_Cy5, cells_NDTiffStack_Cy3)" in out


def test_command_line_takes_the_dataset_folder(two_cameras, tmp_path, capsys) -> None:
    """``smlmlp psf FOLDER`` and ``smlmlp inspect FOLDER`` of a dataset's folder: the
    dataset, as when its files are given; a folder that holds none is refused."""
    folder, _ = two_cameras
    by_files, by_folder = tmp_path / "files.h5", tmp_path / "folder.h5"
    options = ["--quiet", "--crop-pix", "21"]
    assert main(["psf", *map(str, _tiffs(folder)), "-o", str(by_files), *options]) == 0
    assert main(["psf", str(folder), "-o", str(by_folder), *options]) == 0
    files, dataset = read_info(by_files), read_info(by_folder)
    assert sorted(dataset.channels) == ["cells_NDTiffStack_Cy3", "cells_NDTiffStack_Cy5"]
    for name, channel in files.channels.items():
        assert dataset.channels[name].sigx_nm == channel.sigx_nm
        assert dataset.channels[name].source_files == channel.source_files
    capsys.readouterr()
    assert main(["inspect", str(folder)]) == 0
    assert "(smlmlp psf names them cells_NDTiffStack_Cy5, cells_NDTiffStack_Cy3)" in (
        capsys.readouterr().out
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["inspect", str(empty)]) == 1
    assert f"{empty}: no movie in this folder (movie files: .tif/.tiff," in (
        capsys.readouterr().err
    )
    assert main(["psf", str(empty), "--pixel-nm", "100", "-o", str(tmp_path / "no.h5")]) != 0
    assert f"{empty}: no movie in this folder" in capsys.readouterr().err
    assert not (tmp_path / "no.h5").exists()
