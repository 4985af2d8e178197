"""Tests of smlmlp.loading: lazy TIFF movies, split views and stack validation."""

from __future__ import annotations

import json
import os
import pickle
import uuid
from pathlib import Path

import numpy as np
import pytest
import tifffile

from smlmlp.loading import (
    SplitView,
    TiffMovie,
    check_stack,
    iter_chunks,
    open_movie,
    split_movie,
)

OME_NS = "http://www.openmicroscopy.org/Schemas/OME/2016-06"


def make_frames(n=12, height=16, width=20, dtype=np.uint16, seed=0):
    """Distinct random frames (every frame differs, so mix-ups are detected)."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 4000, size=(n, height, width))
    return data.astype(dtype)


def imwrite(path, data, **kwargs):
    """Write frames as grey pages (tifffile would read 3 or 4 frames as colour)."""
    if "photometric" not in kwargs and "imagej" not in kwargs:
        kwargs["photometric"] = "minisblack"
    tifffile.imwrite(path, data, **kwargs)


def assert_same(movie, path_or_data):
    reference = (
        tifffile.imread(path_or_data)
        if isinstance(path_or_data, str | os.PathLike)
        else path_or_data
    )
    full = movie[:]
    assert full.shape == reference.shape == movie.shape
    assert full.dtype == reference.dtype == movie.dtype
    assert full.dtype.isnative
    np.testing.assert_array_equal(full, reference)
    # lazy ranges and single frames
    n = len(movie)
    for a, b in [(0, 1), (1, 4), (n // 2, n), (n - 3, n)]:
        np.testing.assert_array_equal(movie[a:b], reference[a:b])
    np.testing.assert_array_equal(movie[n // 2], reference[n // 2])


def write_ome_pair(folder, data, split, *, names=None, physical=""):
    """Write one OME series over two files; the first file's OME-XML lists both."""
    names = names or ("movie_MMStack_Pos0.ome.tif", "movie_MMStack_Pos0_1.ome.tif")
    uuids = [f"urn:uuid:{uuid.uuid4()}" for _ in names]
    n, height, width = data.shape
    tiffdata = "".join(
        f'<TiffData FirstT="{first}" IFD="0" PlaneCount="{count}">'
        f'<UUID FileName="{name}">{uid}</UUID></TiffData>'
        for first, count, name, uid in zip(
            (0, split), (split, n - split), names, uuids, strict=True
        )
    )
    master = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{OME_NS}" UUID="{uuids[0]}">'
        f'<Image ID="Image:0" Name="movie"><Pixels ID="Pixels:0" DimensionOrder="XYCZT" '
        f'Type="{data.dtype.name}" SizeX="{width}" SizeY="{height}" SizeC="1" SizeZ="1" '
        f'SizeT="{n}" {physical}><Channel ID="Channel:0:0" SamplesPerPixel="1"/>'
        f"{tiffdata}</Pixels></Image></OME>"
    )
    binary_only = (
        f'<?xml version="1.0" encoding="UTF-8"?><OME xmlns="{OME_NS}" UUID="{uuids[1]}">'
        f'<BinaryOnly MetadataFile="{names[0]}" UUID="{uuids[0]}"/></OME>'
    )
    paths = [folder / name for name in names]
    imwrite(paths[0], data[:split], description=master, metadata=None)
    imwrite(paths[1], data[split:], description=binary_only, metadata=None)
    return paths


# --------------------------------------------------------------------------- #
# Formats
# --------------------------------------------------------------------------- #


def test_plain_tiff(tmp_path):
    path = tmp_path / "plain.tif"
    imwrite(path, make_frames())
    with open_movie(path) as movie:
        assert_same(movie, path)
        assert movie.ndim == 3 and len(movie) == 12
        assert movie.fast_path
        assert movie.paths == [str(path.resolve())]
        assert movie.nbytes == 12 * 16 * 20 * 2
        assert movie.metadata["pixel_nm"] is None
        assert movie.metadata["exposure_ms"] is None
        assert isinstance(movie, TiffMovie)


def test_bigtiff(tmp_path):
    path = tmp_path / "big.tif"
    imwrite(path, make_frames(dtype=np.float32), bigtiff=True)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_bigtiff
    with open_movie(path) as movie:
        assert movie.fast_path
        assert_same(movie, path)


