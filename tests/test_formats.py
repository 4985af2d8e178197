"""The movie formats besides TIFF: the same frames, PSF and command output as the TIFF
of the same movie, their metadata, and one line for every bad file."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import h5py
import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.formats import MOVIE_SUFFIXES, MissingReaderError, MovieFile, path_size, reader_package
from smlmlp.infofile import read_info
from smlmlp.loading import TiffMovie, list_channels, open_movie, split_movie
from smlmlp.simulation import simulate_movie

SIMULATION = {
    "pixel_nm": 100.0,
    "photons": 2000.0,
    "background": 20.0,
    "on_density_per_um2": 0.5,
}
N_FRAMES = 300
SHAPE = (32, 32)

#: Every format besides TIFF (its suffix without the dot) -> the package its reader needs
FORMATS = {suffix[1:]: reader_package(suffix) for suffix in MOVIE_SUFFIXES}
#: Formats that store other pixel types than the movie's uint16 (Andor: float32 counts)
STORED_AS = {"sif": np.float32}


def _params() -> list[Any]:
    return [pytest.param(name, id=name) for name in FORMATS]


def _need(fmt: str) -> None:
    if FORMATS[fmt] is not None:
        pytest.importorskip(FORMATS[fmt])


@pytest.fixture(scope="module")
def movie() -> np.ndarray:
    frames, _ = simulate_movie(N_FRAMES, SHAPE, sigx_nm=130.0, sigy_nm=120.0, seed=7, **SIMULATION)
    return frames


def _write(
    movie_formats: ModuleType, fmt: str, folder: Path, movie: np.ndarray, stem: str = "movie", **kw
) -> Path:
    suffix, writer = movie_formats.WRITERS[fmt]
    return writer(folder / f"{stem}{suffix}", movie, **kw)


def _sigmas(stack: Any) -> list[float]:
    _, info = blink_spatial_psf([stack], 21, channels_pixels_nm=100.0, chunk_frames=64)
    return [float(info["sigx"][0]), float(info["sigy"][0])]


@pytest.fixture(scope="module")
def tiff_sigmas(movie: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> list[float]:
    path = tmp_path_factory.mktemp("tiff") / "movie.tif"
    tifffile.imwrite(path, movie, photometric="minisblack")
    with open_movie(path) as lazy:
        assert isinstance(lazy, TiffMovie)
        return _sigmas(lazy)


# ------------------------------------------------------------------ same as TIFF


@pytest.mark.parametrize("fmt", _params())
def test_same_frames_and_psf_as_the_tiff(
    fmt: str, movie: np.ndarray, tiff_sigmas: list[float], movie_formats, tmp_path: Path
) -> None:
    _need(fmt)
    path = _write(movie_formats, fmt, tmp_path, movie)
    with open_movie(path) as lazy:
        assert isinstance(lazy, MovieFile)
        stored = STORED_AS.get(fmt, np.uint16)
        assert lazy.shape == movie.shape and lazy.dtype == stored and lazy.ndim == 3
        np.testing.assert_array_equal(lazy[17:83], movie[17:83])
        np.testing.assert_array_equal(lazy[-1], movie[-1])
        assert lazy[5:5].shape == (0, *SHAPE)
        sigmas = _sigmas(lazy)
        assert lazy.paths[0] == str(path.resolve())
    np.testing.assert_allclose(sigmas, tiff_sigmas, rtol=1e-9)
    assert 100 < min(sigmas) and max(sigmas) < 150
    with pytest.raises(ValueError, match="closed"):
        lazy[0:2]


@pytest.mark.parametrize("fmt", _params())
def test_split_halves(fmt: str, movie: np.ndarray, movie_formats, tmp_path: Path) -> None:
    _need(fmt)
    dual = np.concatenate([movie[:20], movie[20:40, ::-1]], axis=2)  # 32 x 64
    path = _write(movie_formats, fmt, tmp_path, dual, stem="dual")
    with open_movie(path) as lazy:
        left, right = split_movie(lazy, "horizontal", name=str(path))
        np.testing.assert_array_equal(left[3:11], movie[3:11])
        np.testing.assert_array_equal(right[3:11], movie[23:31, ::-1])
        top, bottom = split_movie(lazy, "vertical")
        np.testing.assert_array_equal(bottom[0:4], dual[0:4, 16:])
        assert left.metadata == lazy.metadata and left.paths == lazy.paths


def test_reads_only_the_frames_asked_for(movie: np.ndarray, movie_formats, tmp_path) -> None:
    """A chunk is read from disk, not the whole movie: the memmap of a .dax is sliced."""
    path = _write(movie_formats, "dax", tmp_path, movie)
    with open_movie(path) as lazy:
        assert isinstance(lazy._mapped, np.memmap)
        chunk = lazy[10:20]
        assert not isinstance(chunk, np.memmap) and chunk.flags.c_contiguous
        assert chunk.dtype == np.dtype("uint16") and chunk.dtype.isnative


# ------------------------------------------------------------------ layouts


@pytest.mark.parametrize("endian", ["big", "little"])
def test_dax_byte_order_and_frame_dimensions(endian: str, movie_formats, tmp_path: Path) -> None:
    frames = np.arange(4 * 5 * 7, dtype=np.uint16).reshape(4, 5, 7) * 257
    path = movie_formats.write_dax(tmp_path / "run.dax", frames, endian=endian)
    assert "frame dimensions = 7 x 5" in path.with_suffix(".inf").read_text()
    with open_movie(path) as lazy:
        assert lazy.shape == (4, 5, 7)
        np.testing.assert_array_equal(np.asarray(lazy), frames)
        assert lazy.paths == [str(path.resolve()), str(path.with_suffix(".inf").resolve())]
        assert lazy.metadata == {
            "pixel_nm": None,
            "exposure_ms": None,
            "axes": "TYX",
            "kind": "dax",
        }


@pytest.mark.parametrize("order", ["<", ">"])
def test_picasso_byte_order(order: str, movie_formats, tmp_path: Path) -> None:
    frames = np.arange(3 * 4 * 6, dtype=np.uint16).reshape(3, 4, 6) * 300
    path = movie_formats.write_picasso_raw(tmp_path / "m.raw", frames, byte_order=order)
    with open_movie(path) as lazy:
        np.testing.assert_array_equal(lazy[0:3], frames)
        assert lazy.paths[1] == str(path.with_suffix(".yaml").resolve())


def test_imaris_padded_data_and_frames_as_planes(
    movie: np.ndarray, movie_formats, tmp_path
) -> None:
    frames = movie[:30, :, :30]
    for kwargs in ({"pad": 5}, {"pad": 3, "frames_as_planes": True}):
        path = movie_formats.write_ims(tmp_path / "m.ims", frames, **kwargs)
        with open_movie(path) as lazy:
            assert lazy.shape == (30, 32, 30)
            np.testing.assert_array_equal(lazy[4:25], frames[4:25])


# ------------------------------------------------------------------ metadata


@pytest.mark.parametrize("fmt", ["raw", "ims", "zarr", "nd2"])
def test_pixel_size_and_exposure_from_the_file(fmt: str, movie_formats, tmp_path: Path) -> None:
    _need(fmt)
    frames = np.ones((4, 8, 8), dtype=np.uint16)
    path = _write(movie_formats, fmt, tmp_path, frames, pixel_nm=108.0, exposure_ms=30.0)
    with open_movie(path) as lazy:
        assert lazy.metadata["pixel_nm"] == pytest.approx((108.0, 108.0), rel=1e-9)
        assert lazy.metadata["exposure_ms"] == pytest.approx(30.0, rel=1e-9)
        assert lazy.metadata["axes"] == "TYX"
    other = _write(movie_formats, fmt, tmp_path, frames, stem="bare")
    with open_movie(other) as lazy:
        assert lazy.metadata["pixel_nm"] is None and lazy.metadata["exposure_ms"] is None


def test_hdf5_datasets_are_the_channels(movie: np.ndarray, movie_formats, tmp_path) -> None:
    """Every dataset (frames, height, width) of an HDF5 file is a channel, named after
    it; a snapshot of one frame and a table of localisations are not; the pixel size
    comes from ``element_size_um`` (z, y, x in µm)."""
    both = np.stack([movie[:20], movie[20:40]], axis=1)
    path = movie_formats.write_hdf5(
        tmp_path / "two.h5", both, pixel_nm=108.0, channel_names=["Cy5", "Cy3"]
    )
    assert list_channels(path) == ("Cy3", "Cy5")  # in the order of the file: by name
    with open_movie(path, channel="Cy3") as lazy:
        np.testing.assert_array_equal(np.asarray(lazy), movie[20:40])
        assert lazy.metadata["pixel_nm"] == pytest.approx((108.0, 108.0), rel=1e-9)
        assert lazy.metadata["dataset"] == "recordings/Cy3" and lazy.metadata["kind"] == "hdf5"
    one = movie_formats.write_hdf5(tmp_path / "one.hdf5", movie[:20])
    assert list_channels(one) == ()
    with open_movie(one) as lazy:
        assert lazy.metadata["pixel_nm"] is None and lazy.metadata["dataset"] == "ImageData"
    # the same name in two groups: the datasets' paths name the channels
    with h5py.File(tmp_path / "groups.h5", "w") as handle:
        for group in ("day 1", "day2"):
            handle[f"{group}/frames"] = movie[:5]
    assert list_channels(tmp_path / "groups.h5") == ("day_1_frames", "day2_frames")


def test_imswitch_exposure_is_the_recording_detectors(movie: np.ndarray, tmp_path) -> None:
    """ImSwitch copies its shared attributes (``Detector:<name>:Param:exposure``, in
    ms, for every detector) to each recording; newer versions add
    ``acquisition:exposure_time_ms``. The exposure read is the recording detector's,
    from the dataset or a group above it; none when it cannot be told."""

    def exposure(path: Path, **options: Any) -> float | None:
        with open_movie(path, **options) as lazy:
            return lazy.metadata["exposure_ms"]

    shared = {"Detector:Widefield:Param:exposure": 30.0, "Detector:Camera 2:Param:exposure": 12.5}
    flat = tmp_path / "flat.hdf5"
    with h5py.File(flat, "w") as handle:
        for name in ("Widefield", "Camera 2"):
            data = handle.create_dataset(name, data=movie[:10].astype(np.int16))
            data.attrs.update(shared)
            data.attrs["detector_name"] = name
            data.attrs["Detector:Widefield:Param:Real exposure time"] = 0.03  # s: not read
    assert exposure(flat, channel="Widefield") == pytest.approx(30.0)
    assert exposure(flat, channel="Camera_2") == pytest.approx(12.5)
    # the detector known by its group's name; the explicit attribute first, as text
    nested = tmp_path / "nested.h5"
    with h5py.File(nested, "w") as handle:
        handle.attrs.update(shared)
        handle.create_dataset("Camera 2/data", data=movie[:10])
        handle.create_dataset("Widefield/data", data=movie[:10])
        handle["Widefield"].attrs["acquisition:exposure_time_ms"] = "7.5"
    assert exposure(nested, channel="Camera_2_data") == pytest.approx(12.5)
    assert exposure(nested, channel="Widefield_data") == pytest.approx(7.5)
    # one detector's exposure, whatever the dataset's name; several, none the recording's
    lone = tmp_path / "lone.h5"
    with h5py.File(lone, "w") as handle:
        handle.create_dataset("frames", data=movie[:10]).attrs[
            "Detector:Widefield:Param:exposure"
        ] = np.float64(20.0)
    assert exposure(lone) == pytest.approx(20.0)
    unknown = tmp_path / "unknown.h5"
    with h5py.File(unknown, "w") as handle:
        handle.create_dataset("frames", data=movie[:10]).attrs.update(shared)
    assert exposure(unknown) is None
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as handle:
        data = handle.create_dataset("Widefield", data=movie[:10])
        data.attrs["Detector:Widefield:Param:exposure"] = "fast"
        data.attrs["acquisition:exposure_time_ms"] = "None"
    assert exposure(bad) is None


def test_imswitch_int16_recordings_are_the_cameras_uint16(movie: np.ndarray, tmp_path) -> None:
    """ImSwitch records 16-bit camera frames as int16: a bright bead's values from 32768
    on come back negative. Its recordings (a ``detector_name``) are read as the camera's
    uint16 frames, bit for bit; another program's int16 stack keeps its signed values."""
    frames = movie.copy()
    frames[:, 3:5, 3:5] = 60000  # a saturated bead
    path = tmp_path / "rec.hdf5"
    with h5py.File(path, "w") as handle:
        data = handle.create_dataset("Widefield", data=frames.view(np.int16))
        data.attrs["detector_name"] = "Widefield"
        handle.create_dataset("signed", data=frames.view(np.int16))
    with open_movie(path, channel="Widefield") as lazy:
        assert lazy.dtype == np.uint16
        np.testing.assert_array_equal(np.asarray(lazy), frames)
        np.testing.assert_array_equal(lazy[10:12], frames[10:12])
    with open_movie(path, channel="signed") as lazy:
        assert lazy.dtype == np.int16 and int(np.asarray(lazy[:1]).min()) < 0


