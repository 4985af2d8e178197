"""Writers of the movie formats besides TIFF, for the tests (fixture ``movie_formats``).

Each ``write_*(path, movie, ...)`` writes a ``(frames, height, width)`` uint16 movie
in one format as the rig's software lays it out, and returns the path to open.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml


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
) -> Path:
    """Imaris ``.ims``: one time point per frame (one z plane each), data padded by ``pad``
    pixels as Imaris pads to its chunks; or all frames as the z planes of one time point."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    n, height, width = movie.shape
    with h5py.File(path, "w") as handle:
        for key, value in {"ImarisDataSet": "ImarisDataSet", "ImarisVersion": "5.5.0"}.items():
            handle.attrs[key] = _ims_attr(value)
        level = handle.create_group("DataSet/ResolutionLevel 0")
        padded = np.zeros((n, height + pad, width + pad), dtype=movie.dtype)
        padded[:, :height, :width] = movie
        if frames_as_planes:
            level.create_dataset("TimePoint 0/Channel 0/Data", data=padded, chunks=True)
        else:
            for t in range(n):
                channel = level.create_group(f"TimePoint {t}/Channel 0")
                channel.create_dataset("Data", data=padded[t : t + 1])
                for key, value in {"ImageSizeX": width, "ImageSizeY": height}.items():
                    channel.attrs[key] = _ims_attr(value)
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
) -> Path:
    """OME-Zarr (NGFF 0.4, Zarr v2) with axes t, c, z, y, x and its scale transformation."""
    import zarr

    n, height, width = movie.shape
    shape, chunks = (n, 1, 1, height, width), (chunk_frames, 1, 1, height, width)
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
    data[:] = movie[:, None, None]
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
    return path


def write_czi(path: Path, movie: np.ndarray, *, pixel_nm: float | None = None) -> Path:
    """Zeiss ``.czi`` with pylibCZIrw: one T plane per frame."""
    from pylibCZIrw import czi

    path.parent.mkdir(parents=True, exist_ok=True)
    with czi.create_czi(str(path), exist_ok=True) as writer:
        for t, frame in enumerate(movie):
            writer.write(np.ascontiguousarray(frame), plane={"T": t, "Z": 0, "C": 0})
        scale = 0.0 if pixel_nm is None else pixel_nm * 1e-9
        writer.write_metadata(scale_x=scale, scale_y=scale)
    return path


#: Format name -> writer; every writer takes (path, movie) and keyword options.
WRITERS = {
    "dax": (".dax", write_dax),
    "raw": (".raw", write_picasso_raw),
    "ims": (".ims", write_ims),
    "zarr": (".zarr", write_ome_zarr),
    "czi": (".czi", write_czi),
}