@pytest.mark.parametrize("name", ["cells.ome.btf", "cells.ome.tf8", "cells.ome.tf2", "run.btf"])
def test_bigtiff_suffixes_of_bio_formats(tmp_path, name):
    """Bio-Formats writes OME BigTIFF files as .ome.btf / .ome.tf8 / .ome.tf2: movies,
    named as their .ome.tif would be."""
    from smlmlp.folder_movies import list_movies
    from smlmlp.formats import movie_stem

    frames = make_frames()
    tifffile.imwrite(tmp_path / name, frames, bigtiff=True, ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.1, "PhysicalSizeY": 0.1})
    with open_movie(tmp_path / name) as movie:
        np.testing.assert_array_equal(np.asarray(movie[:]), frames)
        assert movie.metadata["pixel_nm"] == (100.0, 100.0)
    assert [os.path.basename(p) for p in list_movies(tmp_path)] == [name]
    assert movie_stem(name) == name.split(".")[0]


@pytest.mark.parametrize("n_frames", [3, 4])
def test_few_frames_written_with_tifffile_defaults(tmp_path, n_frames):
    """tifffile stores a (3|4, H, W) array as separate colour planes: read as frames."""
    movie = np.random.default_rng(n_frames).integers(0, 4000, (n_frames, 20, 18), np.uint16)
    path = tmp_path / "few.tif"
    with pytest.warns(DeprecationWarning):  # tifffile announces a new default
        tifffile.imwrite(path, movie)
    with open_movie(path) as stack:
        assert stack.shape == movie.shape
        np.testing.assert_array_equal(stack[:], movie)


def test_colour_image_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, np.zeros((20, 18, 3), np.uint8), photometric="rgb")
    with pytest.raises(ValueError, match=r"rgb.tif: .*colour \(RGB\) samples are not supported "
                       r"\(a grey-scale stack of 3 or 4 frames .*photometric='minisblack'\)"):
        open_movie(path)


def test_imagej_hyperstack_with_singleton_axes(tmp_path):
    path = tmp_path / "hyperstack.tif"
    data = make_frames(n=8)[:, None, None]  # T Z C Y X with Z = C = 1
    imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.1, 1 / 0.125),  # pixels per micron (x, y)
        metadata={"axes": "TZCYX", "unit": "um"},
    )
    with open_movie(path) as movie:
        assert movie.shape == (8, 16, 20)
        assert movie.metadata["axes"] == "TYX"
        assert movie.metadata["pixel_nm"] == pytest.approx((125.0, 100.0))
        assert_same(movie, data[:, 0, 0])


def test_imagej_z_axis_alone_is_the_frame_axis(tmp_path):
    path = tmp_path / "zstack.tif"
    data = make_frames(n=6)
    imwrite(path, data, imagej=True, metadata={"axes": "ZYX"})
    with open_movie(path) as movie:
        assert movie.metadata["axes"] == "ZYX"
        assert_same(movie, data)


def test_ome_single_file_with_metadata(tmp_path):
    path = tmp_path / "movie.ome.tif"
    data = make_frames(n=10)
    imwrite(
        path,
        data,
        metadata={
            "axes": "TYX",
            "PhysicalSizeX": 0.108,
            "PhysicalSizeY": 0.11,  # default unit: micrometre
            "Plane": {"ExposureTime": [30.0] * 10, "ExposureTimeUnit": ["ms"] * 10},
        },
    )
    with open_movie(path) as movie:
        assert movie.metadata["kind"] == "ome"
        assert movie.metadata["pixel_nm"] == pytest.approx((110.0, 108.0))
        assert movie.metadata["exposure_ms"] == pytest.approx(30.0)
        assert movie.fast_path
        assert_same(movie, path)


def test_ome_units_nm_and_seconds(tmp_path):
    path = tmp_path / "units.ome.tif"
    imwrite(
        path,
        make_frames(n=4),
        metadata={
            "axes": "TYX",
            "PhysicalSizeX": 97.5,
            "PhysicalSizeXUnit": "nm",
            "PhysicalSizeY": 97.5,
            "PhysicalSizeYUnit": "nm",
            "Plane": {"ExposureTime": [0.05] * 4},  # OME default unit is the second
        },
    )
    with open_movie(path) as movie:
        assert movie.metadata["pixel_nm"] == pytest.approx((97.5, 97.5))
        assert movie.metadata["exposure_ms"] == pytest.approx(50.0)