def test_pyme_frames_are_read_with_x_along_the_width(movie_formats, tmp_path) -> None:
    """PYME stores a frame as (x, y), the camera's width first: read as (y, x), an
    elliptical PSF on non-square frames gives the TIFF's sigx and sigy (not swapped),
    with PYME's pixel size and integration time."""
    frames, _ = simulate_movie(
        300, (24, 40), sigx_nm=140.0, sigy_nm=110.0, seed=9, **SIMULATION
    )
    tiff = tmp_path / "movie.tif"
    tifffile.imwrite(tiff, frames, photometric="minisblack")
    path = movie_formats.write_pyme(tmp_path / "spool.h5", frames, pixel_nm=108.0)
    with open_movie(path) as pyme, open_movie(tiff) as plain:
        assert pyme.shape == frames.shape == (300, 24, 40)
        np.testing.assert_array_equal(pyme[100:130], frames[100:130])
        assert pyme.metadata["kind"] == "pyme" and pyme.metadata["dataset"] == "ImageData"
        assert pyme.metadata["pixel_nm"] == pytest.approx((108.0, 108.0), rel=1e-9)
        assert pyme.metadata["exposure_ms"] == pytest.approx(50.0, rel=1e-9)
        sigmas = _sigmas(pyme)
        np.testing.assert_allclose(sigmas, _sigmas(plain), rtol=1e-9)
        assert sigmas[0] > sigmas[1] + 15  # sigx is the wide one, as simulated
    # a DimOrder without metadata is PYME's too; neither: a plain stack, read as stored
    bare = movie_formats.write_pyme(tmp_path / "bare.h5", frames[:10], metadata=False)
    with open_movie(bare) as pyme:
        assert pyme.shape == (10, 24, 40) and pyme.metadata["pixel_nm"] is None
        np.testing.assert_array_equal(np.asarray(pyme), frames[:10])
    plain_h5 = movie_formats.write_pyme(
        tmp_path / "plain.h5", frames[:10], metadata=False, dim_order=False
    )
    with open_movie(plain_h5) as stack:
        assert stack.shape == (10, 40, 24) and stack.metadata["kind"] == "hdf5"
    # PZF-compressed frames: one line
    with h5py.File(tmp_path / "pzf.h5", "w") as handle:
        handle.create_dataset("PZFImageData", (3,), dtype=h5py.vlen_dtype(np.uint8))
        handle.create_group("MetaData")
    with pytest.raises(ValueError) as caught:
        open_movie(tmp_path / "pzf.h5")
    _one_line(caught.value, str(tmp_path / "pzf.h5"), "PZF-compressed", "export the movie")


