"""Writers of the movie formats besides TIFF, for the tests (fixture ``movie_formats``).

Each ``write_*(path, movie, ...)`` writes a ``(frames, height, width)`` uint16 movie
in one format as the rig's software lays it out, and returns the path to open.
"""

from __future__ import annotations

import datetime
import io
import json
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import yaml

from smlmlp import blink_spatial_psf


def widths(stack: Any) -> list[float]:
    """``[sigx, sigy]`` in nm of a stack of frames of 100 nm pixels (crop 21, chunks of
    64 frames): what a format's frames must give as the TIFF's do."""
    _, info = blink_spatial_psf([stack], 21, channels_pixels_nm=100.0, chunk_frames=64)
    return [float(info["sigx"][0]), float(info["sigy"][0])]


def one_line(error: BaseException, *words: str) -> str:
    """The error's message, checked to be one line holding every one of ``words``."""
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    for word in words:
        assert word in text, text
    return text


def write_dax(path: Path, movie: np.ndarray, *, endian: str = "big") -> Path:
    """Zhuang lab ``.dax`` (raw uint16) and its ``.inf``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    order = ">" if endian == "big" else "<"
    np.ascontiguousarray(movie, dtype=order + "u2").tofile(path)
    n, height, width = movie.shape
    path.with_suffix(".inf").write_text(
        "binning = 1 x 1\n"
        f"data type = 16 bit integers (binary, {endian} endian)\n"
        f"frame dimensions = {width} x {height}\n"
        f"number of frames = {n}\n"
        "Lock Target = 0.0\n"
        f"x_start = 1\nx_end = {width}\ny_start = 1\ny_end = {height}\n"
    )
    return path


def write_picasso_raw(
    path: Path,
    movie: np.ndarray,
    *,
    byte_order: str = "<",
    pixel_nm: float | None = None,
    exposure_ms: float | None = None,
) -> Path:
    """Picasso ``.raw`` and its ``.yaml`` (optional Pixelsize and Micro-Manager exposure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.ascontiguousarray(movie, dtype=byte_order + "u2").tofile(path)
    n, height, width = movie.shape
    info: dict[str, Any] = {
        "Byte Order": byte_order,
        "Data Type": "uint16",
        "File": str(path),
        "Frames": int(n),
        "Height": int(height),
        "Width": int(width),
    }
    if pixel_nm is not None:
        info["Pixelsize"] = float(pixel_nm)
    if exposure_ms is not None:
        info["Micro-Manager Metadata"] = {"Exposure-ms": float(exposure_ms)}
    path.with_suffix(".yaml").write_text(yaml.safe_dump_all([info], sort_keys=False))
    return path


def _ims_attr(value: Any) -> np.ndarray:
    """An Imaris attribute: the text as an array of one-character byte strings."""
    return np.array(list(str(value)), dtype="S1")


def write_ims(
    path: Path,
    movie: np.ndarray,
    *,
    pixel_nm: float | None = None,
    exposure_ms: float | None = None,
    pad: int = 0,
    frames_as_planes: bool = False,
    channel_names: list[str] | None = None,
) -> Path:
    """Imaris ``.ims``: one time point per frame (one z plane each), data padded by ``pad``
    pixels as Imaris pads to its chunks; or all frames as the z planes of one time point.
    A movie ``(frames, channels, height, width)``: ``Channel c`` groups, named by
    ``channel_names`` in ``DataSetInfo/Channel c``."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    planes = movie if movie.ndim == 4 else movie[:, None]
    n, n_channels, height, width = planes.shape
    with h5py.File(path, "w") as handle:
        for key, value in {"ImarisDataSet": "ImarisDataSet", "ImarisVersion": "5.5.0"}.items():
            handle.attrs[key] = _ims_attr(value)
        level = handle.create_group("DataSet/ResolutionLevel 0")
        for c in range(n_channels):
            padded = np.zeros((n, height + pad, width + pad), dtype=movie.dtype)
            padded[:, :height, :width] = planes[:, c]
            if frames_as_planes:
                level.create_dataset(f"TimePoint 0/Channel {c}/Data", data=padded, chunks=True)
                continue
            for t in range(n):
                channel = level.create_group(f"TimePoint {t}/Channel {c}")
                channel.create_dataset("Data", data=padded[t : t + 1])
                for key, value in {"ImageSizeX": width, "ImageSizeY": height}.items():
                    channel.attrs[key] = _ims_attr(value)
        for c, name in enumerate(channel_names or []):
            handle.create_group(f"DataSetInfo/Channel {c}").attrs["Name"] = _ims_attr(name)
        image = handle.create_group("DataSetInfo/Image")
        z = n if frames_as_planes else 1
        attrs = {"X": width, "Y": height, "Z": z, "Unit": "um"}
        if pixel_nm is not None:
            size_um = pixel_nm / 1000.0
            attrs.update(
                ExtMin0=0,
                ExtMax0=f"{width * size_um:.6f}",
                ExtMin1=0,
                ExtMax1=f"{height * size_um:.6f}",
                ExtMin2=0,
                ExtMax2=1,
            )
        for key, value in attrs.items():
            image.attrs[key] = _ims_attr(value)
        times = handle.create_group("DataSetInfo/TimeInfo")
        times.attrs["DatasetTimePoints"] = _ims_attr(1 if frames_as_planes else n)
        if exposure_ms is not None:
            start = datetime.datetime(2024, 5, 13, 10, 0, 0)
            for t in range(1, min(n, 4) + 1):
                moment = start + datetime.timedelta(milliseconds=(t - 1) * exposure_ms)
                times.attrs[f"TimePoint{t}"] = _ims_attr(
                    moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
                )
    return path


def write_ome_zarr(
    path: Path,
    movie: np.ndarray,
    *,
    pixel_nm: float | None = None,
    exposure_ms: float | None = None,
    chunk_frames: int = 64,
    channel_names: list[str] | None = None,
) -> Path:
    """OME-Zarr (NGFF 0.4, Zarr v2) with axes t, c, z, y, x and its scale transformation;
    a movie ``(frames, channels, height, width)`` fills the c axis, ``channel_names``
    the ``omero`` channels' labels."""
    import zarr

    planes = movie if movie.ndim == 4 else movie[:, None]
    n, n_channels, height, width = planes.shape
    shape, chunks = (n, n_channels, 1, height, width), (chunk_frames, 1, 1, height, width)
    if int(zarr.__version__.split(".")[0]) >= 3:
        group = zarr.open_group(str(path), mode="w", zarr_format=2)
        data = group.create_array(
            "0", shape=shape, chunks=chunks, dtype=movie.dtype, compressors=None
        )
    else:  # zarr 2 (Python 3.10)
        group = zarr.open_group(str(path), mode="w")
        data = group.create_dataset(
            "0", shape=shape, chunks=chunks, dtype=movie.dtype, compressor=None
        )
    data[:] = planes[:, :, None]
    size_um = 1.0 if pixel_nm is None else pixel_nm / 1000.0
    axes = [
        {"name": "t", "type": "time", "unit": "millisecond"},
        {"name": "c", "type": "channel"},
        {"name": "z", "type": "space", "unit": "micrometer"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    transforms = []
    if pixel_nm is not None or exposure_ms is not None:
        time = 1.0 if exposure_ms is None else float(exposure_ms)
        transforms = [{"type": "scale", "scale": [time, 1.0, 1.0, size_um, size_um]}]
        if exposure_ms is None:
            del axes[0]["unit"]
    dataset: dict[str, Any] = {"path": "0"}
    if transforms:
        dataset["coordinateTransformations"] = transforms
    group.attrs["multiscales"] = [
        {"version": "0.4", "name": path.stem, "axes": axes, "datasets": [dataset]}
    ]
    if channel_names:
        group.attrs["omero"] = {"channels": [{"label": name} for name in channel_names]}
    return path


def write_bioformats2raw(
    path: Path,
    movies: list[np.ndarray],
    *,
    names: list[str] | None = None,
    pixel_nm: list[float | None] | None = None,
    channel_names: list[list[str] | None] | None = None,
    series: bool = False,
) -> Path:
    """OME-Zarr in bioformats2raw's layout (what ``bioformats2raw`` writes of any file):
    the root group marked ``bioformats2raw.layout: 3``, one image per movie in ``0/``,
    ``1/``, ... (:func:`write_ome_zarr`), and ``OME/METADATA.ome.xml`` listing the
    images with their ``names`` when given; ``series``: the images in ``img0/``,
    ``img1/``, ... instead, listed in the ``OME`` group's ``series`` attribute."""
    import zarr

    if int(zarr.__version__.split(".")[0]) >= 3:
        root = zarr.open_group(str(path), mode="w", zarr_format=2)
    else:  # zarr 2 (Python 3.10)
        root = zarr.open_group(str(path), mode="w")
    root.attrs["bioformats2raw.layout"] = 3
    folders = [f"img{index}" if series else str(index) for index in range(len(movies))]
    if series:
        root.create_group("OME").attrs["series"] = folders
    for folder, (index, movie) in zip(folders, enumerate(movies), strict=True):
        write_ome_zarr(
            path / folder,
            movie,
            pixel_nm=None if pixel_nm is None else pixel_nm[index],
            channel_names=None if channel_names is None else channel_names[index],
        )
    if names is not None:
        images = "".join(
            f'<Image ID="Image:{i}" Name="{name}"><Pixels ID="Pixels:{i}"/></Image>'
            for i, name in enumerate(names)
        )
        (path / "OME").mkdir(exist_ok=True)
        (path / "OME" / "METADATA.ome.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">{images}</OME>'
        )
    return path


def write_czi(
    path: Path,
    movie: np.ndarray | list[np.ndarray],
    *,
    pixel_nm: float | None = None,
    channel_names: list[str] | None = None,
) -> Path:
    """Zeiss ``.czi`` with pylibCZIrw: one T plane per frame; a movie ``(frames,
    channels, height, width)`` one T, C plane per frame of each channel; a list of
    movies (of one length and channels, any frame shape) one scene each (positions of
    a tile scan), side by side in the mosaic with gaps between them."""
    from pylibCZIrw import czi

    path.parent.mkdir(parents=True, exist_ok=True)
    scenes = movie if isinstance(movie, list) else [movie]
    with czi.create_czi(str(path), exist_ok=True) as writer:
        left = 0
        for scene, frames in enumerate(scenes):
            planes = frames if frames.ndim == 4 else frames[:, None]
            for t, channels in enumerate(planes):
                for c, frame in enumerate(channels):
                    writer.write(np.ascontiguousarray(frame), plane={"T": t, "Z": 0, "C": c},
                                 scene=scene, location=(left, 7 * scene))
            left += frames.shape[-1] + 50
        scale = 0.0 if pixel_nm is None else pixel_nm * 1e-9
        names = None if channel_names is None else dict(enumerate(channel_names))
        writer.write_metadata(scale_x=scale, scale_y=scale, channel_names=names)
    return path


# ------------------------------------------------------------------ Nikon .nd2
# An ND2 (version 3) file is a run of chunks, each a 16-byte header (magic, name
# length, data length), its name and its data; a map of the chunks' offsets closes
# the file, and its own offset is the file's last 8 bytes. Metadata chunks hold one
# "lite variant" record: a type byte, the name's length in UTF-16 units, the name
# (UTF-16, zero-terminated), then the value; a level (type 11) holds records.
_ND2_MAGIC = 0x0ABECEDA
_ND2_ALIGN = 4096


def _lv_name(kind: int, name: str) -> bytes:
    text = (name + "\0").encode("utf-16-le")
    return struct.pack("BB", kind, len(text) // 2) + text


def _lv(name: str, value: Any) -> bytes:
    """One record: bool, int (uint32), float (double), str, or dict (a level)."""
    if isinstance(value, bool):
        return _lv_name(1, name) + struct.pack("<B", value)
    if isinstance(value, int):
        return _lv_name(3, name) + struct.pack("<I", value)
    if isinstance(value, float):
        return _lv_name(6, name) + struct.pack("<d", value)
    if isinstance(value, str):
        return _lv_name(8, name) + (value + "\0").encode("utf-16-le")
    head = _lv_name(11, name)
    items = b"".join(_lv(key, item) for key, item in value.items())
    length = len(head) + 12 + len(items)
    return head + struct.pack("<IQ", len(value), length) + items + bytes(8 * len(value))


def _nd2_chunk(name: bytes, data: bytes, name_length: int | None = None) -> bytes:
    name_length = len(name) if name_length is None else name_length
    header = struct.pack("<IIQ", _ND2_MAGIC, name_length, len(data))
    return header + name.ljust(name_length, b"\0") + data


def write_nd2(
    path: Path,
    movie: np.ndarray,
    *,
    pixel_nm: float | None = None,
    exposure_ms: float | list[float] | None = None,
    period_ms: float = 0.0,
    capturing: str | None = None,
    channels: int = 1,
    planned_frames: int | None = None,
    compressed: bool = False,
    position_names: list[str] | None = None,
) -> Path:
    """Nikon ``.nd2`` (version 3, uncompressed) as NIS-Elements lays out a time lapse.

    ``movie``: ``(frames, height, width)``, or ``(frames, height, width, channels)``
    with ``channels`` > 1 (the channels interleaved in each frame). Pixel size and
    exposure go where NIS-Elements keeps them (the picture metadata's calibration
    and the first channel's sample setting); ``capturing`` is the text description
    of the capture; ``planned_frames``: the time loop's count when the acquisition
    stopped before it ended (more than the frames written); ``compressed``: each
    frame's pixels deflated (NIS-Elements' lossless compression);
    ``position_names``: ``movie`` is ``(frames, positions, height, width[, channels])``,
    a multi-point acquisition (an XY position loop inside the time loop: every
    position at each time point, its points so named).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if position_names:  # the sequence: each time point's positions one after the other
        movie = movie.reshape(-1, *movie.shape[2:])
    frames = np.ascontiguousarray(movie)
    n, height, width = frames.shape[:3]
    bits = frames.dtype.itemsize * 8
    row_bytes = width * channels * frames.dtype.itemsize
    padded = -(-row_bytes // 4) * 4  # NIS-Elements pads each row to 4 bytes
    attributes = {
        "uiWidth": width,
        "uiWidthBytes": padded,
        "uiHeight": height,
        "uiComp": channels,
        "uiBpcInMemory": bits,
        "uiBpcSignificant": bits,
        "uiSequenceCount": n,
        "uiTileWidth": width,
        "uiTileHeight": height,
        "eCompression": 0 if compressed else 2,
    }
    def spectrum(nm: float) -> dict[str, Any]:
        return {"uiCount": 1, "pPoint": {"Point0": {"dWavelength": nm, "dTValue": 1.0}}}

    probe = {"m_ExcitationSpectrum": spectrum(640.0), "m_EmissionSpectrum": spectrum(670.0)}
    planes = {
        f"a{c}": {"sDescription": f"channel {c}", "uiCompCount": 1, "pFluorescentProbe": probe}
        for c in range(channels)
    }
    exposures = exposure_ms if isinstance(exposure_ms, list | tuple) else [exposure_ms] * channels
    settings = {f"a{c}": {"dExposureTime": float(exposures[c] or 0.0)} for c in range(channels)}
    picture = {
        "bCalibrated": pixel_nm is not None,
        "dCalibration": 1.0 if pixel_nm is None else pixel_nm / 1000.0,
        "dObjectiveMag": 100.0,
        "sPicturePlanes": {"uiCount": channels, "sPlaneNew": planes, "sSampleSetting": settings},
    }
    count = n if planned_frames is None else planned_frames
    if position_names:
        count //= len(position_names)
    loop = {"uiCount": count, "dStart": 0.0, "dPeriod": period_ms, "dDuration": 0.0}
    experiment: dict[str, Any] = {"eType": 1, "uLoopPars": loop}
    if position_names:
        points = {
            f"i{index:010d}": {"dPosX": 100.0 * index, "dPosY": 0.0, "dPosZ": 0.0,
                               "pPosName": name}
            for index, name in enumerate(position_names)
        }
        positions = {"eType": 2, "uLoopPars": {"bUseZ": False, "Points": points}}
        experiment["ppNextLevelEx"] = {"i0000000000": positions}
    metadata = [
        (b"ImageAttributesLV!", _lv("SLxImageAttributes", attributes)),
        (b"ImageMetadataLV!", _lv("SLxExperiment", experiment)),
        (b"ImageMetadataSeqLV|0!", _lv("SLxPictureMetadata", picture)),
    ]
    if capturing is not None:
        text = {"TextInfoItem_6": capturing}
        metadata.append((b"ImageTextInfoLV!", _lv("SLxImageTextInfo", text)))
    signature = b"ND2 FILE SIGNATURE CHUNK NAME01!"
    out = bytearray(_nd2_chunk(signature, b"Ver3.0".ljust(64, b"\0")))
    offsets: list[tuple[bytes, int, int]] = []

    def add(name: bytes, data: bytes, name_length: int | None = None) -> None:
        out.extend(bytes(-len(out) % _ND2_ALIGN))  # chunks start on 4 KiB boundaries
        offsets.append((name, len(out), len(data)))
        out.extend(_nd2_chunk(name, data, name_length))

    for index, frame in enumerate(frames):
        stamp = struct.pack("<d", index * max(period_ms, 1.0))  # the pixels at +4096
        rows = np.zeros((height, padded), np.uint8)
        rows[:, :row_bytes] = frame.reshape(height, -1).view(np.uint8)
        pixels = zlib.compress(rows.tobytes()) if compressed else rows.tobytes()
        add(f"ImageDataSeq|{index}!".encode(), stamp + pixels, _ND2_ALIGN - 24)
    for name, data in metadata:
        add(name, data)
    closing = b"ND2 CHUNK MAP SIGNATURE 0000001!"
    entries = b"".join(name + struct.pack("<QQ", at, size) for name, at, size in offsets)
    out.extend(bytes(-len(out) % _ND2_ALIGN))
    location = len(out)
    out.extend(_nd2_chunk(b"ND2 FILEMAP SIGNATURE NAME 0001!", entries + closing))
    out.extend(struct.pack("<Q", location))
    # the map chunk's data ends with the closing signature and the map's offset
    out[location + 8 : location + 16] = struct.pack("<Q", len(entries) + len(closing) + 8)
    path.write_bytes(bytes(out))
    return path


# ------------------------------------------------------- Micro-Manager NDTiff
def write_ndtiff(
    folder: Path,
    name: str,
    movie: np.ndarray,
    *,
    channel_names: list[str] | None = None,
    pixel_um: float | None = None,
    exposure_ms: float | list[float] = 20.0,
    file_bytes: int | None = None,
    missing_last: int = 0,
    positions: int = 0,
) -> Path:
    """A Micro-Manager NDTiff dataset written by ``ndtiff`` (Micro-Manager's own Python
    writer): ``name_1/name_NDTiffStack*.tif`` and ``NDTiff.index``; returns its folder.

    ``movie``: ``(frames, height, width)``, or ``(frames, channels, height, width)``
    with ``channel_names`` (each image's ``channel`` axis, the channels of each
    frame one after the other as Micro-Manager acquires them). ``pixel_um`` goes to
    the summary metadata (``PixelSize_um``), ``exposure_ms`` (one per channel, or
    one for all) to each image's; ``file_bytes``: a new TIFF file once this size
    would be passed, less the writer's margin of 5 MB (Micro-Manager's files are
    4 GB); ``missing_last``: so many of
    the last channels' images of the last frame are not written (an acquisition
    stopped early); ``positions``: ``movie`` is ``(frames, positions, ...)``, each
    image's ``position`` axis (Micro-Manager's multi-position acquisition: every
    position's channels at each time point).
    """
    import ndtiff
    import ndtiff.ndtiff_file as files

    names = channel_names or [None]
    exposures = exposure_ms if isinstance(exposure_ms, list | tuple) else [exposure_ms] * len(names)
    summary = {} if pixel_um is None else {"PixelSize_um": pixel_um}
    if channel_names:
        summary["ChNames"] = list(channel_names)
    limit, opened = files.MAX_FILE_SIZE, files.SingleNDTiffWriter.__init__

    def flushed(writer: Any, *args: Any, **kwargs: Any) -> None:
        # ndtiff reads a new file's header back before images smaller than its write
        # buffer have flushed it: flush it at once
        opened(writer, *args, **kwargs)
        writer.file.flush()

    files.MAX_FILE_SIZE = limit if file_bytes is None else file_bytes
    files.SingleNDTiffWriter.__init__ = flushed
    try:
        folder.mkdir(parents=True, exist_ok=True)
        dataset = ndtiff.NDTiffDataset(str(folder), name=name, writable=True)
        dataset.initialize(summary)
        for t, at_time in enumerate(movie):
            for p, planes in enumerate(at_time if positions else [at_time]):
                planes = planes if planes.ndim == 3 else planes[None]
                for c, (plane, channel) in enumerate(zip(planes, names, strict=True)):
                    if t == len(movie) - 1 and c >= len(names) - missing_last:
                        break
                    axes = {"time": t} if channel is None else {"time": t, "channel": channel}
                    if positions:
                        axes["position"] = p
                    metadata = {"Exposure-ms": float(exposures[c]), "ElapsedTime-ms": 25.0 * t}
                    dataset.put_image(axes, np.ascontiguousarray(plane), metadata)
        dataset.finish()
    finally:
        files.MAX_FILE_SIZE, files.SingleNDTiffWriter.__init__ = limit, opened
    return Path(dataset.path)


# ------------------------------------------------------------------ Andor .sif
def write_sif(path: Path, movie: np.ndarray, *, exposure_ms: float = 30.0) -> Path:
    """Andor Solis ``.sif`` (version 65567) of a kinetic series: the text header Solis
    writes (magic line, acquisition settings, detector, calibration, axes, image
    structure, one time stamp per frame), then the frames as little-endian float32."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.ascontiguousarray(movie, dtype="<f4").tobytes()
    path.write_bytes(_sif_header(path, movie.shape, exposure_ms) + data)
    return path


def _sif_header(path: Path, shape: tuple[int, ...], exposure_ms: float) -> bytes:
    """The text header of :func:`write_sif` for a movie of ``shape``."""
    n, height, width = shape
    exposure, cycle = exposure_ms / 1e3, exposure_ms / 1e3 + 1e-4
    name = f"C:\\data\\{path.name}"
    header = [
        b"Andor Technology Multi-Channel File\n",
        b"65538 1\n",
        b"65567 0 0 1 1700000000 -80 " + b" " * 10
        + f"0 {exposure:g} {cycle:g} {cycle:g} 1 ".encode() + b"\x00 "
        + f"{cycle:g} 1e-07 0 1 300 0 0 0 ".encode() + b"0 " * 16 + b"0 0 0\n",
        b"DU897_BV\n",
        f"{width} {height} {len(name)}\n{name} \n".encode(),
        b"65538 0\n\n",
        b"65538 \x01\x00\x00\x00\x00\x00\x00\x000 0\n",
        *(b"0 0 0 0\n" for _ in range(8)),
        b"65540 none\n",
        b"65540 intensifier\n",
        b"0 0 0 0 0 0 0 0\n",
        *(b"0 0 0 0\n" for _ in range(8)),
        b"65539 0 1 0 0\n",
        b"0 1 0 0\n",
        b"0 1 0 0\n",
        b"0\n",
        b"422\n",
        b"13\n",
        b"13\n",
        b"12\nPixel number6\nCounts12\nPixel number",
        f"65541 1 {height} {width} 1 {n} 1 {n * width * height} {width * height}\n".encode(),
        f"65538 1 {height} {width} 1 1 1\n".encode(),
        *(f"{frame * int(cycle * 1e6)}\n".encode() for frame in range(n)),
        b"0\n",
    ]
    return b"".join(header)


def write_andor_spool(
    path: Path,
    movie: np.ndarray,
    *,
    exposure_ms: float = 30.0,
    images_per_file: int = 7,
    encoding: str = "Mono16",
    row_padding: int = 6,
    trailer: int = 40,
    declared_frames: int | None = None,
) -> Path:
    """Andor Solis's spooled series, as it spools an sCMOS camera's movie to disk: the
    acquisition's header in ``path`` (Solis names it ``Spooled files.sifx``: a .sif
    header without frames), the frames' layout in ``acquisitionmetadata.ini`` beside it
    (``[data]`` ``AOIHeight``, ``AOIWidth``, ``AOIStride``, ``PixelEncoding``,
    ``ImageSizeBytes``; ``[multiimage]`` ``ImagesPerFile``), and the frames in files of
    ``images_per_file`` images, file ``k`` named after ``k``'s ten digits reversed
    (``0000000000spool.dat``, ``1000000000spool.dat``, ...). Each image is its rows,
    ``row_padding`` bytes after each (``AOIStride``), then ``trailer`` bytes of frame
    metadata; ``Mono16`` / ``Mono32`` little-endian pixels. ``declared_frames``: the
    frame count the header gives (default: the movie's; more for a stopped
    acquisition)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n, height, width = movie.shape
    shape = (n if declared_frames is None else declared_frames, height, width)
    path.write_bytes(_sif_header(path, shape, exposure_ms))
    if encoding == "Mono12Packed":
        def row_bytes(frame: np.ndarray) -> np.ndarray:
            return pack_mono12(frame)
    else:
        dtype = {"Mono16": "<u2", "Mono32": "<u4"}[encoding]

        def row_bytes(frame: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(frame, dtype).view(np.uint8)
    pixel_bytes = row_bytes(movie[0]).shape[1]
    stride = pixel_bytes + row_padding
    image_bytes = stride * height + trailer
    (path.parent / "acquisitionmetadata.ini").write_text(
        f"[data]\nAOIHeight = {height}\nAOIWidth = {width}\nAOIStride = {stride}\n"
        f"PixelEncoding = {encoding}\nImageSizeBytes = {image_bytes}\n\n"
        f"[multiimage]\nImagesPerFile = {images_per_file}\n"
    )
    for k, first in enumerate(range(0, n, images_per_file)):
        images = []
        for frame in movie[first : first + images_per_file]:
            rows = np.zeros((height, stride), np.uint8)
            rows[:, :pixel_bytes] = row_bytes(frame)
            images.append(rows.tobytes() + bytes(range(trailer % 256)) * (trailer // 256 + 1))
        images = [image[:image_bytes] for image in images]
        (path.parent / f"{str(k).zfill(10)[::-1]}spool.dat").write_bytes(b"".join(images))
    return path


def pack_mono12(frame: np.ndarray) -> np.ndarray:
    """A frame's rows in Andor's ``Mono12Packed``: each pair of pixels ``(a, b)`` as
    the 24 bits ``a[11:4] | b[3:0] a[3:0] | b[11:4]``, a last pixel alone as the first
    two of those bytes (its pair's ``b`` taken as zero, its last byte dropped)."""
    frame = np.asarray(frame).astype(np.uint32)
    assert frame.max() < 4096, "Mono12Packed holds 12 bits"
    height, width = frame.shape
    padded = np.zeros((height, width + width % 2), np.uint32)
    padded[:, :width] = frame
    first, second = padded[:, 0::2], padded[:, 1::2]
    words = ((first >> 4) << 16) | (((second & 0xF) << 4 | (first & 0xF)) << 8) | (second >> 4)
    packed = np.stack([(words >> shift) & 0xFF for shift in (16, 8, 0)], axis=-1)
    return packed.reshape(height, -1)[:, : (3 * width + 1) // 2].astype(np.uint8)


def write_hdf5(
    path: Path,
    movie: np.ndarray,
    *,
    pixel_nm: float | None = None,
    dataset: str = "ImageData",
    channel_names: list[str] | None = None,
    compression: Any = None,
) -> Path:
    """An HDF5 stack as ImSwitch and Fiji's HDF5 plugin write one: the frames as a
    dataset ``(frames, height, width)`` with the pixel size in ``element_size_um`` (z,
    y, x); a movie ``(frames, channels, height, width)``: one dataset per channel, named
    by ``channel_names`` (each in a group of its own, as a detector's recording), beside
    a snapshot of one frame and a table of localisations, which are no movies.
    ``compression``: the frames' filter, h5py's keywords (``{"compression": "gzip"}``,
    or one of hdf5plugin's, such as ``hdf5plugin.Blosc()``)."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    planes = movie if movie.ndim == 4 else movie[:, None]
    names = channel_names or ([dataset] if movie.ndim == 3 else None)
    names = names or [f"channel {c}" for c in range(planes.shape[1])]
    with h5py.File(path, "w") as handle:
        for c, name in enumerate(names):
            data = handle.create_dataset(
                name if movie.ndim == 3 else f"recordings/{name}",
                data=planes[:, c],
                chunks=(1, *planes.shape[2:]),
                **(compression or {}),
            )
            if pixel_nm is not None:
                data.attrs["element_size_um"] = [1.0, pixel_nm / 1e3, pixel_nm / 1e3]
        handle["snapshot"] = planes[:1, 0]
        handle["locs"] = np.zeros(5, [("frame", "u4"), ("x", "f4"), ("y", "f4")])
    return path


_SPE_CODES = {np.dtype("<f4"): 0, np.dtype("<i4"): 1, np.dtype("<i2"): 2, np.dtype("<u2"): 3}
_SPE_PIXELS = {np.dtype("<u2"): "MonochromeUnsigned16", np.dtype("<f4"): "MonochromeFloating32"}


def write_spe(
    path: Path,
    movie: np.ndarray,
    *,
    exposure_ms: float = 50.0,
    version: float = 3.0,
    stamps: bool = True,
) -> Path:
    """Princeton Instruments ``.spe``: the 4100-byte header (frame width at 42, height
    at 656, frames at 1446, pixel type at 108, exposure in s at 10, version at 1992,
    0x5555 last), the frames; version 3 (LightField) the XML footer after them (its
    offset at 678), which gives the frames' layout and the exposure (ms); with
    ``stamps``, each frame followed by its exposure-start and -end time stamps (2 x
    int64), as LightField saves them when asked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.ascontiguousarray(movie, dtype=np.dtype(movie.dtype).newbyteorder("<"))
    count, height, width = frames.shape
    header = bytearray(4100)
    struct.pack_into("<f", header, 10, exposure_ms / 1e3)
    struct.pack_into("<H", header, 42, width)
    struct.pack_into("<h", header, 108, _SPE_CODES[frames.dtype])
    struct.pack_into("<H", header, 656, height)
    struct.pack_into("<i", header, 1446, count)
    struct.pack_into("<f", header, 1992, version)
    struct.pack_into("<H", header, 4098, 0x5555)
    stamped = stamps and version >= 3
    frame_bytes = frames[0].nbytes
    stride = frame_bytes + (16 if stamped else 0)
    body = bytearray()
    for t, frame in enumerate(frames):
        body += frame.tobytes()
        if stamped:
            body += struct.pack("<qq", t * 1_000_000, t * 1_000_000 + int(exposure_ms * 1e3))
    if version >= 3:
        struct.pack_into("<Q", header, 678, 4100 + len(body))
        ns = "http://www.princetoninstruments.com/spe/2009"
        stamp_blocks = (
            '<DataBlock type="TimeStampStarted" bitDepth="64" resolution="1000000" />'
            '<DataBlock type="TimeStampCompleted" bitDepth="64" resolution="1000000" />'
            if stamped else ""
        )
        xml = (
            f'<SpeFormat version="3.0" xmlns="{ns}"><DataFormat>'
            f'<DataBlock type="Frame" version="3" count="{count}" '
            f'pixelFormat="{_SPE_PIXELS[frames.dtype]}" size="{frame_bytes}" stride="{stride}">'
            f'<DataBlock type="Region" count="1" width="{width}" height="{height}" '
            f'size="{frame_bytes}" stride="{frame_bytes}" /></DataBlock>{stamp_blocks}'
            '</DataFormat><DataHistories><DataHistory><Origin><Experiment><Devices><Cameras>'
            f'<Camera><ShutterTiming><ExposureTime type="Double">{exposure_ms:g}'
            '</ExposureTime></ShutterTiming><Sensor><Information><Pixel width="16" '
            'height="16" /></Information></Sensor></Camera></Cameras></Devices></Experiment>'
            '</Origin></DataHistory></DataHistories></SpeFormat>'
        )
        body += xml.encode("utf-8")
    path.write_bytes(bytes(header) + bytes(body))
    return path


def write_image_sequence(
    folder: Path, movie: np.ndarray, *, pattern: str = "{t:05d}.tif", start: int = 1
) -> list[Path]:
    """One TIFF file per frame, named by ``pattern`` with the frame number ``t`` from
    ``start`` (the SMLM challenge's ``00001.tif``, ...; a home-built rig's)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / pattern.format(t=start + t) for t in range(len(movie))]
    for path, frame in zip(paths, movie, strict=True):
        tifffile.imwrite(path, frame, photometric="minisblack")
    return paths


def write_micromanager_images(
    folder: Path,
    movies: list[np.ndarray],
    *,
    pixel_nm: float | None = None,
    exposure_ms: float | None = None,
    channel_names: Sequence[str] | None = ("cam0", "cam1", "cam2", "cam3"),
    position: int = 0,
    positions: int = 1,
) -> list[Path]:
    """Micro-Manager's "separate image files": ``img_channel{c}_position{p}_time{t}_z000.tif``
    for every frame of every channel (``movies``, one per channel), each with its image's
    metadata (tag 51123, JSON: ``PixelSizeUm``, ``Exposure-ms``, ...), beside the
    position's ``metadata.txt`` (its ``Summary`` first, naming the channels ``ChNames``
    unless ``channel_names`` is None, and the acquisition's number of ``positions``,
    then an entry per image, as Micro-Manager 2 writes it in each position's folder,
    ``Default/`` or ``Pos0/``, ``Pos1/``, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"cam{c}" for c in range(len(movies))] if channel_names is None else channel_names
    paths = []
    entries: dict[str, Any] = {}
    for c, movie in enumerate(movies):
        for t, frame in enumerate(movie):
            image = {"Channel": names[c], "ChannelIndex": c, "FrameIndex": t, "SliceIndex": 0,
                     "PositionIndex": position}
            if pixel_nm is not None:
                image["PixelSizeUm"] = pixel_nm / 1e3
            if exposure_ms is not None:
                image["Exposure-ms"] = exposure_ms
            path = folder / f"img_channel{c:03d}_position{position:03d}_time{t:09d}_z000.tif"
            tag = (51123, "s", 0, json.dumps(image), True)
            tifffile.imwrite(path, frame, photometric="minisblack", extratags=[tag])
            paths.append(path)
            entries[f"Metadata-{folder.name}/{path.name}"] = image
    summary: dict[str, Any] = {"Prefix": folder.parent.name, "Channels": len(movies),
                               "Frames": len(movies[0]), "Positions": positions, "Slices": 1}
    if channel_names is not None:
        summary["ChNames"] = list(channel_names[: len(movies)])
    (folder / "metadata.txt").write_text(json.dumps({"Summary": summary, **entries}, indent=1))
    return paths


def write_npy(
    path: Path,
    movie: np.ndarray,
    *,
    order: str = "C",
    byte_order: str = "=",
    channel_axis: bool = False,
) -> Path:
    """A stack saved with ``numpy.save``: in C or Fortran ``order`` (numpy writes a
    Fortran-ordered array as such), of ``byte_order`` (``<``, ``>``), with an axis of one
    channel after the frames' (``(frames, 1, height, width)``) when ``channel_axis``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = movie[:, None] if channel_axis else movie
    array = np.asarray(array, dtype=array.dtype.newbyteorder(byte_order), order=order)
    np.save(path, array)
    return path


def write_dcimg(
    path: Path,
    movie: np.ndarray,
    *,
    version: int = 0x1000000,
    interval_ms: float = 10.0,
    sensor_y0: int = 0,
    binning: int = 1,
    row_padding: int = 0,
    four_pixels: bool = True,
) -> Path:
    """Hamamatsu ``.dcimg`` as HCImage / the DCAM-API lay it out (``version`` 0x7 or
    0x1000000; the fields at the offsets the published readers of the format use): one
    session, rows ``row_padding`` bytes longer than their pixels, time stamps
    ``interval_ms`` apart. With ``four_pixels``, the first four pixels of the row that
    holds the sensor's row 1023 (the sub-array starting at sensor row ``sensor_y0``,
    ``binning``; 0x7: the middle row) carry the marker (0, max, 0, max) in the frames
    and their values apart: in the footer's table (0x7) or each frame's trailer."""
    frames, height, width = movie.shape
    dtype = np.dtype("<u2") if movie.dtype.itemsize == 2 else np.dtype(np.uint8)
    depth = dtype.itemsize
    row_bytes = width * depth + row_padding
    image_bytes = row_bytes * height
    header = 232  # the file header's size: where the session begins
    row = (1023 - sensor_y0) // binning if version == 0x1000000 else height // 2
    patched = four_pixels and 0 <= row < height and width >= 4
    saved = np.ascontiguousarray(movie[:, row, :4] if patched else np.zeros((frames, 4)), dtype)
    stored = np.array(movie, dtype)
    if patched:
        stored[:, row, :4] = [0, np.iinfo(dtype).max, 0, np.iinfo(dtype).max]
    images = np.zeros((frames, height, row_bytes), np.uint8)
    images[:, :, : width * depth] = stored.view(np.uint8).reshape(frames, height, -1)
    seconds = 1_700_000_000.0 + np.arange(frames) * interval_ms * 1e-3
    whole = np.floor(seconds).astype("<u4")
    micro = np.minimum(np.round((seconds - whole) * 1e6), 999_999).astype("<u4")
    counters = np.arange(frames, dtype="<u4")
    session = bytearray()
    if version == 0x7:
        data_offset = 144
        footer_at = data_offset + frames * image_bytes  # from the session's start
        tables = 272
        footer = bytearray(tables)
        struct.pack_into("<IIQ", footer, 0, 0x7, 0, 96)  # version, -, second struct
        four_at = tables + 12 * frames
        struct.pack_into("<I", footer, 40, four_at + 4 * depth * frames)  # footer size
        struct.pack_into("<QQ", footer, 96 + 48, tables, 0)
        struct.pack_into("<Q", footer, 96 + 64, tables + 4 * frames)
        struct.pack_into("<QII", footer, 96 + 88, four_at, 0, row * row_bytes)
        struct.pack_into("<Q", footer, 96 + 104, 4 * depth if patched else 0)
        stamps = np.stack([whole, micro], axis=1).astype("<u4")
        footer += counters.tobytes() + stamps.tobytes() + saved.tobytes()
        head = bytearray(data_offset)
        struct.pack_into("<Q", head, 0, footer_at + len(footer))
        struct.pack_into("<IIIIIII", head, 32, frames, depth, 0, width, row_bytes, height,
                         image_bytes)
        struct.pack_into("<IQ", head, 68, data_offset, footer_at)
        session = head + images.tobytes() + footer
    else:
        data_offset = 1024
        trailers = np.zeros((frames, 32), np.uint8)
        trailers[:, 0:4] = counters.view(np.uint8).reshape(frames, 4)
        trailers[:, 4:8] = whole.view(np.uint8).reshape(frames, 4)
        trailers[:, 8:12] = micro.view(np.uint8).reshape(frames, 4)
        trailers[:, 12 : 12 + 4 * depth] = saved.view(np.uint8).reshape(frames, -1)
        body = np.concatenate([images.reshape(frames, -1), trailers], axis=1)
        head = bytearray(data_offset)
        struct.pack_into("<Q", head, 0, data_offset + body.nbytes)
        struct.pack_into("<IIIIIII", head, 60, frames, depth, 0, width, height, row_bytes,
                         image_bytes)
        struct.pack_into("<Q", head, 96, data_offset)
        struct.pack_into("<I", head, 124, 32)  # each frame's trailer
        struct.pack_into("<HHHH", head, 712, 0, width * binning, sensor_y0, height * binning)
        session = head + body.tobytes()
    top = bytearray(header)
    top[:8] = b"DCIMG\0\0\0"
    size = header + len(session)
    struct.pack_into("<I", top, 8, version)
    struct.pack_into("<III", top, 32, 1, frames, header)
    struct.pack_into("<Q", top, 48, size)
    struct.pack_into("<Q", top, 64, size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(top + session))
    return path


def write_stk(
    path: Path,
    movie: np.ndarray,
    *,
    calibration: float | None = None,
    units: str = "um",
    exposure: str | None = None,
    same_times: bool = False,
) -> Path:
    """MetaMorph ``.stk``: one TIFF image file directory for the first plane, every plane
    after it in the file, the planes counted by the UIC2 tag (z distance, creation and
    modification date and time of each plane, six uint32), described by the UIC1 tag
    (``XCalibration`` 4, ``YCalibration`` 5 as rationals, ``CalibrationUnits`` 6 as a
    counted string) and by the image description (one text per plane, NUL apart, with
    ``exposure`` as MetaMorph writes it: ``"Exposure: 30 ms"``). ``same_times``: every
    plane stamped with the same time (an unknown axis, ``I``)."""
    movie = np.ascontiguousarray(movie, dtype="<u2")
    planes, height, width = movie.shape
    lines = [exposure] if exposure else []
    plane_text = "\r\n".join([*lines, "Binning: 1 x 1", "Acquired from a camera"])
    description = "\0".join([plane_text] * planes).encode() + b"\0"
    uic1: list[tuple[int, bytes]] = []
    if calibration is not None:  # a pixel's size in units
        ratio = struct.pack("<2I", int(round(calibration * 1e6)), 1_000_000)
        name = units.encode("latin-1")
        uic1 = [(4, ratio), (5, ratio), (6, struct.pack("<I", len(name) + 1) + name + b"\0")]
    stamps = [1000 if same_times else 1000 + 30 * i for i in range(planes)]
    uic2 = b"".join(struct.pack("<6I", 0, 1, 2_460_000, s, 2_460_000, s) for s in stamps)
    # (tag, type, count, value bytes or None for the strip offset); UIC1's value, its
    # pairs (id, offset), is laid out below
    entries: list[tuple[int, int, int, Any]] = [
        (256, 4, 1, struct.pack("<I", width)),
        (257, 4, 1, struct.pack("<I", height)),
        (258, 3, 1, struct.pack("<H", 16)),
        (259, 3, 1, struct.pack("<H", 1)),
        (262, 3, 1, struct.pack("<H", 1)),
        (270, 2, len(description), description),
        (273, 4, 1, None),
        (277, 3, 1, struct.pack("<H", 1)),
        (278, 4, 1, struct.pack("<I", height)),
        (279, 4, 1, struct.pack("<I", height * width * 2)),
        (33628, 4, len(uic1), uic1),
        (33629, 5, planes, uic2),
    ]
    values_at = 8 + 2 + 12 * len(entries) + 4
    values = bytearray()
    fields = []
    for tag, kind, count, value in entries:
        if isinstance(value, list):  # UIC1: the pairs, then what they point to
            pairs_at = values_at + len(values)
            pointed = bytearray()
            pairs = bytearray()
            for ident, data in value:
                pairs += struct.pack("<2I", ident, pairs_at + 8 * len(value) + len(pointed))
                pointed += data + b"\0" * (len(data) % 2)
            values += pairs + pointed
            fields.append((tag, kind, count, struct.pack("<I", pairs_at)))
        elif value is None or len(value) <= 4:
            fields.append((tag, kind, count, (value or b"").ljust(4, b"\0")))
        else:
            fields.append((tag, kind, count, struct.pack("<I", values_at + len(values))))
            values += value + b"\0" * (len(value) % 2)
    data_at = values_at + len(values)
    header = bytearray(b"II*\0" + struct.pack("<IH", 8, len(entries)))
    for tag, kind, count, value in fields:
        value = struct.pack("<I", data_at) if tag == 273 else value
        header += struct.pack("<HHI", tag, kind, count) + value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(header) + struct.pack("<I", 0) + bytes(values) + movie.tobytes())
    return path


def write_pyme(
    path: Path,
    movie: np.ndarray,
    *,
    pixel_nm: float | None = 100.0,
    exposure_ms: float | None = 50.0,
    dim_order: bool = True,
    metadata: bool = True,
) -> Path:
    """PYME's (python-microscopy) HDF5 spool file: ``ImageData`` of frames ``(x, y)``,
    the camera's width first (``(0, width, height)``, as PYME's spooler creates it),
    with ``DimOrder`` ``XYZTC``; the ``MetaData`` group of PYME's metadata handler, a
    key ``group.key`` as attribute ``key`` of group ``MetaData/group``
    (``voxelsize.x``, ``.y`` in µm, ``Camera.IntegrationTime`` in s); an ``Events``
    table."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        data = handle.create_dataset(
            "ImageData", data=np.ascontiguousarray(np.swapaxes(movie, 1, 2)),
            chunks=(1, movie.shape[2], movie.shape[1]),
        )
        if dim_order:
            data.attrs["DimOrder"] = b"XYZTC"
            data.attrs["SizeC"], data.attrs["SizeZ"] = 1, 1
            data.attrs["SizeT"] = movie.shape[0]
        if metadata:
            group = handle.create_group("MetaData")
            if pixel_nm is not None:
                voxels = group.create_group("voxelsize")
                voxels.attrs["x"] = voxels.attrs["y"] = pixel_nm / 1e3
                voxels.attrs["units"] = "um"
            camera = group.create_group("Camera")
            if exposure_ms is not None:
                camera.attrs["IntegrationTime"] = exposure_ms / 1e3
            camera.attrs["Name"] = "Andor IXon"
        events = np.zeros(2, [("EventName", "S32"), ("Time", "f8"), ("EventDescr", "S256")])
        handle["Events"] = events
    return path