def test_ome_unit_mm(tmp_path):
    path = tmp_path / "mm.ome.tif"
    imwrite(
        path,
        make_frames(n=3),
        metadata={
            "axes": "TYX",
            "PhysicalSizeX": 0.0001,
            "PhysicalSizeXUnit": "mm",
            "PhysicalSizeY": 0.0002,
            "PhysicalSizeYUnit": "mm",
        },
    )
    with open_movie(path) as movie:
        assert movie.metadata["pixel_nm"] == pytest.approx((200.0, 100.0))


def test_ome_multifile_series(tmp_path):
    data = make_frames(n=11)
    paths = write_ome_pair(
        tmp_path,
        data,
        6,
        physical='PhysicalSizeX="0.117" PhysicalSizeY="117" PhysicalSizeYUnit="nm"',
    )
    with tifffile.TiffFile(paths[0]) as tif:
        assert tif.series[0].is_multifile
    with open_movie(paths[0]) as movie:
        assert movie.shape == (11, 16, 20)
        assert movie.paths == [str(p.resolve()) for p in paths]
        assert not movie.fast_path
        assert movie.metadata["pixel_nm"] == pytest.approx((117.0, 117.0))
        np.testing.assert_array_equal(movie[:], tifffile.imread(paths[0]))
        np.testing.assert_array_equal(movie[:], data)
        np.testing.assert_array_equal(movie[4:9], data[4:9])  # across the two files
        np.testing.assert_array_equal(movie[7:10], data[7:10])  # second file only
        np.testing.assert_array_equal(movie[-1], data[-1])


def test_ome_multifile_series_with_missing_file(tmp_path):
    paths = write_ome_pair(tmp_path, make_frames(n=8), 4)
    paths[1].unlink()
    with pytest.raises(ValueError, match=paths[0].name):
        open_movie(paths[0])


def test_list_of_files_is_concatenated(tmp_path):
    data = make_frames(n=15)
    paths = [tmp_path / f"part{i}.tif" for i in range(3)]
    imwrite(paths[0], data[:5])
    imwrite(paths[1], data[5:9], compression="zlib")
    imwrite(paths[2], data[9:])
    with open_movie(paths) as movie:
        assert movie.shape == (15, 16, 20)
        assert movie.paths == [str(p.resolve()) for p in paths]
        assert not movie.fast_path  # one part is compressed
        reference = np.concatenate([tifffile.imread(p) for p in paths])
        assert_same(movie, reference)
        np.testing.assert_array_equal(movie[3:12], data[3:12])  # spans all three
        np.testing.assert_array_equal(movie[9], data[9])


def test_list_of_files_with_different_frames(tmp_path):
    first, second = tmp_path / "a.tif", tmp_path / "b.tif"
    imwrite(first, make_frames(n=4))
    imwrite(second, make_frames(n=4, width=18))
    with pytest.raises(ValueError, match="b.tif.*do not match"):
        open_movie([first, second])


def test_list_repeating_a_multifile_series(tmp_path):
    paths = write_ome_pair(tmp_path, make_frames(n=8), 4)
    with pytest.raises(ValueError, match="pass only its first file"):
        open_movie(paths)


@pytest.mark.parametrize("dtype", [">u2", ">f4", ">i4"])
def test_big_endian(tmp_path, dtype):
    data = make_frames(n=6).astype(dtype)
    for compression in (None, "zlib"):
        path = tmp_path / f"be_{compression}.tif"
        imwrite(path, data, compression=compression)
        with tifffile.TiffFile(path) as tif:
            assert tif.byteorder == ">"
        with open_movie(path) as movie:
            assert movie.fast_path == (compression is None)
            assert movie.dtype == np.dtype(dtype).newbyteorder("=")
            assert_same(movie, path)
            np.testing.assert_array_equal(movie[:], data)