@pytest.mark.parametrize("codec", ["gzip", "Blosc", "Zstd", "LZ4", "Bitshuffle"])
def test_compressed_hdf5_frames(
    codec: str, movie: np.ndarray, tiff_sigmas: list[float], movie_formats, tmp_path
) -> None:
    """Frames compressed with HDF5's own gzip or a filter of hdf5plugin's (PyTables'
    and PYME's Blosc among them) read as stored."""
    import hdf5plugin

    compression = {"compression": "gzip"} if codec == "gzip" else getattr(hdf5plugin, codec)()
    path = movie_formats.write_hdf5(tmp_path / f"{codec}.h5", movie, compression=compression)
    with open_movie(path) as lazy:
        np.testing.assert_array_equal(lazy[17:83], movie[17:83])
        np.testing.assert_allclose(_sigmas(lazy), tiff_sigmas, rtol=1e-9)


def test_hdf5_filter_not_installed_one_line(movie: np.ndarray, movie_formats, tmp_path) -> None:
    """A filter this installation cannot decode is named, not taken for a corrupt file."""
    import h5py
    import hdf5plugin

    path = movie_formats.write_hdf5(tmp_path / "zstd.h5", movie, compression=hdf5plugin.Zstd())
    available = h5py.h5z.filter_avail
    try:  # as without hdf5plugin: Zstandard (32015) unknown to the HDF5 library
        h5py.h5z.filter_avail = lambda code: code != 32015 and available(code)
        with pytest.raises(ValueError) as caught:
            open_movie(path)
    finally:
        h5py.h5z.filter_avail = available
    text = str(caught.value)
    assert "\n" not in text and text.startswith(str(path)), text
    assert "compressed with the HDF5 filter Zstandard (id 32015)" in text
    assert "pip install hdf5plugin" in text


