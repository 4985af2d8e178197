"""Movie files of several channels: each channel read as its own movie, in every layout
and format that holds channels, through the library, the command line and discovery."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.infofile import read_info
from smlmlp.loading import list_channels, open_movie, split_movie
from smlmlp.simulation import simulate_movie
from smlmlp_workflow import inspect_experiment

NAMES = ["Cy5", "Cy3"]


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """``(frames, channels, height, width)``: three channels of distinct random values."""
    return np.random.default_rng(7).integers(0, 60000, (15, 3, 12, 10)).astype(np.uint16)


def _tiff_layouts(folder: Path, frames: np.ndarray) -> dict[str, tuple[Path, bool]]:
    """Every TIFF layout of channels: name -> (file, whether frames are read by seek)."""
    across = np.ascontiguousarray(frames.transpose(1, 0, 2, 3))
    ome = {"axes": "TCYX", "Channel": {"Name": ["a", "b", "c"]}}
    layouts = {
        "imagej": (dict(imagej=True, metadata={"axes": "TCYX"}), frames, True),
        "ome": (dict(metadata=ome), frames, True),
        "ome_channels_first": (dict(metadata={"axes": "CTYX"}), across, True),
        "ome_deflated": (dict(metadata=ome, compression="zlib"), frames, False),
        "ome_tiled": (dict(metadata=ome, tile=(16, 16)), frames, False),
        "bigtiff_big_endian": (dict(metadata=ome, bigtiff=True), frames.astype(">u2"), True),
    }
    paths = {}
    for name, (options, data, fast) in layouts.items():
        path = folder / f"{name}.ome.tif"
        tifffile.imwrite(path, data, **options)
        paths[name] = (path, fast)
    return paths


def test_every_tiff_layout_reads_each_channel(frames: np.ndarray, tmp_path: Path) -> None:
    for name, (path, fast) in _tiff_layouts(tmp_path, frames).items():
        names = list_channels(path)
        assert names == (("c0", "c1", "c2") if name in ("imagej", "ome_channels_first")
                         else ("a", "b", "c")), name
        for index, channel in enumerate(names):
            for asked in (index, channel):
                with open_movie(path, channel=asked) as movie:
                    assert movie.shape == (15, 12, 10) and movie.fast_path is fast, name
                    assert movie.channel == index and movie.channel_names == names
                    assert movie.metadata["channel"] == channel
                    np.testing.assert_array_equal(movie[4:11], frames[4:11, index], name)
                    np.testing.assert_array_equal(movie[14], frames[14, index], name)
                    np.testing.assert_array_equal(np.asarray(movie), frames[:, index], name)
                    if fast:  # only this channel's frames are read from disk
                        before = movie._stats["bytes_read"]
                        movie[2:9]
                        assert movie._stats["bytes_read"] - before == 7 * 12 * 10 * 2


def test_channel_must_be_named_and_exist(frames: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "three.ome.tif"
    tifffile.imwrite(path, frames, metadata={"axes": "TCYX"})
    with pytest.raises(ValueError, match=r"three.ome.tif: the file holds 3 channels "
                       r"\(0: c0, 1: c1, 2: c2\); open one of them"):
        open_movie(path)
    with pytest.raises(ValueError, match=r"three.ome.tif: no channel 3; the file's channels"):
        open_movie(path, channel=3)
    with pytest.raises(ValueError, match=r"three.ome.tif: no channel named 'GFP'"):
        open_movie(path, channel="GFP")
    with pytest.raises(ValueError, match=r"three.ome.tif \[channel c1\]: truncated TIFF file: "
                       r"frame 2 ends at byte 2144 but the file has 2000 bytes"):
        with open_movie(path, channel=1) as movie:
            path.write_bytes(path.read_bytes()[:2000])  # truncated under the reader
            movie[0:15]
    one = tmp_path / "one.tif"
    tifffile.imwrite(one, frames[:, 0])
    assert list_channels(one) == ()
    with open_movie(one, channel=0) as movie:  # a file of one channel takes 0
        np.testing.assert_array_equal(movie[:], frames[:, 0])
    with pytest.raises(ValueError, match="one.tif: no channel 1; the file's channels are 0: c0"):
        open_movie(one, channel=1)


def test_files_of_a_list_share_their_channels(frames: np.ndarray, tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.ome.tif", tmp_path / "b.ome.tif", tmp_path / "c.tif"
    for path, part in ((first, frames[:8]), (second, frames[8:])):
        tifffile.imwrite(path, part, metadata={"axes": "TCYX"})
    with open_movie([first, second], channel=2) as movie:
        np.testing.assert_array_equal(movie[5:12], frames[5:12, 2])
    tifffile.imwrite(other, frames[:, 0])
    with pytest.raises(ValueError, match=r"its channels none do not match the first file"):
        open_movie([first, other], channel=0)


def test_each_channel_its_own_exposure(frames: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "timed.ome.tif"
    exposures = [20.0, 30.0, 50.0] * 15  # every frame's planes c0, c1, c2 in order
    tifffile.imwrite(path, frames, metadata={
        "axes": "TCYX", "PhysicalSizeX": 0.108, "PhysicalSizeY": 0.108,
        "Plane": {"ExposureTime": [e / 1000 for e in exposures], "ExposureTimeUnit": ["s"] * 45},
    })
    for index, exposure in enumerate((20.0, 30.0, 50.0)):
        with open_movie(path, channel=index) as movie:
            assert movie.metadata["exposure_ms"] == pytest.approx(exposure)
            assert movie.metadata["pixel_nm"] == pytest.approx((108.0, 108.0))


def test_names_from_the_metadata_when_usable(frames: np.ndarray, tmp_path: Path) -> None:
    for given, expected in (
        (["Alexa 647", "CF 568", "GFP"], ("Alexa_647", "CF_568", "GFP")),
        (["GFP", "GFP", "RFP"], ("c0", "c1", "c2")),  # repeated
        (["a/b", "c", "d"], ("c0", "c1", "c2")),  # a slash
    ):
        path = tmp_path / "named.ome.tif"
        tifffile.imwrite(path, frames, metadata={"axes": "TCYX", "Channel": {"Name": given}})
        assert list_channels(path) == expected


@pytest.mark.parametrize("kind", ["ims", "zarr", "czi", "nd2", "cxd"])
def test_other_formats_with_channels(kind, frames: np.ndarray, movie_formats, tmp_path) -> None:
    package = {"ims": "h5py", "zarr": "zarr", "czi": "pylibCZIrw", "nd2": "nd2", "cxd": "numpy"}
    package = package[kind]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")
    suffix, writer = movie_formats.WRITERS[kind]
    path = tmp_path / f"three{suffix}"
    names = ("FITC", "TRITC", "Cy5")
    if kind == "nd2":  # channels interleaved in each frame, named by the writer
        writer(path, np.moveaxis(frames, 1, -1), channels=3, exposure_ms=[20.0, 30.0, 50.0])
        names = ("channel_0", "channel_1", "channel_2")
        with open_movie(path, channel=2) as movie:  # each channel's own exposure
            assert movie.metadata["exposure_ms"] == pytest.approx(50.0)
    elif kind == "cxd":  # HCImage's images of a frame, unnamed
        writer(path, frames[:, 0], channels=[frames[:, 1], frames[:, 2]])
        names = ("c0", "c1", "c2")
    else:
        writer(path, frames, channel_names=list(names))
    assert list_channels(path) == names
    for index, name in enumerate(names):
        with open_movie(path, channel=name) as movie:
            assert movie.shape == (15, 12, 10) and movie.metadata["channel"] == name
            np.testing.assert_array_equal(movie[3:13], frames[3:13, index])
    with pytest.raises(ValueError, match=f"three{suffix}: the file holds 3 channels"):
        open_movie(path)


def _positions(path: Path, frames: np.ndarray) -> None:
    """A multi-position OME-TIFF as Bio-Formats exports one: an image series per
    position (one with two channels), and a thumbnail."""
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(frames[:, 0], metadata={"axes": "TYX", "Name": "Pos 0",
                                          "PhysicalSizeX": 0.1, "PhysicalSizeY": 0.1})
        tif.write(frames[:9, 1], metadata={"axes": "TYX", "Name": "Pos1", "PhysicalSizeX": 0.2,
                                           "PhysicalSizeY": 0.2,
                                           "Plane": {"ExposureTime": [0.03] * 9}})
        tif.write(frames[:, 1:], metadata={"axes": "TCYX", "Name": "Pos2",
                                           "Channel": {"Name": ["Cy5", "Cy3"]}})
        tif.write(frames[0, 0], metadata={"axes": "YX", "Name": "thumbnail"})


def test_image_series_of_an_ome_tiff_are_its_movies(frames: np.ndarray, tmp_path) -> None:
    """Each image series of frames is a movie of the file (each channel of one with a
    C axis too), named after its OME Image, with its own metadata; the thumbnail is
    no movie."""
    path = tmp_path / "positions.ome.tif"
    _positions(path, frames)
    names = ("Pos_0", "Pos1", "Pos2_Cy5", "Pos2_Cy3")
    assert list_channels(path) == names
    expected = [frames[:, 0], frames[:9, 1], frames[:, 1], frames[:, 2]]
    for index, name in enumerate(names):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the other series are not "left out"
            movie = open_movie(path, channel=name)
        with movie:
            assert movie.channel == index and movie.channel_names == names
            assert movie.metadata["channel"] == name and movie.fast_path
            np.testing.assert_array_equal(np.asarray(movie), expected[index], name)
            np.testing.assert_array_equal(movie[3:7], expected[index][3:7], name)
    with open_movie(path, channel=1) as movie:
        assert movie.metadata["pixel_nm"] == pytest.approx((200.0, 200.0))
        assert movie.metadata["exposure_ms"] == pytest.approx(30.0)
    with open_movie(path, channel=0) as movie:
        assert movie.metadata["pixel_nm"] == pytest.approx((100.0, 100.0))
    with pytest.raises(ValueError, match=r"positions.ome.tif: the file holds 4 channels \(0: "
                       r"Pos_0, 1: Pos1, 2: Pos2_Cy5, 3: Pos2_Cy3\); open one of them"):
        open_movie(path)
    experiment = inspect_experiment(tmp_path)  # discovery: a channel of each
    assert experiment.ok, experiment.problem
    assert sorted(experiment.channels) == sorted(f"positions_{name}" for name in names)
    assert experiment.channels["positions_Pos1"].file_channel == 1


@pytest.mark.skipif(not importlib.util.find_spec("zarr"), reason="zarr missing")
def test_images_of_a_bioformats2raw_folder_are_its_movies(
    frames: np.ndarray, movie_formats, tmp_path: Path, capsys
) -> None:
    """OME-Zarr as bioformats2raw writes it (images in 0/, 1/, ...): one image is the
    movie; several are the folder's movies (each channel of one with a c axis), named
    after OME/METADATA.ome.xml's images (else s0, s1, ...), each with its pixel size;
    the command line measures each."""
    write = movie_formats.write_bioformats2raw
    one = write(tmp_path / "one.zarr", [frames[:, 0]], pixel_nm=[107.0])
    assert list_channels(one) == ()
    with open_movie(one) as movie:
        assert movie.metadata["pixel_nm"] == pytest.approx((107.0, 107.0))
        np.testing.assert_array_equal(np.asarray(movie), frames[:, 0])
    several = [frames[:, 0], frames[:9, 1:]]
    names = ("Pos_0", "Pos1_Cy5", "Pos1_Cy3")
    expected = [frames[:, 0], frames[:9, 1], frames[:9, 2]]
    path = write(tmp_path / "positions.zarr", several, names=["Pos 0", "Pos1"],
                 pixel_nm=[100.0, 200.0], channel_names=[None, NAMES])  # fmt: skip
    assert list_channels(path) == names
    for index, name in enumerate(names):
        with open_movie(path, channel=name) as movie:
            assert movie.channel == index and movie.metadata["channel"] == name
            np.testing.assert_array_equal(movie[2:8], expected[index][2:8], name)
            assert movie.metadata["pixel_nm"][0] == pytest.approx(200.0 if index else 100.0)
    with pytest.raises(ValueError, match=r"positions.zarr: the file holds 3 channels"):
        open_movie(path)
    numbered = write(tmp_path / "numbered.zarr", several)  # no OME-XML
    assert list_channels(numbered) == ("s0", "s1_c0", "s1_c1")
    labelled = write(tmp_path / "labelled.zarr", [frames[:, 0], frames[:1, 1]])  # + a plane
    assert list_channels(labelled) == ()
    with open_movie(labelled) as movie:
        np.testing.assert_array_equal(np.asarray(movie), frames[:, 0])
    listed = write(tmp_path / "listed.zarr", several, names=["a", "b"], series=True)
    assert list_channels(listed) == ("a", "b_c0", "b_c1")  # the OME group's series
    with open_movie(listed, channel="b_c1") as movie:
        np.testing.assert_array_equal(np.asarray(movie), frames[:9, 2])
    experiment = inspect_experiment(tmp_path)  # discovery: a channel of each
    assert experiment.ok, experiment.problem
    assert "positions_Pos1_Cy3" in experiment.channels and "one" in experiment.channels
    # a root marked as bioformats2raw's without any image
    empty = tmp_path / "empty" / "empty.zarr"
    write(empty, [])
    with pytest.raises(ValueError, match=r"empty.zarr: an OME-Zarr folder of bioformats2raw"):
        open_movie(empty)
    # the command: a channel of each movie, named after the folder and the image
    movie, _ = simulate_movie(200, (32, 32), sigx_nm=130.0, seed=4)
    two = write(tmp_path / "cmd" / "cells.zarr", [movie, movie[:150]], names=["A", "B"],
                pixel_nm=[100.0, 100.0])  # fmt: skip
    out = tmp_path / "cells.h5"
    status = main(["psf", str(two), "-q", "--crop-pix", "15", "-o", str(out)])
    assert status == 0, capsys.readouterr().err
    channels = read_info(out).channels
    assert list(channels) == ["cells_A", "cells_B"]
    assert [channels[name].n_frames for name in channels] == [200, 150]


def test_truncated_file_of_image_series_says_so(frames: np.ndarray, tmp_path, capfd) -> None:
    """A multi-position OME-TIFF cut before its OME-XML (written at the end) is told
    truncated by list_channels, without tifffile's own log on stderr, and so is an
    experiment.yaml entry that names one of its positions (was: "one channel only")."""
    path = tmp_path / "positions.ome.tif"
    _positions(path, frames)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    capfd.readouterr()
    with pytest.raises(ValueError, match=r"positions.ome.tif: corrupt or truncated TIFF file"):
        list_channels(path)
    assert capfd.readouterr().err == ""
    entry = {"file": "positions.ome.tif", "file_channel": "Pos1"}
    (tmp_path / "experiment.yaml").write_text(yaml.safe_dump({"channels": {"Pos1": entry}}))
    experiment = inspect_experiment(tmp_path)
    assert not experiment.ok
    assert "channels.Pos1.file_channel:" in experiment.problem
    assert "positions.ome.tif: corrupt or truncated TIFF file" in experiment.problem


@pytest.mark.skipif(not importlib.util.find_spec("pylibCZIrw"), reason="pylibCZIrw missing")
def test_czi_scenes_are_movies(frames: np.ndarray, movie_formats, tmp_path: Path) -> None:
    """Each scene (position) of a .czi is a movie of its own field, per channel (the
    mosaic of all the scenes was read before, gaps included)."""
    other = np.ascontiguousarray(frames[:, :, :8, :7])  # another field size
    path = movie_formats.write_czi(tmp_path / "scenes.czi", [frames[:, :2], other[:, :2]],
                                   channel_names=NAMES, pixel_nm=100.0)
    names = ("s0_Cy5", "s0_Cy3", "s1_Cy5", "s1_Cy3")
    assert list_channels(path) == names
    expected = [frames[:, 0], frames[:, 1], other[:, 0], other[:, 1]]
    for index, name in enumerate(names):
        with open_movie(path, channel=name) as movie:
            assert movie.metadata["channel"] == name
            assert movie.metadata["pixel_nm"] == pytest.approx((100.0, 100.0))
            np.testing.assert_array_equal(np.asarray(movie), expected[index], name)
            np.testing.assert_array_equal(movie[5:9], expected[index][5:9], name)
    one = movie_formats.write_czi(tmp_path / "one.czi", [frames[:, 0], other[:, 0]])
    assert list_channels(one) == ("s0", "s1")
    with open_movie(one, channel="s1") as movie:
        np.testing.assert_array_equal(np.asarray(movie), other[:, 0])


@pytest.mark.skipif(not importlib.util.find_spec("nd2"), reason="nd2 missing")
def test_nd2_positions_are_movies(frames: np.ndarray, movie_formats, tmp_path: Path) -> None:
    """A multi-point .nd2: a movie per channel of each point, named after the points,
    its frames read from the sequence; one stopped before its planned time points:
    each position the frames acquired."""
    points = np.ascontiguousarray(frames[:, :, None].repeat(2, axis=2))  # t, p, c, y, x
    points[:, :, 1] += 7
    path = movie_formats.write_nd2(tmp_path / "points.nd2", points.transpose(0, 1, 3, 4, 2),
                                   channels=2, position_names=["A 1", "B2", "C3"],
                                   exposure_ms=[30.0, 50.0])
    names = list_channels(path)
    assert names == ("A_1_channel_0", "A_1_channel_1", "B2_channel_0", "B2_channel_1",
                     "C3_channel_0", "C3_channel_1")
    for index, name in enumerate(names):
        position, channel = divmod(index, 2)
        with open_movie(path, channel=name) as movie:
            assert movie.shape == (15, 12, 10)
            assert movie.metadata["exposure_ms"] == [30.0, 50.0][channel]
            np.testing.assert_array_equal(np.asarray(movie), frames[:, position] + 7 * channel)
            np.testing.assert_array_equal(movie[4:9], frames[4:9, position] + 7 * channel)
    stopped = movie_formats.write_nd2(tmp_path / "stopped.nd2", frames,  # 20 planned
                                      position_names=["A1", "B2", "C3"], planned_frames=60)
    assert list_channels(stopped) == ("A1", "B2", "C3")
    with open_movie(stopped, channel="C3") as movie:
        np.testing.assert_array_equal(np.asarray(movie), frames[:, 2])


@pytest.mark.parametrize("axes", ["RTCYX", "TRCYX", "CRTYX", "TCRYX"])
def test_positions_beside_channels(axes: str, tmp_path: Path) -> None:
    """A position axis R (a Micro-Manager multi-position acquisition) in any order
    with the frames and channels: a movie per channel of each position, position
    first; read by one seek per frame where contiguous."""
    data = np.random.default_rng(2).integers(0, 60000, (3, 7, 2, 8, 10)).astype(np.uint16)
    order = ["RTC".index(axis) for axis in axes[:-2]] + [3, 4]
    path = tmp_path / "positions.tif"
    tifffile.imwrite(path, np.ascontiguousarray(data.transpose(order)), metadata={"axes": axes},
                     photometric="minisblack")
    names = list_channels(path)
    assert names == ("p0_c0", "p0_c1", "p1_c0", "p1_c1", "p2_c0", "p2_c1")
    for index, name in enumerate(names):
        position, channel = divmod(index, 2)
        with open_movie(path, channel=name) as movie:
            assert movie.shape == (7, 8, 10) and movie.fast_path
            np.testing.assert_array_equal(np.asarray(movie), data[position, :, channel], name)
            np.testing.assert_array_equal(movie[4], data[position, 4, channel], name)
    path = tmp_path / "only_positions.tif"
    tifffile.imwrite(path, data[:, :, 0], metadata={"axes": "RTYX"})
    assert list_channels(path) == ("p0", "p1", "p2")
    with open_movie(path, channel="p1") as movie:
        np.testing.assert_array_equal(np.asarray(movie), data[1, :, 0])


def test_image_series_named_alike_are_numbered(frames: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "alike.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(frames[:, 0], metadata={"axes": "TYX", "Name": "XY"})
        tif.write(frames[:, 1], metadata={"axes": "TYX", "Name": "XY"})
    assert list_channels(path) == ("s0", "s1")
    with open_movie(path, channel="s1") as movie:
        np.testing.assert_array_equal(np.asarray(movie), frames[:, 1])


@pytest.fixture(scope="module")
def two_cameras(tmp_path_factory) -> tuple[Path, list[np.ndarray], list[dict]]:
    """An OME-TIFF of two channels of distinct PSFs (truth known), and each channel."""
    folder = tmp_path_factory.mktemp("two_cameras")
    movies, truths = [], []
    for seed, (sigx, sigy) in ((1, (120.0, 120.0)), (2, (160.0, 135.0))):
        movie, truth = simulate_movie(
            1000, (48, 48), sigx_nm=sigx, sigy_nm=sigy, photons=2000.0, background=20.0,
            on_density_per_um2=0.5, seed=seed,
        )
        movies.append(movie)
        truths.append(truth)
    path = folder / "two.ome.tif"
    tifffile.imwrite(path, np.stack(movies, axis=1), metadata={
        "axes": "TCYX", "Channel": {"Name": NAMES}, "PhysicalSizeX": 0.1, "PhysicalSizeY": 0.1,
    })
    return path, movies, truths


def test_psf_of_each_channel_is_its_movies(two_cameras) -> None:
    """The same bits as each channel's frames in memory, and the truth of each."""
    path, movies, truths = two_cameras
    with open_movie(path, channel="Cy5") as red, open_movie(path, channel="Cy3") as green:
        lazy, lazy_info = blink_spatial_psf([red, green], 21)
    memory, memory_info = blink_spatial_psf(movies, 21)
    np.testing.assert_array_equal(lazy, memory)
    np.testing.assert_array_equal(lazy_info["sigx"], memory_info["sigx"])
    for index, truth in enumerate(truths):
        assert lazy_info["sigx"][index] == pytest.approx(truth["sigx_nm"], rel=0.04)
        assert lazy_info["sigy"][index] == pytest.approx(truth["sigy_nm"], rel=0.04)