def test_compressed_file_uses_pages_and_gives_same_data(tmp_path):
    data = make_frames(n=9)
    plain, packed = tmp_path / "plain.tif", tmp_path / "zlib.tif"
    imwrite(plain, data)
    imwrite(packed, data, compression="zlib")
    with open_movie(plain) as fast, open_movie(packed) as slow:
        assert fast.fast_path and not slow.fast_path
        np.testing.assert_array_equal(fast[:], slow[:])
        np.testing.assert_array_equal(fast[2:7], slow[2:7])
        assert_same(slow, packed)


@pytest.mark.parametrize(
    "options",
    [
        {"compression": "lzw"},
        {"compression": "lzw", "predictor": True},
        {"compression": "zstd"},
        {"compression": "zlib", "tile": (16, 16)},
        {"compression": "lzw", "imagej": True},
    ],
    ids=["lzw", "lzw-predictor", "zstd", "zlib-tiles", "imagej-lzw"],
)
def test_compressions_written_by_other_programs(tmp_path, options):
    """LZW (what Fiji's Bio-Formats exporter and many vendors' exports write), Zstandard
    and tiled images: the frames of the plain file (their codecs come with imagecodecs,
    a dependency)."""
    data = make_frames(n=9, height=32, width=40)
    path = tmp_path / "packed.tif"
    imwrite(path, data, **options)
    with open_movie(path) as movie:
        assert not movie.fast_path
        np.testing.assert_array_equal(movie[2:7], data[2:7])
        assert_same(movie, data)


def test_compression_without_its_codec_names_the_package(tmp_path):
    """Without imagecodecs (an environment of one's own), an LZW file fails with one line
    saying what to install, not "truncated or corrupt"."""
    import subprocess
    import sys

    path = tmp_path / "lzw.tif"
    imwrite(path, make_frames(n=5), compression="lzw")
    code = (
        "import sys; sys.modules['imagecodecs'] = None\n"
        "import numpy as np\n"
        "from smlmlp.loading import open_movie\n"
        "from smlmlp.formats import MissingReaderError\n"
        f"movie = open_movie({str(path)!r})\n"
        "try:\n"
        "    np.asarray(movie)\n"
        "except MissingReaderError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout == (
        f"{path}: its images are compressed (LZW): reading them needs imagecodecs: "
        "pip install imagecodecs\n"
    ), result.stderr


def test_uncompressed_non_contiguous_file(tmp_path):
    # pages written one by one with their IFDs in between: not contiguous
    path = tmp_path / "pages.tif"
    data = make_frames(n=7)
    with tifffile.TiffWriter(path) as tif:
        for frame in data:
            tif.write(frame, contiguous=False, description=None, metadata=None)
    with open_movie(path) as movie:
        assert not movie.fast_path
        assert_same(movie, data)