def test_hdf5_without_a_movie_one_line(movie_formats, tmp_path: Path) -> None:
    from smlmlp.formats import hdf5_left_out
    from smlmlp.infofile import ChannelInfo, write_info

    locs = tmp_path / "cell_locs.hdf5"
    with h5py.File(locs, "w") as handle:
        handle["locs"] = np.zeros(7, [("frame", "u4"), ("x", "f4"), ("y", "f4")])
        handle["snapshot"] = np.zeros((1, 8, 8), np.uint16)
        handle["stack"] = np.zeros((5, 2, 8, 8), np.uint16)  # four axes: not read
    with pytest.raises(ValueError) as caught:
        open_movie(locs)
    _one_line(caught.value, str(locs), "no movie in this HDF5 file", "locs (7,)", "(1, 8, 8)")
    assert hdf5_left_out(locs) == (
        "an HDF5 file without a movie (its datasets: locs (7,), snapshot (1, 8, 8), "
        "stack (5, 2, 8, 8))"
    )
    info = write_info(tmp_path / "psf_info.h5", [ChannelInfo.empty_example()])
    with pytest.raises(ValueError) as caught:
        open_movie(info)
    _one_line(caught.value, str(info), "a PSF info file written by smlmLP, not a movie")
    assert hdf5_left_out(info) == "a PSF info file written by smlmLP"
    movie = movie_formats.write_hdf5(tmp_path / "movie.h5", np.ones((4, 8, 8), np.uint16))
    assert hdf5_left_out(movie) is None and hdf5_left_out(tmp_path / "missing.h5") is None


@pytest.mark.parametrize(
    "layout",
    [
        {"order": "F"},
        {"byte_order": ">"},
        {"channel_axis": True},
        {"order": "F", "channel_axis": True},
    ],
)
def test_npy_layouts(layout: dict, movie: np.ndarray, movie_formats, tmp_path: Path) -> None:
    """``numpy.save`` of a stack in Fortran order, big endian, or with an axis of one
    channel: the same frames, read from a memory map chunk by chunk."""
    path = movie_formats.write_npy(tmp_path / "sim.npy", movie[:40], **layout)
    with open_movie(path) as lazy:
        assert lazy.shape == (40, *SHAPE) and lazy.dtype == np.dtype("uint16")
        chunk = lazy[7:19]
        assert chunk.flags.c_contiguous and chunk.dtype.isnative
        np.testing.assert_array_equal(chunk, movie[7:19])
        np.testing.assert_array_equal(np.asarray(lazy), movie[:40])
        assert lazy.metadata == {"pixel_nm": None, "exposure_ms": None, "axes": "TYX",
                                 "kind": "npy"}
    floats = movie_formats.write_npy(tmp_path / "f.npy", movie[:10].astype(np.float64))
    with open_movie(floats) as lazy:
        assert lazy.dtype == np.float64
        np.testing.assert_array_equal(lazy[2:4], movie[2:4])