def test_command_line_measures_every_channel(two_cameras, tmp_path, capsys) -> None:
    path, movies, _ = two_cameras
    out = tmp_path / "info.h5"
    assert main(["psf", str(path), "-q", "--crop-pix", "21", "-o", str(out)]) == 0
    channels = read_info(out).channels
    assert list(channels) == ["two_Cy5", "two_Cy3"]
    _, info = blink_spatial_psf(movies, 21)
    for index, name in enumerate(channels):
        assert channels[name].attrs["file_channel"] == NAMES[index]
        assert channels[name].pixel_nm == pytest.approx((100.0, 100.0))
        np.testing.assert_allclose(
            [channels[name].sigx_nm, channels[name].sigy_nm],
            [info["sigx"][index], info["sigy"][index]],
            rtol=1e-9,
        )
    assert "two_Cy3" in capsys.readouterr().out
    split = tmp_path / "split.h5"
    command = ["psf", str(path), "-q", "--split", "vertical", "--crop-pix", "11"]
    assert main([*command, "-o", str(split)]) == 0
    assert list(read_info(split).channels) == [
        "two_Cy5_top", "two_Cy5_bottom", "two_Cy3_top", "two_Cy3_bottom"
    ]
    with open_movie(path, channel=1) as movie:
        bottom = split_movie(movie, "vertical")[1]
        _, info = blink_spatial_psf([bottom], 11)
    assert read_info(split).channels["two_Cy3_bottom"].sigx_nm == pytest.approx(
        info["sigx"][0], rel=1e-9
    )