def test_movie_appended_in_chunks(tmp_path):
    # tifffile stores chunks of different lengths as consecutive "shaped" series
    path = tmp_path / "streamed.tif"
    data = make_frames(n=13)
    with tifffile.TiffWriter(path) as tif:
        for chunk in (data[0:5], data[5:10], data[10:12], data[12]):
            tif.write(chunk, contiguous=True, photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        assert len(tif.series) > 1
    with open_movie(path) as movie:
        assert movie.shape == (13, 16, 20)
        assert movie.fast_path
        assert movie.paths == [str(path.resolve())]
        assert_same(movie, data)
        np.testing.assert_array_equal(movie[8:13], data[8:13])  # across the series


def test_unrelated_extra_series_is_ignored_with_warning(tmp_path):
    path = tmp_path / "with_thumbnail.tif"
    data = make_frames(n=6)
    imwrite(path, data)
    with tifffile.TiffWriter(path, append=True) as tif:
        tif.write(np.zeros((4, 4), np.uint8))
    with pytest.warns(UserWarning, match="2 image series"), open_movie(path) as movie:
        assert_same(movie, data)


# --------------------------------------------------------------------------- #
# Only the requested frames are read
# --------------------------------------------------------------------------- #


def test_fast_path_reads_only_requested_frames(tmp_path, monkeypatch):
    path = tmp_path / "long.tif"
    data = make_frames(n=200, height=8, width=10)
    imwrite(path, data)
    with tifffile.TiffFile(path) as tif:
        dataoffset = tif.series[0].dataoffset
    calls = []
    fromfile = np.fromfile

    def spy(file, dtype=float, count=-1, **kwargs):
        calls.append((file.tell(), np.dtype(dtype), count, kwargs.get("offset", 0)))
        return fromfile(file, dtype=dtype, count=count, **kwargs)

    with open_movie(path) as movie:
        monkeypatch.setattr(np, "fromfile", spy)
        chunk = movie[10:20]
        monkeypatch.undo()
        assert movie.fast_path
    np.testing.assert_array_equal(chunk, data[10:20])
    frame_bytes = 8 * 10 * 2
    assert len(calls) == 1
    position, dtype, count, offset = calls[0]
    assert position + offset == dataoffset + 10 * frame_bytes
    assert count == 10 * 8 * 10 and dtype.itemsize == 2
    assert movie._stats["bytes_read"] == 10 * frame_bytes


def test_page_path_reads_only_requested_pages(tmp_path, monkeypatch):
    path = tmp_path / "long_zlib.tif"
    data = make_frames(n=200, height=8, width=10)
    imwrite(path, data, compression="zlib")
    pages = []
    asarray = tifffile.TiffPage.asarray

    def spy(self, *args, **kwargs):
        pages.append(self.index)
        return asarray(self, *args, **kwargs)

    with open_movie(path) as movie:
        monkeypatch.setattr(tifffile.TiffPage, "asarray", spy)
        chunk = movie[10:20]
        monkeypatch.undo()
        assert not movie.fast_path
        assert movie._stats["pages_read"] == 10
    np.testing.assert_array_equal(chunk, data[10:20])
    assert pages == list(range(10, 20))


# --------------------------------------------------------------------------- #
# Slicing protocol
# --------------------------------------------------------------------------- #


def test_frame_keys(tmp_path):
    path = tmp_path / "keys.tif"
    data = make_frames(n=10)
    imwrite(path, data)
    with open_movie(path) as movie:
        for key in [
            slice(None),
            slice(None, 3),
            slice(7, None),
            slice(-4, -1),
            slice(-100, 100),
            slice(2, 5, 1),
            slice(6, 2),
            slice(10, 12),
        ]:
            np.testing.assert_array_equal(movie[key], data[key])
            assert movie[key].shape == data[key].shape
        assert movie[3].shape == (16, 20)
        np.testing.assert_array_equal(movie[-1], data[-1])
        np.testing.assert_array_equal(movie[np.int64(4)], data[4])
        np.testing.assert_array_equal(np.asarray(movie), data)
        with pytest.raises(IndexError, match="frame 10"):
            movie[10]
        with pytest.raises(IndexError):
            movie[-11]
        for key in [slice(0, 6, 2), slice(None, None, -1), 1.5, (slice(0, 2), 0), [1, 2], True]:
            with pytest.raises(TypeError):
                movie[key]


def test_close_and_repr(tmp_path):
    path = tmp_path / "closing.ome.tif"
    imwrite(path, make_frames(n=4), metadata={"axes": "TYX", "PhysicalSizeX": 0.1})
    movie = open_movie(path, name="channel 0")
    text = repr(movie)
    assert "closing.ome.tif" in text and "(4, 16, 20)" in text and "uint16" in text
    assert "pixel_nm=(100.0, 100.0)" in text
    movie.close()
    assert movie.closed and "closed" in repr(movie)
    with pytest.raises(ValueError, match="closed"):
        movie[0:2]


# --------------------------------------------------------------------------- #
# Micro-Manager metadata
# --------------------------------------------------------------------------- #


def test_micromanager_metadata(tmp_path):
    path = tmp_path / "mm.tif"
    image_metadata = json.dumps({"Exposure-ms": 15.5, "PixelSizeUm": 0.117})
    imwrite(path, make_frames(n=5), extratags=[(51123, "s", 0, image_metadata, True)])
    with open_movie(path) as movie:
        assert movie.metadata["exposure_ms"] == pytest.approx(15.5)
        assert movie.metadata["pixel_nm"] == pytest.approx((117.0, 117.0))
        assert_same(movie, path)


def test_tiff_resolution_in_micrometre(tmp_path):
    path = tmp_path / "resolution.tif"
    imwrite(path, make_frames(n=3), resolution=(1 / 0.16, 1 / 0.16), resolutionunit="MICROMETER")
    with open_movie(path) as movie:
        assert movie.metadata["pixel_nm"] == pytest.approx((160.0, 160.0))


def test_tiff_resolution_in_inch_is_ignored(tmp_path):
    path = tmp_path / "dpi.tif"
    imwrite(path, make_frames(n=3), resolution=(72, 72), resolutionunit="INCH")
    with open_movie(path) as movie:
        assert movie.metadata["pixel_nm"] is None


# --------------------------------------------------------------------------- #
# split_movie
# --------------------------------------------------------------------------- #


def test_split_horizontal_and_vertical_arrays():
    data = make_frames(n=5, height=6, width=8)
    left, right = split_movie(data, "horizontal")
    assert left.shape == right.shape == (5, 6, 4)
    np.testing.assert_array_equal(left[:], data[:, :, :4])
    np.testing.assert_array_equal(right[1:3], data[1:3, :, 4:])
    np.testing.assert_array_equal(right[-1], data[-1, :, 4:])
    top, bottom = split_movie(data, "vertical")
    assert top.shape == bottom.shape == (5, 3, 8)
    np.testing.assert_array_equal(top[2:], data[2:, :3])
    np.testing.assert_array_equal(bottom[0], data[0, 3:])
    for view in (left, right, top, bottom):
        assert isinstance(view, SplitView)
        assert view.ndim == 3 and len(view) == 5 and view.dtype == data.dtype
        assert check_stack(view) is view
        assert view[0:2].flags["C_CONTIGUOUS"]
    assert "right half" in repr(right)


def test_split_tiff_movie_is_lazy(tmp_path, monkeypatch):
    path = tmp_path / "two_channels.ome.tif"
    data = make_frames(n=20, height=8, width=12)
    imwrite(path, data, metadata={"axes": "TYX", "PhysicalSizeX": 0.1})
    with open_movie(path) as movie:
        left, right = split_movie(movie, "horizontal", name="two_channels")
        assert right.metadata["pixel_nm"] == pytest.approx((100.0, 100.0))
        assert right.paths == movie.paths
        before = movie._stats["bytes_read"]
        np.testing.assert_array_equal(right[5:8], data[5:8, :, 6:])
        assert movie._stats["bytes_read"] - before == 3 * 8 * 12 * 2
        np.testing.assert_array_equal(left[:], data[:, :, :6])
        np.testing.assert_array_equal(
            np.concatenate([chunk for _, chunk in iter_chunks(right, 7)]), data[:, :, 6:]
        )


def test_split_errors():
    with pytest.raises(ValueError, match="movie.*width 7.*odd"):
        split_movie(np.zeros((4, 6, 7)), "horizontal")
    with pytest.raises(ValueError, match="cam.*height 5.*odd"):
        split_movie(np.zeros((4, 5, 8)), "vertical", name="cam")
    with pytest.raises(ValueError, match="unknown split 'diagonal'"):
        split_movie(np.zeros((4, 6, 8)), "diagonal")
    with pytest.raises(ValueError, match="cam.*3-D"):
        split_movie(np.zeros((6, 8)), "horizontal", name="cam")
    left, _ = split_movie(np.zeros((4, 6, 8)), "horizontal")
    with pytest.raises(TypeError):
        left[0:4:2]
    with pytest.raises(IndexError):
        left[4]


# --------------------------------------------------------------------------- #
# check_stack
# --------------------------------------------------------------------------- #


def test_check_stack_accepts_valid_stacks(tmp_path):
    data = np.zeros((3, 4, 5), dtype=np.float32)
    assert check_stack(data) is data
    converted = check_stack([[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]])
    assert isinstance(converted, np.ndarray) and converted.shape == (3, 2, 2)
    mapped = np.lib.format.open_memmap(
        tmp_path / "m.npy", mode="w+", dtype=np.uint16, shape=(3, 4, 5)
    )
    assert check_stack(mapped) is mapped


def test_check_stack_errors():
    for path in ("movie.tif", Path("movie.tif")):  # a path: told how to open it
        with pytest.raises(
            TypeError,
            match=r"channel 2: 'movie.tif' is a path, not a stack of frames; open the movie "
            r"with smlmlp.loading.open_movie\(path\)",
        ):
            check_stack(path, name="channel 2")
    with pytest.raises(TypeError, match="channel 0: expected an array-like"):
        check_stack(42)
    with pytest.raises(
        ValueError,
        match=r"channel 1: expected a 3-D stack \(frames, height, width\), got a 2-D array of "
        r"shape \(8, 9\); a single image cannot give a PSF",
    ):
        check_stack(np.zeros((8, 9)), name="channel 1")
    with pytest.raises(ValueError, match="4-D array.*pass each channel"):
        check_stack(np.zeros((2, 3, 8, 9)))
    with pytest.raises(ValueError, match="1-D"):
        check_stack(np.zeros(5))
    with pytest.raises(ValueError, match=r"cam: 1 frame\(s\), at least 3 are needed"):
        check_stack(np.zeros((1, 8, 9)), name="cam")
    with pytest.raises(ValueError, match="empty"):
        check_stack(np.zeros((3, 0, 9)))
    for dtype in (bool, complex, np.complex64, object, "U3"):
        with pytest.raises(TypeError, match="cam"):
            check_stack(np.zeros((3, 8, 9), dtype=dtype), name="cam")
    with pytest.raises(TypeError, match="ragged"):
        check_stack([[[1, 2]], [[1]]], name="ragged")


# --------------------------------------------------------------------------- #
# File errors
# --------------------------------------------------------------------------- #


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.tif"):
        open_movie(tmp_path / "nowhere.tif")


def test_not_a_tiff(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello, this is text")
    with pytest.raises(ValueError, match=r"x.txt: not a TIFF file \("):
        open_movie(path)
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.tif: not a TIFF file"):
        open_movie(empty)
    with pytest.raises(IsADirectoryError, match=tmp_path.name):
        open_movie(tmp_path)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"bigtiff": True},
        {"imagej": True},
        {"metadata": {"axes": "TYX"}},
        {"compression": "zlib"},
    ],
    ids=["plain", "bigtiff", "imagej", "ome", "zlib"],
)
def test_file_truncated_at_half(tmp_path, options):
    path = tmp_path / "cut.ome.tif" if "metadata" in options else tmp_path / "cut.tif"
    data = make_frames(n=30)
    imwrite(path, data, **options)
    os.truncate(path, path.stat().st_size // 2)
    # opening raises, or at the latest reading the lost frames does
    with pytest.raises(ValueError, match=path.name):
        with open_movie(path) as movie:
            movie[len(movie) - 5 :]
            movie[:]


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_file_truncated_after_opening(tmp_path, compression):
    path = tmp_path / "shrinking.tif"
    data = make_frames(n=30)
    imwrite(path, data, compression=compression)
    with open_movie(path) as movie:
        os.truncate(path, path.stat().st_size // 2)
        np.testing.assert_array_equal(movie[0:2], data[0:2])  # still on disk
        with pytest.raises(ValueError, match=r"shrinking.tif.*frames 25\.\.29"):
            movie[25:30]


def test_single_image_file(tmp_path):
    path = tmp_path / "snapshot.tif"
    imwrite(path, make_frames(n=1)[0])
    with pytest.raises(ValueError, match="snapshot.tif: expected a 3-D stack.*2-D image"):
        open_movie(path)


def test_single_images_are_told_from_movies_by_their_first_page(tmp_path):
    """A snapshot (one image, with or without metadata, grey or colour) against movies
    of every kind, a movie of one page with the frame count in its metadata included."""
    from smlmlp.tiff_movie import tiff_single_image

    image, frames = make_frames(n=3)[0], make_frames(n=3)
    singles = {
        "plain.tif": dict(data=image, metadata=None),
        "shaped.tif": dict(data=image),
        "imagej.tif": dict(data=image, imagej=True),
        "one.ome.tif": dict(data=image, metadata={"axes": "YX"}),
        "rgb.tif": dict(data=np.zeros((*image.shape, 3), np.uint8), photometric="rgb"),
        "one_frame.tif": dict(data=frames[:1]),
    }
    movies = {
        "pages.tif": dict(data=frames, metadata=None),
        "imagej_movie.tif": dict(data=frames, imagej=True),
        "one_page_imagej.tif": dict(data=frames, imagej=True, truncate=True),
        "one_page.tif": dict(data=frames, truncate=True),
        "movie.ome.tif": dict(data=frames, metadata={"axes": "TYX"}),
    }
    for name, options in {**singles, **movies}.items():
        imwrite(tmp_path / name, **options)
    for name, options in singles.items():
        assert tiff_single_image(tmp_path / name) == options["data"].shape, name
    for name in movies:
        assert tiff_single_image(tmp_path / name) is None, name
    (tmp_path / "notes.tif").write_text("not a TIFF")
    assert tiff_single_image(tmp_path / "notes.tif") is None  # its job names the problem
    assert tiff_single_image(tmp_path / "missing.tif") is None


def test_too_many_axes(tmp_path):
    path = tmp_path / "movie.ome.tif"
    data = np.zeros((3, 4, 2, 16, 20), dtype=np.uint16)  # time, z planes and channels
    imwrite(path, data, metadata={"axes": "TZCYX"})
    with pytest.raises(
        ValueError,
        match=r"movie.ome.tif: expected one frame axis and two image axes, found axes "
        r"'TZCYX' with shape \(3, 4, 2, 16, 20\)",
    ):
        open_movie(path)


def test_rgb_and_complex_files(tmp_path):
    rgb = tmp_path / "rgb.tif"
    imwrite(rgb, np.zeros((4, 16, 20, 3), np.uint8), photometric="rgb")
    with pytest.raises(ValueError, match="rgb.tif.*RGB"):
        open_movie(rgb)
    cplx = tmp_path / "complex.tif"
    imwrite(cplx, np.zeros((4, 16, 20), np.complex64))
    with pytest.raises(TypeError, match="complex.tif: complex"):
        open_movie(cplx)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="empty list"):
        open_movie([])
    with pytest.raises(TypeError):
        open_movie(3)


def test_name_is_used_in_messages(tmp_path):
    path = tmp_path / "one.tif"
    imwrite(path, make_frames(n=1)[0])
    with pytest.raises(ValueError, match=r"channel 1 \(.*one.tif\)"):
        open_movie(path, name="channel 1")


def test_movie_is_not_silently_pickled_with_garbage(tmp_path):
    # pickling a lazy movie is not supported; it must fail loudly rather than
    # produce an object that reads wrong data
    path = tmp_path / "p.tif"
    imwrite(path, make_frames(n=3))
    with open_movie(path) as movie, pytest.raises(TypeError):
        pickle.dumps(movie)


# --------------------------------------------------------------------------- #
# iter_chunks
# --------------------------------------------------------------------------- #


def test_iter_chunks():
    data = make_frames(n=10, height=2, width=3)
    chunks = list(iter_chunks(data, 4))
    assert [first for first, _ in chunks] == [0, 4, 8]
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), data)
    chunks = list(iter_chunks(data, 3, start=2, stop=7))
    assert [(first, len(c)) for first, c in chunks] == [(2, 3), (5, 2)]
    np.testing.assert_array_equal(chunks[1][1], data[5:7])
    assert [first for first, _ in iter_chunks(data, 100, start=-3)] == [7]
    assert list(iter_chunks(data, 2, start=4, stop=4)) == []
    assert [first for first, _ in iter_chunks(data, np.int32(5))] == [0, 5]


def test_iter_chunks_errors():
    data = np.zeros((10, 2, 3))
    with pytest.raises(ValueError, match="chunk_frames"):
        next(iter_chunks(data, 0))
    with pytest.raises(TypeError, match="chunk_frames"):
        next(iter_chunks(data, 2.5))
    with pytest.raises(TypeError, match="chunk_frames"):
        next(iter_chunks(data, True))
    with pytest.raises(ValueError, match="stop=11"):
        next(iter_chunks(data, 2, stop=11))
    with pytest.raises(ValueError, match="start"):
        next(iter_chunks(data, 2, start=-11))
    with pytest.raises(ValueError, match="before start"):
        next(iter_chunks(data, 2, start=6, stop=3))
    with pytest.raises(TypeError, match="start"):
        next(iter_chunks(data, 2, start="1"))
    with pytest.raises(TypeError, match="stack"):
        next(iter_chunks(object(), 2))


def test_imagej_frame_interval_gives_the_exposure(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(
        path,
        np.zeros((4, 8, 8), np.uint16),
        imagej=True,
        metadata={"axes": "TYX", "finterval": 0.03},
    )
    with open_movie(path) as movie:
        assert movie.metadata["exposure_ms"] == pytest.approx(30.0)