def test_npy_that_are_no_movies(movie: np.ndarray, tmp_path: Path) -> None:
    """An .npy that is no stack of frames fails with one line naming it when opened,
    and is left out of an experiment folder with that line, its movies read."""
    from smlmlp.folder_movies import folder_series, left_out_files
    from smlmlp.npy_movie import npy_left_out
    from smlmlp_workflow.discovery import inspect_experiment

    folder = tmp_path / "exp"
    folder.mkdir()
    np.save(folder / "cell.npy", movie[:20])
    arrays = {
        "cell_locs.npy": (
            np.zeros(9, [("frame", "u4"), ("x", "f4"), ("y", "f4")]),
            "a NumPy table of 9 records (fields frame, x, y), not a movie",
        ),
        "drift.npy": (
            np.zeros((20, 2)),
            "a NumPy array (20, 2), not a movie (frames, height, width)",
        ),
        "mean.npy": (np.zeros((1, 32, 32)), "one image (32 x 32), not a movie"),
        "two.npy": (
            np.zeros((20, 2, 32, 32), np.uint16),
            "a NumPy array (20, 2, 32, 32) of several axes of frames or channels, not a movie "
            "(frames, height, width): save one .npy file per channel",
        ),
        "mask.npy": (np.zeros((3, 8, 8), bool), "a NumPy array of bool (3, 8, 8), not a movie"),
    }
    for name, (array, why) in arrays.items():
        np.save(folder / name, array)
        assert npy_left_out(folder / name).startswith(why)
        with pytest.raises(ValueError) as caught:
            open_movie(folder / name)
        _one_line(caught.value, str(folder / name), why)
    pickled = folder / "objects.npy"
    np.save(pickled, np.array([{"a": 1}, None], dtype=object))
    assert npy_left_out(pickled).startswith("a NumPy array of object")
    with pytest.raises(ValueError) as caught:
        open_movie(pickled)
    _one_line(caught.value, str(pickled), "not a movie")
    assert npy_left_out(folder / "cell.npy") is None and npy_left_out(tmp_path / "no.npy") is None
    series = folder_series(folder)
    assert set(left_out_files(folder, series)) == {*arrays, "objects.npy"}
    experiment = inspect_experiment(folder)
    assert experiment.ok, experiment.problem
    assert list(experiment.channels) == ["cell"]
    assert experiment.left_out["drift.npy"] == arrays["drift.npy"][1]


@pytest.mark.parametrize("fmt", _params())
def test_inspect_reads_every_format(fmt: str, movie_formats, tmp_path: Path, capsys) -> None:
    """`smlmlp inspect` describes a movie of every format, an Imaris or HDF5 one too
    (HDF5 files, not smlmLP's info files)."""
    _need(fmt)
    path = _write(movie_formats, fmt, tmp_path, np.ones((4, 8, 8), np.uint16))
    assert main(["inspect", str(path)]) == 0
    head, frames, kind, *_ = capsys.readouterr().out.splitlines()
    assert head == str(path) and frames.split()[:2] == ["frames", "4"]
    if fmt in ("h5", "hdf5"):  # the dataset read
        assert kind == "  format      hdf5 (dataset ImageData), axes TYX"


def test_czi_pixel_size(movie_formats, tmp_path: Path) -> None:
    _need("czi")
    frames = np.ones((4, 8, 8), dtype=np.uint16)
    with open_movie(movie_formats.write_czi(tmp_path / "m.czi", frames, pixel_nm=108.0)) as lazy:
        assert lazy.metadata["pixel_nm"] == pytest.approx((108.0, 108.0), rel=1e-9)
        assert lazy.metadata["kind"] == "czi" and lazy.metadata["axes"] == "TYX"