def _experiment(folder: Path, frames: np.ndarray, settings: dict | None = None):
    folder.mkdir(exist_ok=True)
    metadata = {"axes": "TCYX", "Channel": {"Name": ["FITC", "TRITC", "Cy5"]}}
    tifffile.imwrite(folder / "three.ome.tif", frames, metadata=metadata)
    tifffile.imwrite(folder / "plain.tif", frames[:, 0])
    if settings is not None:
        (folder / "experiment.yaml").write_text(yaml.safe_dump(settings))
    return inspect_experiment(folder)


def test_discovery_makes_a_channel_of_each(frames: np.ndarray, tmp_path: Path) -> None:
    experiment = _experiment(tmp_path / "found", frames)
    assert experiment.ok, experiment.problem
    found = {name: c.file_channel for name, c in experiment.channels.items()}
    assert found == {"plain": None, "three_FITC": 0, "three_TRITC": 1, "three_Cy5": 2}
    named = _experiment(tmp_path / "named", frames, {"channels": {
        "red": {"file": "three.ome.tif", "file_channel": "Cy5", "pixel_nm": 108},
        "green": {"file": "three.ome.tif", "file_channel": 1},
    }})
    assert named.ok, named.problem
    found = {name: c.file_channel for name, c in named.channels.items()}
    assert found == {"plain": None, "three_FITC": 0, "green": 1, "red": 2}
    assert named.channels["red"].pixel_nm[0][1] == 108
    split = _experiment(tmp_path / "split", frames, {"split": "horizontal"})
    assert sorted(split.channels)[:2] == ["plain_left", "plain_right"]
    assert split.channels["three_Cy5_right"].file_channel == 2
    assert split.channels["three_Cy5_right"].half == 1


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"file": "three.ome.tif"}, ["channels.red: three.ome.tif holds 3 channels",
                                     "0: FITC, 1: TRITC, 2: Cy5", "file_channel:"]),
        ({"file": "three.ome.tif", "file_channel": "GFP"},
         ["channels.red.file_channel: three.ome.tif: no channel named 'GFP'"]),
        ({"file": "three.ome.tif", "file_channel": 5},
         ["channels.red.file_channel", "no channel 5"]),
        ({"file": "plain.tif", "file_channel": 1},
         ["channels.red.file_channel: plain.tif holds one channel only"]),
        ({"file_channel": 1}, ["channels.red.file_channel: given without the file"]),
        ({"file": "three.ome.tif", "file_channel": [1]}, ["expected the channel's index"]),
    ],
)
def test_discovery_names_a_wrong_channel(entry, words, frames: np.ndarray, tmp_path) -> None:
    experiment = _experiment(tmp_path / "bad", frames, {"channels": {"red": entry}})
    assert not experiment.ok
    for word in words:
        assert word in experiment.problem, experiment.problem
    clash = _experiment(tmp_path / "clash", frames, {"channels": {
        "red": {"file": "three.ome.tif", "file_channel": "Cy5"},
        "far_red": {"file": "three.ome.tif", "file_channel": 2},
    }})
    assert "name the same movie (three.ome.tif, channel Cy5)" in clash.problem