def _lif_image(
    name: str, block: str, size: int, axes: list[tuple[int, int, int, float, str]],
    channels: list[int], bits: int, hardware: str = "",
) -> str:
    """The XML ``Element`` of one image of a ``.lif`` project: ``axes`` as (DimID,
    NumberOfElements, BytesInc, Length, Unit), ``channels`` as their offsets,
    ``hardware`` its hardware settings' attachment."""
    described = "".join(
        f'<ChannelDescription DataType="0" ChannelTag="0" Resolution="{bits}" '
        'NameOfMeasuredQuantity="" Min="0.000000e+000" '
        f'Max="{2**bits - 1:e}" Unit="" LUTName="Gray" IsLUTInverted="0" '
        f'BytesInc="{offset}" BitInc="0"></ChannelDescription>'
        for offset in channels
    )
    dimensions = "".join(
        f'<DimensionDescription DimID="{ident}" NumberOfElements="{count}" '
        f'Origin="0.000000e+000" Length="{length:e}" Unit="{unit}" BitInc="0" '
        f'BytesInc="{step}"></DimensionDescription>'
        for ident, count, step, length, unit in axes
    )
    return (
        f'<Element Name="{name}" Visibility="1" CopyOption="1"><Data><Image TextDescription="">'
        f"<ImageDescription><Channels>{described}</Channels><Dimensions>{dimensions}"
        f"</Dimensions></ImageDescription>{hardware}</Image></Data>"
        f'<Memory Size="{size}" MemoryBlockID="{block}"/><Children/></Element>'
    )