def test_nd2_layouts_of_nis_elements(movie: np.ndarray, movie_formats, tmp_path: Path) -> None:
    """A time lapse stopped early, lossless compression, the exposure from the capture's
    text or the loop's period, 8-bit frames; a file of two channels needs one named."""
    _need("nd2")
    frames = movie[:12]
    path = movie_formats.write_nd2(tmp_path / "stopped.nd2", frames, planned_frames=500)
    with open_movie(path) as lazy:  # nd2 would add 488 frames of zeros
        assert lazy.shape == frames.shape
        np.testing.assert_array_equal(np.asarray(lazy), frames)
    wide = np.full((12, 256, 256), 100, np.uint16)  # a small sample in a wide field
    wide[:, 100:132, 60:92] = frames
    path = movie_formats.write_nd2(tmp_path / "deflated.nd2", wide, compressed=True)
    with open_movie(path) as lazy:
        assert path.stat().st_size < wide.nbytes / 4  # smaller than its frames
        np.testing.assert_array_equal(lazy[3:9], wide[3:9])
    text = "Andor iXon Ultra\r\n  Exposure: 0.05 s\r\n  Binning: 1x1"
    for kwargs, exposure in (({"capturing": text}, 50.0), ({"period_ms": 20.0}, 20.0)):
        path = movie_formats.write_nd2(tmp_path / "timed.nd2", frames, **kwargs)
        with open_movie(path) as lazy:
            assert lazy.metadata["exposure_ms"] == pytest.approx(exposure, rel=1e-12)
    for odd in (frames[:, :, :31], (frames[:, :, :29] // 16).astype(np.uint8)):
        path = movie_formats.write_nd2(tmp_path / "odd.nd2", odd)  # rows padded to 4 bytes
        with open_movie(path) as lazy:
            assert lazy.dtype == odd.dtype and lazy.metadata["kind"] == "nd2"
            np.testing.assert_array_equal(lazy[:], odd)
    maps = Path("/proc/self/maps")
    if maps.exists():  # read by seek and read: its pages do not add to resident memory
        path = movie_formats.write_nd2(tmp_path / "read.nd2", frames)
        with open_movie(path) as lazy:
            lazy[0:12]
            assert str(path) not in maps.read_text()
    two = np.stack([frames, frames[::-1]], axis=-1)
    path = movie_formats.write_nd2(tmp_path / "two.nd2", two, channels=2)
    with pytest.raises(ValueError) as caught:
        open_movie(path)  # which of its two channels?
    _one_line(caught.value, str(path), "holds 2 channels", "channel=")


def test_sif_exposure_and_no_pixel_size(movie: np.ndarray, movie_formats, tmp_path) -> None:
    _need("sif")
    path = movie_formats.write_sif(tmp_path / "m.sif", movie[:5], exposure_ms=50.0)
    with open_movie(path) as lazy:
        assert lazy.metadata["exposure_ms"] == pytest.approx(50.0, rel=1e-12)
        assert lazy.metadata["pixel_nm"] is None and lazy.metadata["kind"] == "sif"


def test_sif_cut_anywhere_fails_one_line(movie: np.ndarray, movie_formats, tmp_path) -> None:
    """A .sif cut at any byte of its header or data fails with one line, never waits
    (the header parser reads word by word: past the end it would wait for a space)."""
    _need("sif")
    path = movie_formats.write_sif(tmp_path / "m.sif", movie[:4, :8, :8])
    data = path.read_bytes()
    cut = tmp_path / "cut.sif"
    for keep in range(0, len(data), 3):
        cut.write_bytes(data[:keep])
        with pytest.raises(ValueError) as caught:
            with open_movie(cut) as lazy:
                np.asarray(lazy)
        _one_line(caught.value, str(cut))


@pytest.mark.parametrize(
    ("version", "stamps", "dtype"),
    [(2.5, False, np.uint16), (3.0, False, np.uint16), (3.0, True, np.uint16),
     (3.0, True, np.float32), (2.5, False, np.int16)],
)
def test_spe_versions_layouts_and_exposure(
    version: float, stamps: bool, dtype: type, movie: np.ndarray, movie_formats, tmp_path
) -> None:
    """WinView's header alone (2.x) and LightField's XML footer (3.0), frames with their
    time stamps between them or not, of every pixel type: the same frames; the exposure
    from the footer (3.0), else the header; no pixel size."""
    frames = movie[:12].astype(dtype)
    path = movie_formats.write_spe(tmp_path / "m.spe", frames, exposure_ms=35.0,
                                   version=version, stamps=stamps)
    with open_movie(path) as lazy:
        assert lazy.shape == frames.shape and lazy.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(lazy[3:9], frames[3:9])
        assert lazy.metadata["exposure_ms"] == pytest.approx(35.0, rel=1e-6)
        assert lazy.metadata["pixel_nm"] is None and lazy.metadata["kind"] == "spe"


def test_spe_of_several_regions_one_line(movie: np.ndarray, movie_formats, tmp_path) -> None:
    path = movie_formats.write_spe(tmp_path / "m.spe", movie[:4])
    data = path.read_bytes()
    start = data.index(b'<DataBlock type="Region"')
    region = data[start : data.index(b"/>", start) + 2]
    path.write_bytes(data.replace(region, region * 2))
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "2 regions of interest")


def test_spe_cut_anywhere_fails_one_line(movie: np.ndarray, movie_formats, tmp_path) -> None:
    path = movie_formats.write_spe(tmp_path / "m.spe", movie[:4, :8, :8])
    data = path.read_bytes()
    cut = tmp_path / "cut.spe"
    for keep in [*range(0, 4200, 97), *range(4200, len(data), 7)]:
        cut.write_bytes(data[:keep])
        with pytest.raises(ValueError) as caught:
            with open_movie(cut) as lazy:
                np.asarray(lazy)
        _one_line(caught.value, str(cut))


def test_nd2_legacy_file_one_line(tmp_path: Path) -> None:
    """A JPEG 2000 .nd2 of NIS-Elements before version 4 is named as such."""
    _need("nd2")
    path = tmp_path / "old.nd2"
    path.write_bytes(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(200))
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "legacy", "not supported")