def test_micromanager_two_cameras_over_two_files(frames: np.ndarray, tmp_path: Path) -> None:
    """An OME series of two channels (cameras) over two files, each frame's channels one
    after the other, as Micro-Manager's multi-camera acquisitions store them."""
    ome = "http://www.openmicroscopy.org/Schemas/OME/2016-06"
    two = frames[:, :2]
    names = ("run_MMStack_Pos0.ome.tif", "run_MMStack_Pos0_1.ome.tif")
    uuids = ["urn:uuid:00000000-0000-0000-0000-00000000000a",
             "urn:uuid:00000000-0000-0000-0000-00000000000b"]
    split = 9
    tiffdata = "".join(
        f'<TiffData FirstT="{first}" FirstC="0" IFD="0" PlaneCount="{2 * count}">'
        f'<UUID FileName="{name}">{uid}</UUID></TiffData>'
        for first, count, name, uid in zip((0, split), (split, 15 - split), names, uuids,
                                           strict=True)
    )
    master = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{ome}" UUID="{uuids[0]}">'
        '<Image ID="Image:0" Name="run"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" '
        'Type="uint16" SizeX="10" SizeY="12" SizeC="2" SizeZ="1" SizeT="15">'
        '<Channel ID="Channel:0:0" Name="Camera 1" SamplesPerPixel="1"/>'
        '<Channel ID="Channel:0:1" Name="Camera 2" SamplesPerPixel="1"/>'
        f"{tiffdata}</Pixels></Image></OME>"
    )
    binary_only = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{ome}" UUID="{uuids[1]}">'
        f'<BinaryOnly MetadataFile="{names[0]}" UUID="{uuids[0]}"/></OME>'
    )
    planes = two.reshape(30, 12, 10)  # t0c0, t0c1, t1c0, ...
    first, second = tmp_path / names[0], tmp_path / names[1]
    tifffile.imwrite(first, planes[: 2 * split], description=master, metadata=None)
    tifffile.imwrite(second, planes[2 * split :], description=binary_only, metadata=None)
    assert list_channels(first) == ("Camera_1", "Camera_2")
    for index, name in enumerate(("Camera_1", "Camera_2")):
        with open_movie(first, channel=name) as movie:
            assert movie.shape == (15, 12, 10) and not movie.fast_path
            assert movie.paths == [str(first.resolve()), str(second.resolve())]
            np.testing.assert_array_equal(movie[6:13], two[6:13, index])  # across the files
            np.testing.assert_array_equal(np.asarray(movie), two[:, index])