def _lif_planes(
    movie: np.ndarray, pixel_nm: float, interval_ms: float, frame_axis: str
) -> tuple[np.ndarray, list[tuple[int, int, int, float, str]], tuple, list[int]]:
    """A Leica image's planes ``(frames, channels, height, width)`` of 16-bit samples,
    its x and y axes, its frame axis (t, ``interval_ms`` apart, or z) and its channels'
    offsets, as :func:`_lif_image` takes them."""
    planes = np.asarray(movie, dtype="<u2")
    planes = planes[:, None] if planes.ndim == 3 else planes
    n_frames, n_channels, height, width = planes.shape
    plane_bytes = height * width * 2
    xy = [
        (1, width, 2, pixel_nm * 1e-9 * (width - 1), "m"),
        (2, height, 2 * width, pixel_nm * 1e-9 * (height - 1), "m"),
    ]
    frame_dim = (4, n_frames, plane_bytes * n_channels, interval_ms * 1e-3 * (n_frames - 1), "s")
    if frame_axis == "z":
        frame_dim = (3, n_frames, plane_bytes * n_channels, 1e-7 * (n_frames - 1), "m")
    return planes, xy, frame_dim, [c * plane_bytes for c in range(n_channels)]


def write_lif(
    path: Path,
    movie: np.ndarray,
    *,
    pixel_nm: float = 100.0,
    interval_ms: float = 30.0,
    frame_axis: str = "t",
    names: Sequence[str] = ("Series001",),
    snapshot: bool = True,
    version: int = 2,
    channel_names: Sequence[str] | None = None,
    exposures: Sequence[str] = (),
    sequential: bool = False,
) -> Path:
    """Leica ``.lif`` as LAS X writes a project: the XML description (UTF-16) after its
    header, then the memory blocks (a first, empty one for the project, as LAS X
    writes), each after its header (``0x70``, the header's length, ``0x2A``, the size,
    int64 in ``version`` 2 and int32 in 1, ``0x2A``, the name's length and the name in
    UTF-16). An image ``(frames, height, width)`` of 16-bit samples, or ``(frames,
    channels, height, width)``: each frame's channels one plane after the other. One
    image per name in ``names`` (the same movie each), a snapshot of one frame before
    them when ``snapshot``; the frames along t (DimID 4, ``interval_ms`` apart) or z
    (DimID 3). ``channel_names`` is accepted for the per-format tests and ignored: the
    format names no channel. ``exposures``: the camera's ``ExposureTime`` of each
    channel as LAS X writes them in the hardware settings of a camera system (in the
    main camera settings, or in those of the steps of a ``sequential`` acquisition)."""
    planes, xy, frame_dim, channels = _lif_planes(movie, pixel_nm, interval_ms, frame_axis)
    plane_bytes = planes[0, 0].nbytes
    elements, blocks = [], [("MemBlock_1", b"")]
    if snapshot:
        blocks.append(("MemBlock_2", planes[0, 0].tobytes()))
        elements.append(_lif_image("Snapshot", "MemBlock_2", plane_bytes, xy, [0], 16))
    hardware = ""
    if exposures:
        infos = "".join(
            f'<WideFieldChannelInfo Active="1" LUT="Gray" ContrastingMethodName="FLUO" '
            f'FluoCubeName="GSD 642" ExposureTime="{e}" UserDefName="ch{i}"/>'
            for i, e in enumerate(exposures)
        )
        camera = (
            '<ATLCameraSettingDefinition ObjectiveName="HCX PL APO 160x/1.43 OIL" '
            'NumericalAperture="1.43" TheoCamSensorPixelSizeX="16" CycleTime="0.0113">'
            f'<WideFieldChannelConfigurator CameraName="EMCCD">{infos}'
            "</WideFieldChannelConfigurator></ATLCameraSettingDefinition>"
        )
        if sequential:
            camera = (
                "<ATLCameraSettingDefinition/><LDM_Block_Widefield_Sequential>"
                f"<LDM_Block_Sequential_List>{camera}</LDM_Block_Sequential_List>"
                "</LDM_Block_Widefield_Sequential>"
            )
        hardware = (
            '<Attachment Name="HardwareSetting" Software="LAS X 3.5" SystemTypeName="SR GSD" '
            f'DataSourceTypeName="Camera">{camera}</Attachment>'
        )
    for name in names:
        block = f"MemBlock_{len(blocks) + 1}"
        blocks.append((block, planes.tobytes()))
        elements.append(
            _lif_image(name, block, planes.nbytes, [*xy, frame_dim], channels, 16, hardware)
        )
    xml = (
        f'<LMSDataContainerHeader Version="{version}"><Element Name="{path.stem}" '
        'Visibility="1" CopyOption="1"><Data><Experiment Path="D:\\data" IsSavedFlag="0"/>'
        f'</Data><Memory Size="0" MemoryBlockID="MemBlock_1"/><Children>{"".join(elements)}'
        "</Children></Element></LMSDataContainerHeader>"
    ).encode("utf-16-le")
    out = bytearray(struct.pack("<iiBi", 0x70, len(xml) + 5, 0x2A, len(xml) // 2) + xml)
    for block, data in blocks:
        name = block.encode("utf-16-le")
        size = struct.pack("<q" if version == 2 else "<i", len(data))
        rest = bytes([0x2A]) + size + bytes([0x2A]) + struct.pack("<i", len(name) // 2) + name
        out += struct.pack("<ii", 0x70, len(rest)) + rest + data
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


def write_lof(
    path: Path,
    movie: np.ndarray,
    *,
    pixel_nm: float = 100.0,
    interval_ms: float = 30.0,
    memory_element: bool = True,
    channel_names: Sequence[str] | None = None,
) -> Path:
    """Leica ``.lof`` (LAS X's object file, one image) as LAS X lays it out: a header
    (``0x70``, its length, ``0x2A``, ``LMS_Object_File`` in UTF-16), two version
    fields (``0x2A``, int32 each), the memory block (``0x2A``, its size as int64, its
    bytes), then the XML description of the image (``0x70``, its length, ``0x2A``, its
    count of UTF-16 characters, the XML). Without ``memory_element``, the XML has no
    ``Memory`` element (as in older files). ``channel_names``: ignored, as for .lif."""
    planes, xy, frame_dim, channels = _lif_planes(movie, pixel_nm, interval_ms, "t")
    element = _lif_image(path.stem, "MemBlock_7", planes.nbytes, [*xy, frame_dim], channels, 16)
    if not memory_element:
        memory = f'<Memory Size="{planes.nbytes}" MemoryBlockID="MemBlock_7"/>'
        element = element.replace(memory, "")
    xml = f'<LMSDataContainerHeader Version="2">{element}</LMSDataContainerHeader>'
    xml_bytes = xml.encode("utf-16-le")
    name = "LMS_Object_File".encode("utf-16-le")
    out = bytearray(struct.pack("<IIBI", 0x70, len(name) + 5, 0x2A, len(name) // 2) + name)
    out += struct.pack("<BIBI", 0x2A, 2, 0x2A, 3)
    out += struct.pack("<BQ", 0x2A, planes.nbytes) + planes.tobytes()
    out += struct.pack("<IIBI", 0x70, len(xml_bytes) + 5, 0x2A, len(xml_bytes) // 2) + xml_bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


#: Format name -> writer; every writer takes (path, movie) and keyword options.
WRITERS = {
    "dax": (".dax", write_dax),
    "raw": (".raw", write_picasso_raw),
    "ims": (".ims", write_ims),
    "zarr": (".zarr", write_ome_zarr),
    "czi": (".czi", write_czi),
    "nd2": (".nd2", write_nd2),
    "sif": (".sif", write_sif),
    "sifx": (".sifx", write_andor_spool),
    "spe": (".spe", write_spe),
    "h5": (".h5", write_hdf5),
    "hdf5": (".hdf5", write_hdf5),
    "npy": (".npy", write_npy),
    "lif": (".lif", write_lif),
    "lof": (".lof", write_lof),
    "dcimg": (".dcimg", write_dcimg),
    "cxd": (".cxd", None),  # (write_cxd, defined below)
}


def write_pco_rec(
    path: Path, *, exposure: str = "30.000000 ms / 0.000000 ms", encoding: str = "utf-16"
) -> Path:
    """A pco CamWare recording's ``.rec`` text (``key: value`` lines, UTF-16 with
    its byte-order mark as CamWare writes it, or ``encoding``) at ``path``."""
    lines = [
        "Camera type             : pco.edge 4.2 M",
        "Camera serial number    : 12345",
        "Picture Size horz./vert.: 2048/2048",
        "Binning horz./vert.     : 1/1",
        f"Exposure / Delay        : {exposure}",
        "Time                    : 14:03:11.250",
        "Comment:",
        "dSTORM, 640 nm",
    ]
    path.write_text("\r\n".join(lines) + "\r\n", encoding=encoding)
    return path


def write_pcoraw(
    path: Path,
    movie: np.ndarray,
    *,
    data_offset: int | None = None,
    exposure: str | None = "30.000000 ms / 0.000000 ms",
    true_offsets_reversed: bool = False,
) -> Path:
    """A pco CamWare ``.pcoraw`` recording: a TIFF of uint16 frames, with its ``.rec``
    beside it (none when ``exposure`` is None).

    ``data_offset``: a BigTIFF instead whose frames lie back to back from that byte
    on (the file is sparse before them), their ``StripOffsets`` stored as 32-bit
    values, as CamWare stores them: past 4 GiB they wrap around (Bio-Formats'
    PCORAWReader adds 2**32 where an offset falls below the one before).
    ``true_offsets_reversed``: a valid BigTIFF instead, 64-bit offsets, whose pages
    list the stored images last to first (the frames are the movie's all the same)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    movie = np.ascontiguousarray(movie, dtype="<u2")
    if data_offset is None:
        tifffile.imwrite(path, movie, photometric="minisblack")
    else:
        n_frames, height, width = movie.shape
        frame_bytes = height * width * 2
        entry = struct.Struct("<HHQQ")
        tags = [(256, 4, width), (257, 4, height), (258, 3, 16), (259, 3, 1), (262, 3, 1),
                (273, 4, None), (277, 3, 1), (278, 4, height), (279, 4, frame_bytes)]
        ifd_bytes = 8 + len(tags) * entry.size + 8
        assert 16 + n_frames * ifd_bytes <= data_offset, "the IFDs would overlap the frames"
        with open(path, "wb") as f:
            f.write(b"II" + struct.pack("<HHHQ", 43, 8, 0, 16))
            for index in range(n_frames):
                here = 16 + index * ifd_bytes
                f.write(struct.pack("<Q", len(tags)))
                for tag, kind, value in tags:
                    if value is None and true_offsets_reversed:  # LONG8, the true one
                        kind = 16
                        value = data_offset + (n_frames - 1 - index) * frame_bytes
                    elif value is None:  # the frame's offset, as a 32-bit value
                        value = (data_offset + index * frame_bytes) % 2**32
                    f.write(entry.pack(tag, kind, 1, value))
                last = index == n_frames - 1
                f.write(struct.pack("<Q", 0 if last else here + ifd_bytes))
            f.seek(data_offset)
            f.write((movie[::-1] if true_offsets_reversed else movie).tobytes())
    if exposure is not None:
        write_pco_rec(path.with_suffix(".rec"), exposure=exposure)
    return path


# --------------------------------------------------------------------------- #
# OLE2 compound files (Hamamatsu HCImage .cxd)
# --------------------------------------------------------------------------- #

_FREE, _END, _FAT_SECTOR = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
_NO_ENTRY = 0xFFFFFFFF


def _cfb_key(name: str) -> tuple[int, str]:
    """The compound file's order of siblings: shorter names first, then by upper case."""
    return len(name), name.upper()


def write_compound_file(
    path: Path, streams: dict[str, bytes], *, scattered: bool = False, version: int = 3
) -> Path:
    """An OLE2 compound file holding ``streams`` by path (``'a/b/c'``: storages ``a``
    and ``b``): ``version`` 3 (512-byte sectors) or 4 (4096), 64-byte mini sectors for
    streams under 4096 bytes, the FAT's sectors past the header's 109 listed in DIFAT
    sectors. The siblings of each storage form a balanced binary search tree in the
    format's order. With ``scattered``, the large streams' sectors are dealt out in
    turn rather than one stream after another (a file edited in place: its streams'
    sectors do not follow each other)."""
    unit = 512 if version == 3 else 4096
    per_sector = unit // 4
    tree: dict[str, Any] = {}
    for name, data in streams.items():
        node = tree
        *folders, leaf = name.split("/")
        for folder in folders:
            node = node.setdefault(folder, {})
        node[leaf] = bytes(data)
    entries: list[dict[str, Any]] = [{"name": "Root Entry", "type": 5, "kids": tree}]

    def add(kids: dict[str, Any]) -> list[int]:
        ids = []
        for name in sorted(kids, key=_cfb_key):
            value = kids[name]
            entry = {"name": name, "type": 1 if isinstance(value, dict) else 2, "data": value}
            entries.append(entry)
            ids.append(len(entries) - 1)
            if isinstance(value, dict):
                entry["ids"] = add(value)
        return ids

    def balanced(ids: list[int]) -> int:
        if not ids:
            return _NO_ENTRY
        middle = len(ids) // 2
        entries[ids[middle]]["left"] = balanced(ids[:middle])
        entries[ids[middle]]["right"] = balanced(ids[middle + 1 :])
        return ids[middle]

    entries[0]["ids"] = add(tree)
    for entry in entries:
        if "ids" in entry:
            entry["child"] = balanced(entry["ids"])
    # the mini stream: the small streams in 64-byte mini sectors
    mini, mini_fat = bytearray(), []
    big = []
    for entry in entries:
        if entry["type"] != 2:
            continue
        data = entry["data"]
        if len(data) >= 4096:
            big.append(entry)
            continue
        count = -(-len(data) // 64)
        entry["start"] = len(mini) // 64 if count else _END
        mini_fat += [len(mini) // 64 + i + 1 for i in range(count - 1)] + ([_END] if count else [])
        mini += data + bytes(count * 64 - len(data))
    # regular sectors: the big streams, the mini stream, the mini FAT, the directory
    sectors: list[bytes] = []
    fat: list[int] = []

    def chain(data: bytes, positions: list[int] | None = None) -> int:
        count = -(-len(data) // unit)
        if positions is None:
            positions = list(range(len(sectors), len(sectors) + count))
            sectors.extend([b""] * count)
            fat.extend([_FREE] * count)
        for i, sector in enumerate(positions):
            sectors[sector] = data[i * unit : (i + 1) * unit].ljust(unit, b"\0")
            fat[sector] = positions[i + 1] if i + 1 < count else _END
        return positions[0] if count else _END

    if scattered and len(big) > 1:  # sector k of each stream in turn
        counts = [-(-len(entry["data"]) // unit) for entry in big]
        order = [(k, i) for k in range(max(counts)) for i in range(len(big)) if k < counts[i]]
        first = len(sectors)
        sectors.extend([b""] * len(order))
        fat.extend([_FREE] * len(order))
        for i, entry in enumerate(big):
            positions = [first + at for at, (_, j) in enumerate(order) if j == i]
            entry["start"] = chain(entry["data"], positions)
    else:
        for entry in big:
            entry["start"] = chain(entry["data"])
    entries[0]["start"] = chain(bytes(mini)) if mini else _END
    entries[0]["data"] = mini
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat)
    mini_fat_bytes += b"\xff" * (-len(mini_fat_bytes) % unit)
    first_mini_fat = chain(mini_fat_bytes) if mini_fat else _END
    directory = bytearray()
    for entry in entries:
        record = bytearray(128)
        name = entry["name"].encode("utf-16-le") + b"\0\0"
        record[: len(name)] = name
        size = 0 if entry["type"] == 1 else len(entry["data"])
        struct.pack_into("<HBB", record, 64, len(name), entry["type"], 1)  # black
        struct.pack_into(
            "<III", record, 68, entry.get("left", _NO_ENTRY), entry.get("right", _NO_ENTRY),
            entry.get("child", _NO_ENTRY),
        )
        struct.pack_into("<IQ", record, 116, entry.get("start", _END) if size else _END, size)
        directory += record
    directory += bytes(-len(directory) % unit)
    first_directory = chain(bytes(directory))
    # the FAT itself and the DIFAT sectors that list it past the header's 109
    n_fat = n_difat = 0
    while True:
        needed_fat = -(-(len(sectors) + n_fat + n_difat) // per_sector)
        needed_difat = -(-max(0, needed_fat - 109) // (per_sector - 1))
        if (needed_fat, needed_difat) == (n_fat, n_difat):
            break
        n_fat, n_difat = needed_fat, needed_difat
    fat_positions = list(range(len(sectors), len(sectors) + n_fat))
    difat_positions = list(range(len(sectors) + n_fat, len(sectors) + n_fat + n_difat))
    fat += [_FAT_SECTOR] * n_fat + [0xFFFFFFFC] * n_difat
    fat += [_FREE] * (per_sector * n_fat - len(fat))
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    sectors += [fat_bytes[i * unit : (i + 1) * unit] for i in range(n_fat)]
    listed = fat_positions[109:]
    for k, _ in enumerate(difat_positions):
        ids = listed[k * (per_sector - 1) : (k + 1) * (per_sector - 1)]
        ids += [_FREE] * (per_sector - 1 - len(ids))
        following = difat_positions[k + 1] if k + 1 < n_difat else _END
        sectors.append(struct.pack(f"<{per_sector}I", *ids, following))
    header = bytearray(unit)
    header[:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 24, 0x3E, version, 0xFFFE, 9 if version == 3 else 12, 6)
    n_directory = 0 if version == 3 else len(directory) // unit
    struct.pack_into("<IIIII", header, 40, n_directory, n_fat, first_directory, 0, 4096)
    struct.pack_into("<III", header, 60, first_mini_fat, len(mini_fat_bytes) // unit if mini_fat
                     else 0, difat_positions[0] if n_difat else _END)
    struct.pack_into("<I", header, 72, n_difat)
    difat = fat_positions[:109] + [_FREE] * (109 - min(n_fat, 109))
    struct.pack_into("<109I", header, 76, *difat)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(header) + b"".join(sectors))
    return path


def write_cxd(
    path: Path,
    movie: np.ndarray,
    *,
    interval_ms: float = 10.0,
    comments: str | None = None,
    channels: Sequence[np.ndarray] = (),
    details_in_image: bool = True,
    row_padding: int = 0,
    scattered: bool = False,
    depth: int | None = None,
    version: int = 3,
    embedded_tiff: bool = False,
) -> Path:
    """Hamamatsu HCImage ``.cxd`` as the published readers of the format describe it
    (Bio-Formats' SimplePCI reader and others): ``File Info/Field Count`` and
    ``File Has Image``, ``comments`` (the calibration) as ``File Info/Comments``, and per
    frame ``n`` ``Field Data/Field n/Details/Time_From_Start`` (s, ``interval_ms`` apart) and
    ``i_Image1/Bitmap 1`` with ``i_Image1/Details/Image_Width``, ``Image_Height``,
    ``Image_Depth`` (the field's own ``Details`` when not ``details_in_image``).
    ``channels``: more movies of the same shape, as ``i_Image2``, ... Rows
    ``row_padding`` bytes longer than their pixels; ``depth``: the bits per pixel
    stated (the movie's own by default); ``version``, ``scattered``: the compound
    file's (:func:`write_compound_file`). With ``embedded_tiff``, each bitmap is a
    zlib-compressed TIFF file of the frame, as SimplePCI stores them."""
    frames, height, width = movie.shape
    images = [movie, *channels]
    streams: dict[str, bytes] = {
        "File Info/Field Count": struct.pack("<i", frames),
        "File Info/File Has Image": struct.pack("<h", 1),
    }
    if comments is not None:
        streams["File Info/Comments"] = comments.encode("latin-1")
    bits = depth if depth is not None else 8 * movie.dtype.itemsize
    dtype = np.dtype("<u2") if movie.dtype.itemsize == 2 else np.dtype(np.uint8)
    for n in range(1, frames + 1):
        field = f"Field Data/Field {n}"
        streams[f"{field}/Details/Time_From_Start"] = struct.pack("<d", (n - 1) * interval_ms / 1e3)
        streams[f"{field}/Details/Time_From_Last"] = struct.pack(
            "<d", 0.0 if n == 1 else interval_ms / 1e3
        )
        for k, image in enumerate(images, start=1):
            rows = np.zeros((height, width * dtype.itemsize + row_padding), np.uint8)
            rows[:, : width * dtype.itemsize] = (
                np.ascontiguousarray(image[n - 1], dtype).view(np.uint8).reshape(height, -1)
            )
            if embedded_tiff:
                tiff = io.BytesIO()
                tifffile.imwrite(tiff, image[n - 1], compression="zlib")
                streams[f"{field}/i_Image{k}/Bitmap 1"] = tiff.getvalue()
            else:
                streams[f"{field}/i_Image{k}/Bitmap 1"] = rows.tobytes()
            details = f"{field}/i_Image{k}/Details" if details_in_image else f"{field}/Details"
            for name, value in (("Image_Width", width), ("Image_Height", height),
                                ("Image_Depth", bits), ("Binning", 1)):
                streams[f"{details}/{name}"] = struct.pack("<d", value)
    return write_compound_file(path, streams, scattered=scattered, version=version)


WRITERS["cxd"] = (".cxd", write_cxd)