def test_omezarr_folder_size(movie: np.ndarray, movie_formats, tmp_path: Path) -> None:
    _need("zarr")
    path = movie_formats.write_ome_zarr(tmp_path / "m.zarr", movie, chunk_frames=50)
    assert path_size(path) > movie.nbytes  # six chunks and the metadata files


# ------------------------------------------------------------------ bad files


def _one_line(error: BaseException, *names: str) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    for name in names:
        assert name in text, text
    return text


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("fmt", _params())
def test_truncated_file_one_line(fmt: str, movie: np.ndarray, movie_formats, tmp_path) -> None:
    _need(fmt)
    path = _write(movie_formats, fmt, tmp_path, movie[:100])
    target = path / "0" / "0.0.0.0.0" if fmt == "zarr" else path
    _truncate(target)
    with pytest.raises(ValueError) as caught:
        with open_movie(path) as lazy:
            np.asarray(lazy)
    text = _one_line(caught.value, str(path))
    assert "truncated" in text or "corrupt" in text


@pytest.mark.parametrize("fmt", _params())
def test_corrupt_file_one_line(fmt: str, movie: np.ndarray, movie_formats, tmp_path) -> None:
    _need(fmt)
    path = _write(movie_formats, fmt, tmp_path, movie[:10])
    if fmt == "zarr":
        (path / ".zattrs").write_text("{not json")
    elif fmt in ("dax", "raw"):
        sidecar = path.with_suffix(".inf" if fmt == "dax" else ".yaml")
        sidecar.write_text("frames: [unclosed\n" if fmt == "raw" else "nothing useful\n")
    else:
        path.write_bytes(b"not a movie at all " * 40)
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, path.stem)


@pytest.mark.parametrize("fmt", _params())
def test_folder_or_file_of_the_wrong_kind_one_line(fmt: str, tmp_path: Path) -> None:
    """A folder named like a movie file, or a file named like an OME-Zarr folder."""
    _need(fmt)
    path = tmp_path / f"movie.{fmt}"
    if fmt == "zarr":
        path.write_bytes(b"x" * 64)
        with pytest.raises(ValueError) as caught:
            open_movie(path)
        _one_line(caught.value, str(path), "is a folder, this is a file")
    else:
        path.mkdir()
        with pytest.raises(IsADirectoryError) as caught:
            open_movie(path)
        _one_line(caught.value, str(path), "is a directory", "file")


def test_omezarr_missing_chunk_is_not_read_as_zeros(movie, movie_formats, tmp_path) -> None:
    _need("zarr")
    path = movie_formats.write_ome_zarr(tmp_path / "m.zarr", movie, chunk_frames=100)
    (path / "0" / "1.0.0.0.0").unlink()
    with pytest.raises(ValueError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "1 of the 3 chunks", "missing")


@pytest.mark.parametrize(("fmt", "sidecar"), [("dax", ".inf"), ("raw", ".yaml")])
def test_missing_sidecar_one_line(fmt: str, sidecar: str, movie_formats, tmp_path) -> None:
    path = _write(movie_formats, fmt, tmp_path, np.ones((4, 8, 8), dtype=np.uint16))
    path.with_suffix(sidecar).unlink()
    with pytest.raises(FileNotFoundError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), str(path.with_suffix(sidecar)), "missing")


@pytest.mark.parametrize("suffix", [".dcimg", ".DCIMG", ".Npy"])
def test_suffixes_of_any_case(suffix: str, movie: np.ndarray, movie_formats, tmp_path) -> None:
    fmt = suffix[1:].lower()
    path = _write(movie_formats, fmt, tmp_path, movie[:5])
    path = path.rename(path.with_suffix(suffix))
    with open_movie(path) as lazy:
        np.testing.assert_array_equal(np.asarray(lazy), movie[:5])


def test_missing_library_names_the_extra(movie_formats, tmp_path, monkeypatch) -> None:
    _need("zarr")
    path = movie_formats.write_ome_zarr(tmp_path / "m.zarr", np.ones((4, 8, 8), np.uint16))
    monkeypatch.setitem(sys.modules, "zarr", None)  # import zarr raises ImportError
    with pytest.raises(MissingReaderError) as caught:
        open_movie(path)
    _one_line(caught.value, str(path), "needs zarr", "pip install -e '.[zarr]'")
    monkeypatch.setitem(sys.modules, "pylibCZIrw.czi", None)
    (tmp_path / "m.czi").write_bytes(b"x")
    with pytest.raises(MissingReaderError, match=r"needs pylibCZIrw: pip install -e '\.\[czi\]'"):
        open_movie(tmp_path / "m.czi")
    monkeypatch.setitem(sys.modules, "nd2", None)
    (tmp_path / "m.nd2").write_bytes(b"x")
    with pytest.raises(MissingReaderError, match=r"needs nd2: pip install -e '\.\[nd2\]'"):
        open_movie(tmp_path / "m.nd2")
    monkeypatch.setitem(sys.modules, "sif_parser", None)
    (tmp_path / "m.sif").write_bytes(b"x")
    with pytest.raises(MissingReaderError, match=r"needs sif_parser: pip install -e '\.\[sif\]'"):
        open_movie(tmp_path / "m.sif")