@pytest.mark.parametrize(
    ("shape", "options", "expected"),
    [
        ((40, 12, 10), {}, ()),  # tifffile's OME of a 3-D array: SizeC = 40, frames
        ((40, 2, 12, 10), {"metadata": {"axes": "TCYX"}}, ("c0", "c1")),
        ((2, 40, 12, 10), {"metadata": {"axes": "CTYX"}}, ("c0", "c1")),
        ((40, 1, 12, 10), {"metadata": {"axes": "TCYX"}}, ()),
        ((3, 12, 10), {"metadata": {"axes": "CYX"}}, ()),
        ((40, 3, 2, 12, 10), {"metadata": {"axes": "TZCYX"}}, None),  # refused
    ],
)
@pytest.mark.parametrize("suffix", [".ome.tif", ".tif", "_imagej.tif"])
def test_first_page_tells_the_channels(shape, options, expected, suffix, tmp_path) -> None:
    """list_channels reads a TIFF's first page only when it says one channel; it
    must agree with opening the file (which indexes every page)."""
    path = tmp_path / f"movie{suffix}"
    data = np.zeros(shape, np.uint16)
    if suffix == "_imagej.tif":
        if options.get("metadata", {}).get("axes") == "CTYX":
            pytest.skip("ImageJ hyperstacks are stored in TZCYX order only")
        if len(shape) == 3 and not options:
            options = {"metadata": {"axes": "TYX"}}
        tifffile.imwrite(path, data, imagej=True, **options)
    else:
        tifffile.imwrite(path, data, photometric="minisblack", **options)
    if expected is None:
        with pytest.raises(ValueError, match="expected one frame axis"):
            list_channels(path)
        return
    assert list_channels(path) == expected
    with open_movie(path, channel=0) as movie:
        assert movie.channel_names == expected


def test_inspect_tells_what_the_readers_find(two_cameras, tmp_path, capsys) -> None:
    path, _, _ = two_cameras
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, np.zeros((5, 8, 6), np.uint16))
    missing = tmp_path / "missing.tif"
    assert main(["inspect", str(path), str(missing), str(plain)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        str(path),
        "  frames      1000 of 48 x 48 px (height x width), uint16",
        "  format      ome, axes TCYX",
        "  pixel size  100 x 100 nm (y, x)",
        "  exposure    not in the file",
        "  channels    2: Cy5, Cy3 (smlmlp psf names them two_Cy5, two_Cy3)",
        "",
        str(plain),
        "  frames      5 of 8 x 6 px (height x width), uint16",
        "  format      shaped, axes QYX",
        "  pixel size  not in the file",
        "  exposure    not in the file",
        "  channels    one",
    ]
    assert err == f"smlmlp: error: {missing}: no such file\n"