def test_too_few_frames_and_lists(movie_formats, tmp_path: Path) -> None:
    path = movie_formats.write_dax(tmp_path / "one.dax", np.ones((1, 8, 8), np.uint16))
    with pytest.raises(ValueError, match="1 frame"):
        open_movie(path)
    with pytest.raises(ValueError, match="only TIFF files can be concatenated"):
        open_movie([path, path])


# ------------------------------------------------------------------ command


def test_command_gives_the_tiff_numbers(
    movie: np.ndarray, movie_formats, tmp_path: Path, capsys
) -> None:
    """``smlmlp psf FILE`` on each format writes the sigmas of the TIFF of the movie."""
    tiff = tmp_path / "movie.tif"
    tifffile.imwrite(tiff, movie, photometric="minisblack")
    files = [tiff]
    for fmt in FORMATS:
        if FORMATS[fmt] is None or _importable(FORMATS[fmt]):
            folder = tmp_path / fmt
            folder.mkdir()
            files.append(_write(movie_formats, fmt, folder, movie))
    out = tmp_path / "psf.h5"
    args = ["psf", *map(str, files), "--pixel-nm", "100", "--crop-pix", "21", "-q", "-o", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    channels = list(read_info(out).channels.values())
    assert len(channels) == len(files)
    reference = [channels[0].sigx_nm, channels[0].sigy_nm]
    for channel in channels[1:]:
        np.testing.assert_allclose([channel.sigx_nm, channel.sigy_nm], reference, rtol=1e-9)
    assert channels[1].source_files == (
        str(files[1].resolve()),
        str(files[1].with_suffix(".inf").resolve()),
    )


def test_command_pixel_size_from_the_file_and_bad_files(
    movie: np.ndarray, movie_formats, tmp_path: Path, capsys
) -> None:
    path = movie_formats.write_picasso_raw(tmp_path / "m.raw", movie, pixel_nm=100.0)
    out = tmp_path / "psf.h5"
    assert main(["psf", str(path), "--crop-pix", "21", "-q", "-o", str(out)]) == 0
    channel = read_info(out).channels["m"]
    assert channel.attrs["pixel_nm_origin"] == "movie file metadata"
    capsys.readouterr()
    path.with_suffix(".yaml").unlink()
    assert main(["psf", str(path), "--crop-pix", "21", "-q", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("smlmlp: error:") and "m.yaml is missing" in err


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------ workflow discovery


def test_discovery_lists_every_format(movie_formats, tmp_path: Path) -> None:
    from smlmlp.folder_movies import list_movies
    from smlmlp_workflow.discovery import inspect_experiment

    frames = np.ones((4, 8, 8), np.uint16)
    folder = tmp_path / "exp"
    movie_formats.write_dax(folder / "a.dax", frames)
    movie_formats.write_picasso_raw(folder / "b.raw", frames)
    movie_formats.write_ims(folder / "c.ims", frames)
    tifffile.imwrite(folder / "d.ome.tif", frames)
    (folder / "notes.txt").write_text("x")
    (folder / "experiment.yaml").write_text("pixel_nm: 100\n")
    names = ["a.dax", "b.raw", "c.ims", "d.ome.tif"]
    if _importable("zarr"):
        movie_formats.write_ome_zarr(folder / "e.ome.zarr", frames)
        names.append("e.ome.zarr")
    if _importable("nd2"):
        movie_formats.write_nd2(folder / "f.nd2", frames)
        names.append("f.nd2")
    assert list_movies(folder) == names
    experiment = inspect_experiment(folder)
    assert experiment.ok, experiment.problem
    assert sorted(experiment.channels) == sorted(["a", "b", "c", "d", "e", "f"][: len(names)])
    assert [Path(f).name for f in experiment.channels["a"].files] == ["a.dax", "a.inf"]
    assert [Path(f).name for f in experiment.channels["b"].files] == ["b.raw", "b.yaml"]


def test_discovery_problems(movie_formats, tmp_path: Path) -> None:
    from smlmlp_workflow.discovery import inspect_experiment

    frames = np.ones((4, 8, 8), np.uint16)
    movie_formats.write_picasso_raw(tmp_path / "clash" / "experiment.raw", frames)
    problem = inspect_experiment(tmp_path / "clash").problem
    assert problem is not None and "experiment.raw" in problem and "rename" in problem
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "run.pzf").write_bytes(b"x")
    problem = inspect_experiment(tmp_path / "other").problem
    assert problem is not None and "no movie file" in problem
    # a .dax without its .inf is still a channel: its job says the .inf is missing
    movie_formats.write_dax(tmp_path / "lone" / "a.dax", frames)
    (tmp_path / "lone" / "a.inf").unlink()
    experiment = inspect_experiment(tmp_path / "lone")
    assert [Path(f).name for f in experiment.channels["a"].files] == ["a.dax"]
