"""Lazy readers of the raw movie formats of SMLM rigs besides TIFF.

:func:`smlmlp.loading.open_movie` picks the reader from the file's extension;
every reader is a lazy stack like :class:`smlmlp.loading.TiffMovie`: slicing
``movie[a:b]`` reads frames ``a`` to ``b - 1`` from disk and nothing else, and
``movie.metadata`` holds ``pixel_nm`` ((y, x) in nm or None), ``exposure_ms``
(ms or None), ``axes`` and ``kind``.

========================  ============  ==========================================
Format                    Extra         Pixel size / exposure read from
========================  ============  ==========================================
Zhuang lab ``.dax``       (none)        nothing (the ``.inf`` holds neither)
  + ``.inf``
Picasso ``.raw``          (none)        ``Pixelsize`` (nm) / Micro-Manager
  + ``.yaml``                           ``PixelSizeUm`` and ``Exposure-ms``
Imaris ``.ims``           (none, h5py)  ``DataSetInfo/Image`` extents / the
                                        interval between the first time points
OME-Zarr ``.zarr``        ``zarr``      ``coordinateTransformations`` scale of
  (NGFF 0.4 / 0.5; also                 the y, x (space) and t (time) axes
  bioformats2raw's layout)
Zeiss ``.czi``            ``czi``       ``Scaling`` distances / the channel's
                                        ``ExposureTime`` (ns)
Nikon ``.nd2``            ``nd2``       the picture's calibration (µm) / the
                                        channel's exposure time, the capture's
                                        text, or the time loop's period
Andor ``.sif``            ``sif``       nothing / the header's exposure time
Princeton Instruments     (none)        nothing / LightField's ``ExposureTime``,
  ``.spe`` (2.x, 3.0)                   else the header's exposure time
HDF5 ``.h5`` / ``.hdf5``  (none, h5py)  the dataset's ``element_size_um`` / nothing
  (a dataset of frames)
Leica ``.lif``, ``.lof``  (liffile)     x's and y's extents / the camera's
                                        exposure, else the frame interval
NumPy ``.npy``            (none)        nothing (``numpy.save`` stores neither)
  (frames, height, width)
Hamamatsu ``.dcimg``      (none)        nothing / the frames' time stamps' interval
HCImage ``.cxd``          (none)        ``File Info/Comments`` calibration / the
                                        fields' time stamps' interval
========================  ============  ==========================================

Every problem with a file (a missing sidecar, a truncated or corrupt file, an
unsupported layout) is raised as one line naming the file: FileNotFoundError for
a missing file, ValueError otherwise, ImportError's subclass
:class:`MissingReaderError` when the reader's library is not installed.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .file_channels import channel_label, channel_names, movie_names, resolve_channel
from .infofile import INFO_FILE_MARK
from .movie_series import TIFF_SUFFIXES, sequence_name
from .stacks import LazyStack, _check_dtype, _ndim_message, check_frame_count
from .tiff_metadata import _optional, _positive_float

__all__ = [
    "HDF5_SUFFIXES",
    "MOVIE_SUFFIXES",
    "CziMovie",
    "DaxMovie",
    "ImarisMovie",
    "MissingReaderError",
    "MovieFile",
    "MappedMovie",
    "Hdf5Movie",
    "Nd2Movie",
    "OmeZarrMovie",
    "PicassoRawMovie",
    "READER_LIBRARIES",
    "SifMovie",
    "hdf5_left_out",
    "hdf5_movie_datasets",
    "is_movie_name",
    "is_other_format",
    "movie_name",
    "movie_stem",
    "open_format",
    "path_size",
    "reader_package",
    "sidecar_of",
    "supported_formats_text",
]

PathLike = str | os.PathLike

#: Movie suffixes besides TIFF, lower case, and what they are.
MOVIE_SUFFIXES = {
    ".dax": "Zhuang lab .dax (with its .inf)",
    ".raw": "Picasso .raw (with its .yaml)",
    ".ims": "Imaris .ims",
    ".zarr": "OME-Zarr folder",
    ".czi": "Zeiss .czi",
    ".nd2": "Nikon .nd2",
    ".sif": "Andor .sif",
    ".sifx": "Andor Solis spooled series (.sifx with its .ini and .dat files)",
    ".spe": "Princeton Instruments .spe",
    ".h5": "HDF5 stack (.h5)",
    ".hdf5": "HDF5 stack (.hdf5)",
    ".npy": "NumPy .npy stack",
    ".lif": "Leica .lif",
    ".lof": "Leica .lof",
    ".dcimg": "Hamamatsu .dcimg",
    ".cxd": "Hamamatsu HCImage .cxd",
}

#: Suffixes of the HDF5 files read as movies (:class:`Hdf5Movie`).
HDF5_SUFFIXES = (".h5", ".hdf5")

# Sidecar metadata files of the raw formats: movie suffix -> sidecar suffix
_SIDECARS = {".dax": ".inf", ".raw": ".yaml"}

# NGFF units (and common symbols) to nanometres and milliseconds
_NGFF_LENGTH_TO_NM = {
    "angstrom": 0.1,
    "picometer": 1e-3,
    "nanometer": 1.0,
    "nm": 1.0,
    "micrometer": 1e3,
    "micron": 1e3,
    "um": 1e3,
    "µm": 1e3,
    "μm": 1e3,
    "millimeter": 1e6,
    "mm": 1e6,
    "centimeter": 1e7,
    "meter": 1e9,
    "m": 1e9,
}
_NGFF_TIME_TO_MS = {
    "nanosecond": 1e-6,
    "ns": 1e-6,
    "microsecond": 1e-3,
    "us": 1e-3,
    "µs": 1e-3,
    "millisecond": 1.0,
    "ms": 1.0,
    "second": 1e3,
    "s": 1e3,
    "minute": 6e4,
    "min": 6e4,
    "hour": 3.6e6,
    "h": 3.6e6,
}


#: The pixel size (nm) writers store when they know none (1 µm: Fiji's default,
#: ImSwitch's uncalibrated cameras, HCImage's), never an SMLM camera's pixel at the sample.
PLACEHOLDER_PIXEL_NM = 1000.0


def is_placeholder_pixel(size_nm: float) -> bool:
    """Whether a stored pixel size is :data:`PLACEHOLDER_PIXEL_NM`, i.e. none known."""
    return math.isclose(size_nm, PLACEHOLDER_PIXEL_NM)


class MissingReaderError(ImportError, RuntimeError):
    """The library that reads a format is not installed (the message names the extra).

    Also a RuntimeError, so that the command reports it in one line like every other
    problem with an input."""


def _suffix(path: PathLike) -> str:
    """Lower-case extension of a path, a trailing separator ignored (``movie.zarr/``)."""
    text = os.fspath(path).rstrip("/\\")
    return os.path.splitext(text)[1].lower()


def supported_formats_text() -> str:
    """The supported movie files, for messages.

    Examples
    --------
    >>> supported_formats_text()
    '.tif/.tiff, .stk (MetaMorph), .dax (+ .inf), .raw (+ .yaml), .ims, .zarr (OME-Zarr), \
.czi, .nd2, .lif, .lof, .sif, .sifx (Andor spooled series), .spe, .h5/.hdf5, .npy, .dcimg, \
.cxd'
    """
    return (
        ".tif/.tiff, .stk (MetaMorph), .dax (+ .inf), .raw (+ .yaml), .ims, .zarr (OME-Zarr), "
        ".czi, .nd2, .lif, .lof, .sif, .sifx (Andor spooled series), .spe, .h5/.hdf5, .npy, "
        ".dcimg, .cxd"
    )


def is_movie_name(filename: str) -> bool:
    """Whether a file name is a movie of a supported format (TIFF or another).

    Examples
    --------
    >>> [is_movie_name(n) for n in ("a.tif", "a.DAX", "a.inf", "a.yaml", ".a.ims", "a.zarr")]
    [True, True, False, False, False, True]
    """
    if filename.startswith("."):
        return False
    return filename.lower().endswith(TIFF_SUFFIXES) or _suffix(filename) in MOVIE_SUFFIXES


def movie_stem(filename: str) -> str:
    """A movie file's name less its format's suffix (and an OME-TIFF's ``.ome``): what
    its channels are named after, in the command and the workflow alike.

    Examples
    --------
    >>> [movie_stem(n) for n in ("red.ome.tif", "run.TIFF", "cell.ome.zarr", "a.b.nd2", "x")]
    ['red', 'run', 'cell', 'a.b', 'x']
    """
    stem = filename
    for suffix in (*TIFF_SUFFIXES, *MOVIE_SUFFIXES):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if stem.lower().endswith(".ome"):
        stem = stem[:-4]
    return stem


def movie_name(path: PathLike) -> str:
    """What a movie's channels are named after, in the command and the workflow alike:
    its image sequence's name (:func:`smlmlp.movie_series.sequence_name`) for a file of
    one, an Andor spooled series' folder (:func:`smlmlp.andor_spool.spool_name`), else
    its file's :func:`movie_stem`."""
    if _suffix(path) == ".sifx":
        from .andor_spool import spool_name

        return spool_name(path)
    return sequence_name(path) or movie_stem(os.path.basename(os.fspath(path)))


def is_other_format(path: PathLike) -> bool:
    """Whether a path names a movie format other than TIFF.

    Examples
    --------
    >>> is_other_format("a.czi"), is_other_format("a.nd2"), is_other_format("a.tif")
    (True, True, False)
    """
    suffix = _suffix(path)
    return suffix in MOVIE_SUFFIXES


def sidecar_of(path: PathLike) -> str | None:
    """The metadata file that a raw movie needs beside it (``.dax`` → ``.inf``, Picasso
    ``.raw`` → ``.yaml``), None for other formats.

    Examples
    --------
    >>> sidecar_of("data/movie.dax"), sidecar_of("movie.RAW"), sidecar_of("movie.tif")
    ('data/movie.inf', 'movie.yaml', None)
    """
    text = os.fspath(path)
    suffix = _SIDECARS.get(_suffix(text))
    if suffix is None:
        return None
    return os.path.splitext(text)[0] + suffix


def path_size(path: PathLike) -> int:
    """Size in bytes of a movie file, or of every file under a movie folder (OME-Zarr)."""
    if os.path.isdir(path):
        total = 0
        for folder, _, names in os.walk(path):
            total += sum(os.path.getsize(os.path.join(folder, n)) for n in names)
        return total
    return os.path.getsize(path)


def _clean(message: Any) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= 200 else message[:197] + "..."


#: The library each format's reader needs besides NumPy and h5py: suffix ->
#: (module it imports, package that installs it, smlmLP's pip extra).
READER_LIBRARIES = {
    ".zarr": ("zarr", "zarr", "zarr"),
    ".czi": ("pylibCZIrw.czi", "pylibCZIrw", "czi"),
    ".nd2": ("nd2", "nd2", "nd2"),
    ".sif": ("sif_parser", "sif_parser", "sif"),
    ".sifx": ("sif_parser", "sif_parser", "sif"),
}


def reader_package(suffix: str) -> str | None:
    """The top-level package a format's reader imports; None when NumPy and h5py do.

    Examples
    --------
    >>> reader_package(".czi"), reader_package(".dax")
    ('pylibCZIrw', None)
    """
    library = READER_LIBRARIES.get(suffix)
    return None if library is None else library[0].split(".")[0]


def _need(suffix: str, label: str, what: str) -> Any:
    """Import the library of a format's reader, or say which extra installs it."""
    import importlib

    module, package, extra = READER_LIBRARIES[suffix]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingReaderError(
            f"{label}: reading {what} files needs {package}: pip install -e '.[{extra}]' "
            "in the smlmLP checkout"
        ) from None


def _square(sizes: list[float | None]) -> tuple[float, float] | None:
    """(y, x) from two optional sizes; one given means square pixels."""
    y, x = sizes
    y = x if y is None else y
    x = y if x is None else x
    return None if y is None else (float(y), float(x))


# --------------------------------------------------------------------------- #
# Common base
# --------------------------------------------------------------------------- #


class MovieFile(LazyStack):
    """A movie of a format other than TIFF, read lazily frame range by frame range.

    Use :func:`smlmlp.loading.open_movie` to create one.

    Attributes
    ----------
    shape : tuple of int
        ``(n_frames, height, width)``.
    dtype : numpy.dtype
        Data type of the frames (native byte order).
    paths : list of str
        Absolute paths of the files the frames and their metadata come from (the movie
        first, then its sidecar; the folder of an OME-Zarr movie).
    metadata : dict
        ``pixel_nm``: pixel size ``(y, x)`` in nm or None; ``exposure_ms``: exposure
        in ms or None; ``axes``: the axes of the frames (``'TYX'``); ``kind``: the
        format (``'dax'``, ``'picasso-raw'``, ``'imaris'``, ``'ome-zarr'``, ``'czi'``,
        ``'nd2'``, ``'sif'``, ``'andor-spool'``, ``'spe'``, ``'hdf5'``, ``'npy'``,
        ``'lif'``, ``'dcimg'``, ``'cxd'``);
        ``channel``: the name of the channel read, in a file of several.
    channel_names : tuple of str
        The file's channels when it holds several (Imaris, OME-Zarr), else empty.
    channel : int
        The index of the channel read (0 in a file of one channel).
    name : str
        Label used in messages.
    """

    kind = ""
    what = ""
    #: whether a movie of the format is a folder (OME-Zarr) rather than a file
    folder = False

    def __init__(
        self, path: PathLike, *, name: str | None = None, channel: int | str | None = None
    ) -> None:
        self.path = os.fspath(path)
        self.name = name if name is not None else self.path
        self.label = self.path if name is None else f"{name} ({self.path})"
        self.requested_channel = channel
        self.channel_names: tuple[str, ...] = ()
        self.channel = 0
        self.closed = False
        self._lock = threading.Lock()
        self.metadata: dict[str, Any] = {
            "pixel_nm": None,
            "exposure_ms": None,
            "axes": "TYX",
            "kind": self.kind,
        }
        self.paths = [os.path.abspath(self.path)]
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"{self.label}: no such file")
        if os.path.isdir(self.path) and not self.folder:
            raise IsADirectoryError(f"{self.label}: is a directory, expected a {self.what} file")
        if self.folder and not os.path.isdir(self.path):
            raise ValueError(f"{self.label}: a {self.what} movie is a folder, this is a file")
        try:
            self._open()
            if not self.channel_names and channel is not None:  # a file of one channel
                self.channel = resolve_channel(self.label, ("c0",), channel)
            self.dtype = _check_dtype(self.label, self.dtype).newbyteorder("=")
            n_frames, height, width = self.shape
            if n_frames < 2:
                check_frame_count(n_frames, self.name)
            if height < 1 or width < 1:
                raise ValueError(f"{self.label}: frames are empty (shape {self.shape})")
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        raise NotImplementedError

    def _choose_channel(self, found: Sequence[Any] | None, n_channels: int) -> int:
        """Name the file's ``n_channels`` channels (``found``: the names its metadata
        gives) and pick the one asked for; its index."""
        if n_channels <= 1:
            return 0
        self.channel_names = channel_names(found, n_channels)
        self.channel = resolve_channel(self.label, self.channel_names, self.requested_channel)
        self.label = channel_label(self.label, self.channel_names, self.channel)
        self.metadata["channel"] = self.channel_names[self.channel]
        return self.channel

    def _corrupt(self, exc: BaseException | str) -> ValueError:
        return ValueError(f"{self.label}: corrupt or truncated {self.what} file ({_clean(exc)})")

    def _read(self, start: int, stop: int) -> np.ndarray:
        if self.closed:
            raise ValueError(f"{self.name}: the movie is closed")
        if stop <= start:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        with self._lock:
            try:
                data = self._read_frames(start, stop)
            except MissingReaderError:
                raise
            except Exception as exc:
                if isinstance(exc, ValueError) and str(exc).startswith(self.label):
                    raise
                raise ValueError(
                    f"{self.label}: cannot read frames {start}..{stop - 1}, the file may be "
                    f"truncated or corrupt ({_clean(exc)})"
                ) from exc
        return np.ascontiguousarray(data, dtype=self.dtype)

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError

    def _release(self) -> None:
        """Close what the reader holds open."""

    def close(self) -> None:
        """Close the file. Reading afterwards raises ValueError."""
        self.closed = True
        with contextlib.suppress(Exception):
            self._release()

    def __enter__(self) -> MovieFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            f"{self.name}: a {type(self).__name__} holds open files and cannot be pickled; "
            "open the movie again with open_movie in the other process"
        )

    def __repr__(self) -> str:
        state = ", closed" if self.closed else ""
        return (
            f"{type(self).__name__}({self.path!r}, shape={self.shape}, dtype={self.dtype}, "
            f"pixel_nm={self.metadata.get('pixel_nm')}, "
            f"exposure_ms={self.metadata.get('exposure_ms')}{state})"
        )


class MappedMovie(MovieFile):
    """A movie read from a memory map of its file: ``_frames``, a ``(frames, height,
    width)`` view (of any strides) of ``_mapped``; a chunk is copied out of it."""

    _mapped: np.memmap | None = None
    _frames: np.ndarray | None = None

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        assert self._frames is not None
        return np.array(self._frames[start:stop], order="C").astype(self.dtype, copy=False)

    def _release(self) -> None:
        mapped = self._mapped
        self._mapped = self._frames = None
        if mapped is not None and getattr(mapped, "_mmap", None) is not None:
            mapped._mmap.close()


class _RawMovie(MappedMovie):
    """Raw frames one after the other in a file, described by a sidecar file."""

    def _sidecar(self) -> str:
        sidecar = sidecar_of(self.path)
        assert sidecar is not None
        if not os.path.isfile(sidecar):
            raise FileNotFoundError(
                f"{self.label}: its metadata file {sidecar} is missing (a {self.what} movie "
                f"is read with the {os.path.splitext(sidecar)[1]} file written beside it)"
            )
        return sidecar

    def _map_file(self, file_dtype: np.dtype, shape: tuple[int, int, int], sidecar: str) -> None:
        self.shape = tuple(int(n) for n in shape)  # type: ignore[assignment]
        self.dtype = _check_dtype(self.label, file_dtype)
        need = math.prod(self.shape) * file_dtype.itemsize
        size = os.path.getsize(self.path)
        if size < need:
            raise ValueError(
                f"{self.label}: truncated {self.what} file: {self.shape[0]} frames of "
                f"{self.shape[1]}x{self.shape[2]} px ({file_dtype.name}, as "
                f"{os.path.basename(sidecar)} says) need {need} bytes, the file has {size}"
            )
        if min(self.shape) > 0:
            self._mapped = np.memmap(self.path, dtype=file_dtype, mode="r", shape=self.shape)
            self._frames = self._mapped
        self.paths.append(os.path.abspath(sidecar))


# --------------------------------------------------------------------------- #
# Zhuang lab .dax + .inf
# --------------------------------------------------------------------------- #


class DaxMovie(_RawMovie):
    """Zhuang lab ``.dax`` movie: raw 16-bit frames, described by the ``.inf`` beside it.

    The ``.inf`` gives ``data type = 16 bit integers (binary, big endian)`` (or
    ``little endian``), ``frame dimensions = W x H`` and ``number of frames = N``.
    It holds no pixel size or exposure.
    """

    kind = "dax"
    what = ".dax"

    def _open(self) -> None:
        sidecar = self._sidecar()
        try:
            with open(sidecar, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError as exc:
            raise ValueError(f"{sidecar}: cannot read the .inf file ({_clean(exc)})") from exc
        fields: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                fields[key.strip().lower()] = value.strip()
        missing = [
            k for k in ("data type", "frame dimensions", "number of frames") if k not in fields
        ]
        if missing:
            raise ValueError(f"{sidecar}: corrupt .inf file: no '{missing[0]}' line")
        kind = fields["data type"].lower()
        if "16 bit" not in kind or "endian" not in kind:
            raise ValueError(
                f"{sidecar}: unsupported data type {fields['data type']!r} (expected 16 bit "
                "integers, big or little endian)"
            )
        order = "<" if "little" in kind else ">"
        dims = re.fullmatch(r"(\d+)\s*x\s*(\d+)", fields["frame dimensions"])
        count = re.fullmatch(r"\d+", fields["number of frames"])
        if dims is None or count is None:
            raise ValueError(
                f"{sidecar}: corrupt .inf file: frame dimensions "
                f"{fields['frame dimensions']!r}, number of frames "
                f"{fields['number of frames']!r}"
            )
        width, height = int(dims[1]), int(dims[2])
        self._map_file(np.dtype(order + "u2"), (int(count[0]), height, width), sidecar)


# --------------------------------------------------------------------------- #
# Picasso .raw + .yaml
# --------------------------------------------------------------------------- #


class PicassoRawMovie(_RawMovie):
    """Picasso ``.raw`` movie: raw frames described by the ``.yaml`` beside it.

    The YAML's first document gives ``Byte Order`` (``<`` or ``>``), ``Data Type``
    (e.g. ``uint16``), ``Frames``, ``Height`` and ``Width``; ``Pixelsize`` (nm) and
    Micro-Manager's ``PixelSizeUm`` / ``Exposure-ms`` are read when present.
    """

    kind = "picasso-raw"
    what = "Picasso .raw"

    def _open(self) -> None:
        import yaml

        sidecar = self._sidecar()
        try:
            with open(sidecar, encoding="utf-8") as handle:
                documents = [d for d in yaml.safe_load_all(handle) if d is not None]
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ValueError(f"{sidecar}: corrupt .yaml file ({_clean(exc)})") from exc
        info = documents[0] if documents else None
        if not isinstance(info, dict):
            raise ValueError(f"{sidecar}: corrupt .yaml file: no mapping of movie fields")
        missing = [k for k in ("Data Type", "Frames", "Height", "Width") if k not in info]
        if missing:
            raise ValueError(
                f"{sidecar}: corrupt .yaml file: no '{missing[0]}' field (a Picasso .raw "
                "movie needs Byte Order, Data Type, Frames, Height and Width)"
            )
        order = str(info.get("Byte Order", "<"))
        if order not in ("<", ">", "=", "|"):
            raise ValueError(f"{sidecar}: Byte Order {order!r} is not '<' or '>'")
        try:
            dtype = np.dtype(str(info["Data Type"])).newbyteorder(order)
            shape = tuple(int(info[k]) for k in ("Frames", "Height", "Width"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{sidecar}: corrupt .yaml file ({_clean(exc)})") from exc
        if min(shape) < 0:
            raise ValueError(f"{sidecar}: corrupt .yaml file: negative size {shape}")
        self._map_file(dtype, shape, sidecar)  # type: ignore[arg-type]
        self.metadata.update(_picasso_metadata(documents))


def _picasso_metadata(documents: Sequence[Any]) -> dict[str, Any]:
    """Pixel size and exposure from Picasso's YAML documents, when they hold them."""
    pixel = exposure = None
    for document in documents:
        if not isinstance(document, dict):
            continue
        candidates = [document]
        nested = document.get("Micro-Manager Metadata")
        if isinstance(nested, dict):
            candidates.append(nested)
        for values in candidates:
            if pixel is None:
                pixel = _positive_float(values.get("Pixelsize"))
            if pixel is None:
                micrometre = _positive_float(values.get("PixelSizeUm"))
                pixel = None if micrometre is None else micrometre * 1e3
            if exposure is None:
                exposure = _positive_float(values.get("Exposure-ms"))
    return {"pixel_nm": None if pixel is None else (pixel, pixel), "exposure_ms": exposure}


# --------------------------------------------------------------------------- #
# Imaris .ims (HDF5)
# --------------------------------------------------------------------------- #


def _ims_text(value: Any) -> str | None:
    """An Imaris attribute (an array of one-character byte strings) as text."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, str):
        return value
    array = np.asarray(value)
    if array.dtype.kind == "S":
        return b"".join(array.ravel().tolist()).decode("latin-1")
    if array.dtype.kind == "U":
        return "".join(array.ravel().tolist())
    if array.size == 1:
        return str(array.ravel()[0])
    return None


def _ims_number(attrs: Any, key: str) -> float | None:
    text = _ims_text(attrs.get(key))
    try:
        return None if text is None else float(text.strip())
    except ValueError:
        return None


def _ims_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    for pattern in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        with contextlib.suppress(ValueError):
            return datetime.datetime.strptime(text.strip(), pattern)
    return None


def _hdf5_filters() -> None:
    """Register with h5py the compression filters of hdf5plugin (Blosc, Zstandard, LZ4,
    Bitshuffle, ...: those of PyTables, PYME and other writers), when it is installed."""
    with contextlib.suppress(ImportError):
        import hdf5plugin  # noqa: F401  (registers the filters on import)


#: Registered HDF5 filters of compressed movies (id -> name), for messages.
HDF5_FILTER_NAMES = {
    307: "bzip2", 32000: "LZF", 32001: "Blosc", 32004: "LZ4", 32008: "Bitshuffle",
    32013: "ZFP", 32015: "Zstandard", 32017: "SZ", 32024: "SZ3", 32026: "Blosc2",
}


def check_hdf5_filters(dataset: Any, label: str) -> None:
    """Raise a ValueError naming the compression filter of an HDF5 ``dataset`` that
    this installation cannot decode (h5py would say only that the data cannot be read).
    """
    import h5py

    plist = dataset.id.get_create_plist()
    for index in range(plist.get_nfilters()):
        code, _, _, name = plist.get_filter(index)
        if not h5py.h5z.filter_avail(code):
            if code in HDF5_FILTER_NAMES:
                name = HDF5_FILTER_NAMES[code]
            else:  # the name the file gives, up to its first ';'
                name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
                name = _clean(name.split(";")[0])[:60] or "without a name"
            raise ValueError(
                f"{label}: its frames ({dataset.name}) are compressed with the HDF5 filter "
                f"{name} (id {code}), which this installation cannot "
                "decode (hdf5plugin decodes Blosc, Zstandard, LZ4, Bitshuffle and more: "
                "pip install hdf5plugin)"
            )


class _Hdf5File(MovieFile):
    """A movie in an HDF5 file, read with h5py (Imaris, HDF5 stacks)."""

    _file: Any = None

    def _open_file(self) -> Any:
        """Open the file (read only), or say it is corrupt; the open ``h5py.File``."""
        import h5py

        _hdf5_filters()
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise self._corrupt(exc) from exc
        return self._file

    def _release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class ImarisMovie(_Hdf5File):
    """Imaris ``.ims`` movie (HDF5, read with h5py).

    Frames are ``DataSet/ResolutionLevel 0/TimePoint t/Channel c/Data``, one z plane
    per time point (a single time point with several z planes is read plane by
    plane), ``c`` the channel opened (``DataSetInfo/Channel c`` ``Name`` its name).
    The frame size is ``DataSetInfo/Image`` ``X``, ``Y`` (the stored data may be
    padded). Pixel size: the extents ``ExtMax - ExtMin`` over ``X``/``Y``
    in ``Unit`` (default µm); exposure: the interval between ``TimePoint1`` and
    ``TimePoint2`` of ``DataSetInfo/TimeInfo`` (a camera streaming without gaps).
    """

    kind = "imaris"
    what = ".ims"

    def _open(self) -> None:
        self._open_file()
        try:
            level = self._file["DataSet/ResolutionLevel 0"]
            times = sorted(
                (k for k in level if k.startswith("TimePoint ")), key=lambda k: int(k.split()[1])
            )
            if not times:
                raise ValueError("no TimePoint group under DataSet/ResolutionLevel 0")
            channels = [k for k in level[times[0]] if k.startswith("Channel ")]
            found = [
                _ims_text(self._file[f"DataSetInfo/Channel {c}"].attrs.get("Name"))
                if f"DataSetInfo/Channel {c}" in self._file
                else None
                for c in range(len(channels))
            ]
            channel = self._choose_channel(found, len(channels))
            self._data = [level[f"{t}/Channel {channel}/Data"] for t in times]
            check_hdf5_filters(self._data[0], self.label)
            info = self._file.get("DataSetInfo/Image")
            image = info.attrs if info is not None else {}
            stored = self._data[0].shape
            if len(stored) != 3:
                raise ValueError(f"Data of shape {stored} is not (z, y, x)")
            sizes = [_ims_number(image, k) for k in ("Z", "Y", "X")]
            z, height, width = (
                int(s) if s is not None else int(n) for s, n in zip(sizes, stored, strict=True)
            )
            for data in self._data:
                if data.ndim != 3 or any(
                    n < m for n, m in zip(data.shape, (z, height, width), strict=True)
                ):
                    raise ValueError(
                        f"Data of {data.name} has shape {data.shape}, smaller than the image "
                        f"({z}, {height}, {width})"
                    )
            if len(times) > 1 and z != 1:
                raise ValueError(
                    f"{self.label}: {len(times)} time points of {z} z planes; a movie is one "
                    "plane per time point"
                )
            self._planes_are_frames = len(times) == 1
            n_frames = z if self._planes_are_frames else len(times)
            if n_frames == 1:
                raise ValueError(_ndim_message(self.label, (height, width), "image"))
            self.shape = (n_frames, height, width)
            self.dtype = self._data[0].dtype
        except ValueError as exc:
            if str(exc).startswith(self.label):
                raise
            raise self._corrupt(exc) from exc
        except (KeyError, OSError, TypeError, IndexError, RuntimeError) as exc:
            raise self._corrupt(exc) from exc
        self.metadata.update(_imaris_metadata(self._file, width, height))

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        _, height, width = self.shape
        if self._planes_are_frames:
            return self._data[0][start:stop, :height, :width]
        out = np.empty((stop - start, height, width), dtype=self._data[0].dtype)
        for i, frame in enumerate(range(start, stop)):
            out[i] = self._data[frame][0, :height, :width]
        return out


def _imaris_metadata(file: Any, width: int, height: int) -> dict[str, Any]:
    """Pixel size (from the extents) and frame interval of an Imaris file."""
    pixel = exposure = None
    with contextlib.suppress(Exception):
        image = file["DataSetInfo/Image"].attrs
        unit = (_ims_text(image.get("Unit")) or "um").strip().lower()
        factor = _NGFF_LENGTH_TO_NM.get(unit)
        sizes: list[float | None] = []
        for axis, count in ((1, height), (0, width)):  # Y, X
            low, high = _ims_number(image, f"ExtMin{axis}"), _ims_number(image, f"ExtMax{axis}")
            size = None
            if low is not None and high is not None and factor is not None:
                size = _positive_float((high - low) / count * factor)
            sizes.append(size)
        pixel = _square(sizes)
    with contextlib.suppress(Exception):
        info = file["DataSetInfo/TimeInfo"].attrs
        first = _ims_time(_ims_text(info.get("TimePoint1")))
        second = _ims_time(_ims_text(info.get("TimePoint2")))
        if first is not None and second is not None:
            exposure = _positive_float((second - first).total_seconds() * 1e3)
    return {"pixel_nm": pixel, "exposure_ms": exposure}


# --------------------------------------------------------------------------- #
# OME-Zarr
# --------------------------------------------------------------------------- #


class _ZarrImage(NamedTuple):
    """One OME-Zarr image's full-resolution array and how to read it."""

    array: Any
    multiscale: dict[str, Any]
    dataset: dict[str, Any]
    axes: list[str]
    kinds: list[Any]
    units: list[Any]
    frame_axis: int
    channel_axis: int | None
    channel_labels: list[Any]


class OmeZarrMovie(MovieFile):
    """OME-Zarr movie (NGFF 0.4 on Zarr v2, or 0.5 on Zarr v3), read with ``zarr``.

    The first multiscale's first dataset (full resolution) holds the frames, axes
    ``t`` (or one ``z`` axis when there is no ``t``), optional singleton ``c`` /
    ``z``, then ``y``, ``x``; a ``c`` axis of several channels holds one movie per
    channel. Its ``scale`` transformation gives the pixel size (space axes, unit
    ``micrometer`` unless given) and, for a ``t`` axis with a time unit, the
    exposure.

    A folder of bioformats2raw's layout (``bioformats2raw.layout`` in the root's
    attributes, the images in ``0/``, ``1/``, ... or those the ``OME`` group's
    ``series`` lists: what ``bioformats2raw`` writes of any file) holds its images'
    movies: one image is read as such, several are the file's movies as the image
    series of an OME-TIFF are, named after the ``Image`` names of
    ``OME/METADATA.ome.xml`` (else ``s0``, ``s1``, ...); single planes beside them
    (a slide's label image) are left out.
    """

    kind = "ome-zarr"
    what = "OME-Zarr"
    folder = True
    _image_read: _ZarrImage | None = None

    def _open(self) -> None:
        zarr = _need(".zarr", self.label, "OME-Zarr (.zarr)")
        try:
            group = zarr.open_group(self.path, mode="r")
            images = _zarr_images(group, self.path, self.label)
            layouts = [(name, self._image(image)) for name, image in images]
        except Exception as exc:
            if isinstance(exc, ValueError) and str(exc).startswith(self.label):
                raise  # told already
            raise self._corrupt(exc) from exc
        if len(layouts) > 1:  # single planes beside movies (a slide's label) are no movies
            movie_layouts = [(n, i) for n, i in layouts if math.prod(i.array.shape[:-2]) > 1]
            if len(movie_layouts) == 1:
                layouts = [(None, movie_layouts[0][1])]
            elif movie_layouts:
                layouts = movie_layouts
        movies: list[tuple[_ZarrImage, int | None, str]] = []
        for name, image in layouts:
            if image.channel_axis is None:
                movies.append((image, None, name))
                continue
            count = int(image.array.shape[image.channel_axis])
            for index, label in enumerate(channel_names(image.channel_labels, count)):
                movies.append((image, index, label if name is None else f"{name}_{label}"))
        chosen = self._choose_channel([name for _, _, name in movies], len(movies))
        image, self._channel_index, _ = movies[chosen]
        self._image_read = image
        shape = tuple(int(n) for n in image.array.shape)
        frame_axis = image.frame_axis
        self.shape = (shape[frame_axis] if len(shape) > 2 else 1, shape[-2], shape[-1])
        if self.shape[0] < 2:
            raise ValueError(_ndim_message(self.label, shape[-2:], "image"))
        self.dtype = np.dtype(image.array.dtype)
        self.metadata["axes"] = (image.axes[frame_axis] + "yx").upper()
        missing = _missing_chunks(image.array)
        if missing:
            raise ValueError(
                f"{self.label}: truncated OME-Zarr movie: {missing} of the "
                f"{int(image.array.nchunks)} chunks of dataset '{image.dataset['path']}' are "
                "missing"
            )
        self.metadata.update(
            _zarr_metadata(
                image.multiscale,
                image.dataset,
                image.axes,
                image.kinds,
                image.units,
                frame_axis=frame_axis,
            )
        )

    def _image(self, group: Any) -> _ZarrImage:
        """The layout of the image of ``group`` (a group with ``multiscales``)."""
        attrs = _ngff_attributes(group)
        multiscales = attrs.get("multiscales")
        if not isinstance(multiscales, list) or not multiscales:
            raise ValueError(
                f"{self.label}: not an OME-Zarr image (no 'multiscales' in the group's attributes)"
            )
        scale0 = multiscales[0]
        dataset = scale0["datasets"][0]
        axes = [a["name"] if isinstance(a, dict) else str(a) for a in scale0["axes"]]
        kinds = [a.get("type") if isinstance(a, dict) else None for a in scale0["axes"]]
        units = [a.get("unit") if isinstance(a, dict) else None for a in scale0["axes"]]
        array = group[dataset["path"]]
        shape = tuple(int(n) for n in array.shape)
        if len(axes) != len(shape) or axes[-2:] != ["y", "x"]:
            raise ValueError(
                f"{self.label}: axes {axes} do not fit the data of shape {shape} (expected "
                "t, c, z, y, x with y, x last)"
            )
        frame_axes = [i for i, (a, n) in enumerate(zip(axes[:-2], shape, strict=False)) if n > 1]
        channel_axis, labels = None, []
        if len(frame_axes) == 2 and "c" in (axes[i] for i in frame_axes):
            channel_axis = next(i for i in frame_axes if axes[i] == "c")
            frame_axes.remove(channel_axis)
            omero = attrs.get("omero") if isinstance(attrs.get("omero"), dict) else {}
            listed = omero.get("channels") if isinstance(omero.get("channels"), list) else []
            labels = [c.get("label") if isinstance(c, dict) else None for c in listed]
        if len(frame_axes) > 1 or (frame_axes and axes[frame_axes[0]] == "c"):
            raise ValueError(
                f"{self.label}: expected one frame axis and two image axes, found axes "
                f"{''.join(axes)} with shape {shape}; save one channel / one plane per movie, "
                "or several channels side by side in one frame and use split_movie"
            )
        if len(shape) < 3:
            raise ValueError(_ndim_message(self.label, shape, "image"))
        frame_axis = frame_axes[0] if frame_axes else axes.index("t") if "t" in axes else 0
        return _ZarrImage(
            array, scale0, dataset, axes, kinds, units, frame_axis, channel_axis, labels
        )

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        image = self._image_read
        ndim = len(image.array.shape)
        index: list[Any] = [0] * (ndim - 2) + [slice(None), slice(None)]
        index[image.frame_axis] = slice(start, stop)
        if image.channel_axis is not None:
            index[image.channel_axis] = self._channel_index
        data = np.asarray(image.array[tuple(index)])
        return data.reshape(stop - start, *self.shape[1:])

    def _release(self) -> None:
        self._image_read = None


def _ngff_attributes(group: Any) -> dict[str, Any]:
    """A Zarr group's attributes, those of NGFF 0.5 (under ``ome``) lifted up."""
    attrs = dict(group.attrs)
    return attrs.get("ome", attrs) if isinstance(attrs.get("ome"), dict) else attrs


def _zarr_images(group: Any, path: str, label: str) -> list[tuple[str | None, Any]]:
    """The images of an OME-Zarr folder, ``(name, group)`` each: the root's own (name
    None), or the images of bioformats2raw's layout (``0/``, ``1/``, ...; one of them:
    name None; several: named after the ``Image`` names of ``OME/METADATA.ome.xml``,
    else ``s0``, ``s1``, ...)."""
    attrs = _ngff_attributes(group)
    if "multiscales" in attrs or "bioformats2raw.layout" not in attrs:
        return [(None, group)]
    try:  # the OME group may list the images' paths, in the OME-XML's order
        listed = _ngff_attributes(group["OME"]).get("series")
    except KeyError:
        listed = None
    images = []
    if isinstance(listed, list) and listed:
        images = [group[str(image_path)] for image_path in listed]
    else:  # else they are 0/, 1/, 2/, ... without gaps
        while True:
            try:
                member = group[str(len(images))]
            except KeyError:
                break
            if "multiscales" not in _ngff_attributes(member):
                break
            images.append(member)
    if not images:
        raise ValueError(
            f"{label}: an OME-Zarr folder of bioformats2raw's layout without an image "
            "(no group 0/ with 'multiscales')"
        )
    if len(images) == 1:
        return [(None, images[0])]
    names = channel_names(_bioformats2raw_image_names(path, len(images)), len(images), "s")
    return list(zip(names, images, strict=True))


def _bioformats2raw_image_names(path: str, count: int) -> list[str] | None:
    """The ``Name`` of each ``Image`` in the folder's ``OME/METADATA.ome.xml``, in
    order, when the file is there and lists ``count`` images or more; else None."""
    import xml.etree.ElementTree as ElementTree

    xml_path = os.path.join(path, "OME", "METADATA.ome.xml")
    try:
        root = ElementTree.parse(xml_path).getroot()
    except (OSError, ElementTree.ParseError):
        return None
    images = [node for node in root if node.tag.rsplit("}", 1)[-1] == "Image"]
    if len(images) < count:
        return None
    return [image.get("Name") for image in images[:count]]


def _missing_chunks(array: Any) -> int:
    """How many chunks of a Zarr array are not stored (zarr would read them as zeros)."""
    try:
        return int(array.nchunks) - int(array.nchunks_initialized)
    except Exception:  # a store that cannot list its keys: nothing to check
        return 0


def _zarr_metadata(
    scale0: dict[str, Any],
    dataset: dict[str, Any],
    axes: list[str],
    kinds: list[Any],
    units: list[Any],
    *,
    frame_axis: int,
) -> dict[str, Any]:
    """Pixel size (nm) and exposure (ms) from the NGFF scale transformations."""
    scale = [1.0] * len(axes)
    found = False
    for transforms in (
        dataset.get("coordinateTransformations"),
        scale0.get("coordinateTransformations"),
    ):
        for transform in transforms or []:
            if isinstance(transform, dict) and transform.get("type") == "scale":
                values = transform.get("scale")
                if isinstance(values, list) and len(values) == len(axes):
                    scale = [a * float(b) for a, b in zip(scale, values, strict=True)]
                    found = True
    if not found:
        return {"pixel_nm": None, "exposure_ms": None}
    sizes: list[float | None] = []
    for i in (len(axes) - 2, len(axes) - 1):
        unit = str(units[i] or "micrometer").lower()
        factor = _NGFF_LENGTH_TO_NM.get(unit)
        sizes.append(None if factor is None else _positive_float(scale[i] * factor))
    exposure = None
    if kinds[frame_axis] == "time" or axes[frame_axis] == "t":
        unit = units[frame_axis]
        factor = None if unit is None else _NGFF_TIME_TO_MS.get(str(unit).lower())
        if factor is not None:
            exposure = _positive_float(scale[frame_axis] * factor)
    return {"pixel_nm": _square(sizes), "exposure_ms": exposure}


# --------------------------------------------------------------------------- #
# Zeiss .czi
# --------------------------------------------------------------------------- #

_CZI_PIXEL_TYPES = {"Gray8": np.uint8, "Gray16": np.uint16, "Gray32Float": np.float32}


class CziMovie(MovieFile):
    """Zeiss ``.czi`` movie, read with pylibCZIrw, one frame per T (or Z) plane of the
    channel opened (``channel``; named by the ``Channel`` ``Name`` of the metadata).

    Pixel size: ``Scaling/Items/Distance`` of X and Y (metres per pixel); exposure:
    the first channel's ``ExposureTime`` (ns).
    """

    kind = "czi"
    what = ".czi"
    _reader: Any = None
    _context: Any = None

    def _open(self) -> None:
        czi = _need(".czi", self.label, ".czi")
        try:
            self._context = czi.open_czi(self.path)
            self._reader = self._context.__enter__()
            box = self._reader.total_bounding_box
            rect = self._reader.total_bounding_rectangle
            scenes = dict(self._reader.scenes_bounding_rectangle)
            pixel_types = dict(self._reader.pixel_types)
            metadata = self._reader.metadata
        except Exception as exc:
            raise self._corrupt(exc) from exc
        sizes = {k: int(v[1]) - int(v[0]) for k, v in box.items() if k not in ("X", "Y")}
        extra = {k: n for k, n in sizes.items() if n > 1 and k not in ("T", "Z", "C")}
        if extra or (sizes.get("T", 1) > 1 and sizes.get("Z", 1) > 1):
            raise ValueError(
                f"{self.label}: expected one frame axis (T or Z), found sizes {sizes}; save "
                "one position / one z stack per movie"
            )
        self._axis = "T" if sizes.get("T", 1) > 1 or sizes.get("Z", 1) <= 1 else "Z"
        self._start = {k: int(v[0]) for k, v in box.items()}
        movies = _czi_movies(metadata, sorted(scenes) if len(scenes) > 1 else [], sizes)
        self._scene = None
        if len(movies) > 1:  # scenes (positions) and / or channels: one movie each
            pick = self._choose_channel([name for _, _, name in movies], len(movies))
            self._scene, channel, _ = movies[pick]
            self._start["C"] += channel
            if self._scene is not None:
                rect = scenes[self._scene]  # the scene's own field, not the mosaic of all
        kind = pixel_types.get(0) or next(iter(pixel_types.values()), None)
        if kind not in _CZI_PIXEL_TYPES:
            raise ValueError(
                f"{self.label}: pixel type {kind} is not supported (grey-scale Gray8, Gray16 or "
                "Gray32Float)"
            )
        self._pixel_type = kind
        self._roi = (int(rect.x), int(rect.y), int(rect.w), int(rect.h))
        self.shape = (sizes.get(self._axis, 1), int(rect.h), int(rect.w))
        if self.shape[0] == 1:
            raise ValueError(_ndim_message(self.label, self.shape[1:], "image"))
        self.dtype = np.dtype(_CZI_PIXEL_TYPES[kind])
        self.metadata["axes"] = self._axis + "YX"
        channel_in_c = self._start.get("C", 0) - int(box.get("C", (0, 1))[0])
        self.metadata.update(czi_metadata(metadata, channel_in_c))

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        plane = {k: v for k, v in self._start.items() if k not in ("X", "Y")}
        for i, frame in enumerate(range(start, stop)):
            plane[self._axis] = self._start.get(self._axis, 0) + frame
            data = self._reader.read(
                roi=self._roi, plane=plane, scene=self._scene, pixel_type=self._pixel_type
            )
            out[i] = data.reshape(self.shape[1:])
        return out

    def _release(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
        self._context = self._reader = None


def _czi_movies(
    document: Any, scenes: list[int], sizes: dict[str, int]
) -> list[tuple[int | None, int, str]]:
    """The movies of a CZI file, ``(scene or None, channel, name)``: one per channel
    of each scene (position) when it has several, named after the scenes' ``Name``
    (else ``s0``, ``s1``, ...), then the channels'."""
    n_channels = sizes.get("C", 1)
    channels: tuple[str, ...] = ("",)
    if n_channels > 1:
        channels = channel_names(_optional(_czi_channel_names, document), n_channels)
    keys: list[int | None] = [None]
    places: tuple[str, ...] = ("",)
    if scenes:
        keys = list(scenes)
        places = channel_names(_optional(_czi_scene_names, document, scenes), len(scenes), "s")
    return [(keys[p], c, name) for (p, c), name in movie_names(places, channels)]


def _czi_scene_names(document: Any, scenes: list[int]) -> list[Any]:
    """The ``Name`` of the scenes ``scenes`` (their indices) in a CZI metadata document."""
    root = document["ImageDocument"]["Metadata"]["Information"]["Image"]["Dimensions"]
    listed = root["S"]["Scenes"]["Scene"]
    listed = listed if isinstance(listed, list) else [listed]
    by_index = {int(scene.get("@Index", i)): scene.get("@Name") for i, scene in enumerate(listed)}
    return [by_index.get(index) for index in scenes]


def _czi_channel_names(document: Any) -> list[Any]:
    """The ``Name`` of every ``Channel`` of a CZI metadata document (xmltodict form)."""
    root = document["ImageDocument"]["Metadata"]
    channels = root["Information"]["Image"]["Dimensions"]["Channels"]["Channel"]
    return [c.get("@Name") for c in (channels if isinstance(channels, list) else [channels])]


def czi_metadata(document: Any, channel: int = 0) -> dict[str, Any]:
    """Pixel size (nm) and exposure (ms, of the channel ``channel``, else of the first)
    from a CZI metadata document (as a dict).

    Examples
    --------
    >>> items = [{"@Id": "X", "Value": "1.1e-07"}, {"@Id": "Y", "Value": "1e-07"}]
    >>> channel = {"@Id": "Channel:0", "ExposureTime": "30000000"}
    >>> document = {"ImageDocument": {"Metadata": {
    ...     "Scaling": {"Items": {"Distance": items}},
    ...     "Information": {"Image": {"Dimensions": {"Channels": {"Channel": channel}}}}}}}
    >>> czi_metadata(document)
    {'pixel_nm': (100.0, 110.0), 'exposure_ms': 30.0}
    >>> two = [channel, {"@Id": "Channel:1", "ExposureTime": "50000000"}]
    >>> document["ImageDocument"]["Metadata"]["Information"]["Image"]["Dimensions"] = {
    ...     "Channels": {"Channel": two}}
    >>> czi_metadata(document, channel=1)["exposure_ms"]
    50.0
    """
    pixel = exposure = None
    with contextlib.suppress(Exception):
        root = document["ImageDocument"]["Metadata"]
        distances = root["Scaling"]["Items"]["Distance"]
        distances = distances if isinstance(distances, list) else [distances]
        values = {d.get("@Id"): _positive_float(d.get("Value")) for d in distances}
        sizes = [None if values.get(a) is None else values[a] * 1e9 for a in ("Y", "X")]
        pixel = _square(sizes)
    with contextlib.suppress(Exception):
        channels = root["Information"]["Image"]["Dimensions"]["Channels"]["Channel"]
        channels = channels if isinstance(channels, list) else [channels]
        value = _positive_float(channels[channel if channel < len(channels) else 0]
                                .get("ExposureTime"))
        exposure = None if value is None else value * 1e-6
    return {"pixel_nm": pixel, "exposure_ms": exposure}


# --------------------------------------------------------------------------- #
# Nikon .nd2
# --------------------------------------------------------------------------- #

#: Exposure in the capture's description ("Exposure: 30 ms"), to milliseconds
_ND2_EXPOSURE = re.compile(r"exposure\s*:\s*([0-9]*\.?[0-9]+)\s*(ms|s|us|µs|μs)\b", re.I)
_ND2_EXPOSURE_TO_MS = {"ms": 1.0, "s": 1e3, "us": 1e-3, "µs": 1e-3, "μs": 1e-3}


class _UnmappedFile(io.RawIOBase):
    """A file that a reader can only seek in and read, not memory-map: the pages of a
    mapped file count in the process's resident memory, which would grow to the size of
    the movie (the measure a cluster's memory accounting may act on)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._raw = open(path, "rb", buffering=0)  # closed by close()
        self.name = path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._raw.readinto(buffer)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()
        super().close()


class Nd2Movie(MovieFile):
    """Nikon NIS-Elements ``.nd2`` movie (the chunked format, not the legacy JPEG 2000
    one), read with ``nd2``.

    One frame per time point (or z plane) of the channel opened (``channel``, named
    by the file's channel names), of the position opened in a multi-point
    acquisition (one movie per channel of each position, named after the points);
    files with colour components are refused. A time loop stopped before its end holds
    fewer frames than it planned: the frames acquired are the movie. Pixel size:
    the picture's calibration (µm per pixel) when NIS-Elements marks it calibrated;
    exposure: the first channel's exposure time, else the one in the capture's
    description, else the time loop's period (:func:`nd2_metadata`).
    """

    kind = "nd2"
    what = ".nd2"
    _file: Any = None
    _handle: _UnmappedFile | None = None

    def _open(self) -> None:
        nd2 = _need(".nd2", self.label, ".nd2")
        try:
            legacy = nd2.is_legacy(self.path)
        except Exception as exc:
            raise self._corrupt(exc) from exc
        if legacy:
            raise ValueError(
                f"{self.label}: legacy (JPEG 2000) .nd2 files of old NIS-Elements versions "
                "are not supported; save it again from NIS-Elements, or convert it to OME-TIFF"
            )
        try:
            self._handle = _UnmappedFile(self.path)
            self._file = nd2.ND2File(self._handle)
            sizes = dict(self._file.sizes)
            acquired = int(self._file.attributes.sequenceCount)
            dtype = np.dtype(self._file.dtype)
            experiment = list(self._file.experiment)
            compressed = self._file.attributes.compressionType is not None
        except Exception as exc:
            raise self._corrupt(exc) from exc
        if self._file.is_rgb or "S" in sizes:
            raise ValueError(f"{self.label}: colour (RGB) frames are not supported")
        skipped = ("Y", "X", "C", "P")
        loops = {axis: n for axis, n in sizes.items() if axis not in skipped and n > 1}
        if len(loops) > 1 or set(loops) - {"T", "Z"}:
            raise ValueError(
                f"{self.label}: expected one frame axis (T or Z), found sizes "
                f"{sizes}; save one z stack per movie"
            )
        movies = _nd2_movies(self._file, experiment, int(sizes.get("P", 1)), sizes.get("C", 1))
        self._in_frame, self._sequence = 0, None  # the channel in each frame; its frames
        planned = next(iter(loops.values()), 1)
        n_frames = min(planned, acquired)
        if len(movies) > 1:  # positions and / or channels: one movie each
            pick = self._choose_channel([name for _, _, name in movies], len(movies))
            position, self._in_frame, _ = movies[pick]
            if sizes.get("P", 1) > 1:  # this position's frames among the sequence's
                indices = self._file.loop_indices[:acquired]
                found = [i for i, index in enumerate(indices) if index.get("P", 0) == position]
                self._sequence, n_frames = found, len(found)
        self.shape = (n_frames, int(sizes["Y"]), int(sizes["X"]))
        if self.shape[0] < 2:
            raise ValueError(_ndim_message(self.label, self.shape[1:], "image"))
        n_sequence = acquired if self._sequence is not None else self.shape[0]
        frame_bytes = dtype.itemsize * self.shape[1] * self.shape[2] * int(sizes.get("C", 1))
        if not compressed and os.path.getsize(self.path) < n_sequence * frame_bytes:
            raise self._corrupt(f"{n_sequence} frames of {frame_bytes} bytes do not fit")
        self.dtype = dtype
        self.metadata["axes"] = next(iter(loops), "T") + "YX"
        self.metadata.update(nd2_metadata(self._file, experiment, self._in_frame))

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *self.shape[1:]), dtype=self.dtype)
        for i, frame in enumerate(range(start, stop)):
            index = frame if self._sequence is None else self._sequence[frame]
            data = self._file.read_frame(index)  # (channels, height, width) of several
            out[i] = data.reshape(-1, *self.shape[1:])[self._in_frame]
        return out

    def _release(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._handle is not None:
            self._handle.close()
        self._file = self._handle = None


def _nd2_movies(
    file: Any, experiment: Sequence[Any], positions: int, channels: int
) -> list[tuple[int, int, str]]:
    """The movies of an ``.nd2``, ``(position, channel, name)``: one per channel of
    each position of a multi-point acquisition, named after the points' names (else
    ``p0``, ``p1``, ...), then the channels' (else ``c0``, ``c1``, ...)."""
    channel_part: tuple[str, ...] = ("",)
    if channels > 1:
        found = _optional(lambda: [c.channel.name for c in file.metadata.channels])
        channel_part = channel_names(found, channels)
    position_part: tuple[str, ...] = ("",)
    if positions > 1:
        points = _optional(
            lambda: next(
                [point.name for point in loop.parameters.points]
                for loop in experiment
                if loop.type == "XYPosLoop"
            )
        )
        position_part = channel_names(points, positions, "p")
    return [(p, c, name) for (p, c), name in movie_names(position_part, channel_part)]


def nd2_metadata(file: Any, experiment: Sequence[Any] = (), channel: int = 0) -> dict[str, Any]:
    """Pixel size (nm) and exposure (ms; the channel ``channel``'s, else the first's) of
    an open ``nd2.ND2File``, None where the file does not hold them (an uncalibrated
    picture, no exposure or period)."""
    pixel = exposure = None
    with contextlib.suppress(Exception):
        volume = file.metadata.channels[0].volume
        if all(volume.axesCalibrated[:2]):
            x_um, y_um = volume.axesCalibration[:2]
            pixel = _square([_positive_float(y_um * 1e3), _positive_float(x_um * 1e3)])
    with contextlib.suppress(Exception):
        raw = file.unstructured_metadata(strip_prefix=False, include={"ImageMetadataSeqLV|0"})
        picture = raw["ImageMetadataSeqLV|0"]["SLxPictureMetadata"]
        settings = list(picture["sPicturePlanes"]["sSampleSetting"].values())
        setting = settings[channel if channel < len(settings) else 0]
        exposure = _positive_float(setting["dExposureTime"])
    if exposure is None:
        with contextlib.suppress(Exception):
            found = _ND2_EXPOSURE.search(file.text_info.get("capturing", ""))
            if found:
                value = _positive_float(found.group(1))
                unit = _ND2_EXPOSURE_TO_MS[found.group(2).lower()]
                exposure = None if value is None else value * unit
    if exposure is None:
        with contextlib.suppress(Exception):
            for loop in experiment:
                if loop.type == "TimeLoop":
                    exposure = _positive_float(loop.parameters.periodMs)
                elif loop.type == "NETimeLoop":
                    exposure = _positive_float(loop.parameters.periods[0].periodMs)
    return {"pixel_nm": pixel, "exposure_ms": exposure}


# --------------------------------------------------------------------------- #
# Andor .sif
# --------------------------------------------------------------------------- #


class _EndRaisingFile(io.BufferedReader):
    """A buffered file whose reads past its end raise EOFError instead of returning
    nothing (a header parser reading word by word would wait forever for a space)."""

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if size is not None and size > 0 and not data:
            raise EOFError("the file ends inside its header")
        return data


class SifMovie(MovieFile):
    """Andor Solis ``.sif`` kinetic series (float32 counts), read with ``sif_parser``.

    The header is parsed by ``sif_parser``; the frames are read from the file at the
    offsets it gives (not memory-mapped). Exposure: the header's exposure time; the
    file holds no pixel size in the sample (Solis does not know the magnification).
    """

    kind = "sif"
    what = ".sif"
    _handle: _EndRaisingFile | None = None

    def _open(self) -> None:
        sif = _need(".sif", self.label, ".sif")
        try:
            self._handle = _EndRaisingFile(io.FileIO(self.path, "r"))
            mapped, info = sif.np_open(self._handle, lazy="memmap")
            self._offsets = [int(tile[2]) for tile in info["tile"]]
            height, width = (int(n) for n in mapped.shape[1:])
            del mapped  # sized against the file (too short: ValueError); never read
        except Exception as exc:
            raise self._corrupt(exc) from exc
        self.shape = (len(self._offsets), height, width)
        if self.shape[0] < 2:
            raise ValueError(_ndim_message(self.label, self.shape[1:], "image"))
        self.dtype = np.dtype(np.float32)
        exposure = _positive_float(info.get("ExposureTime"))
        self.metadata["exposure_ms"] = None if exposure is None else exposure * 1e3

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *self.shape[1:]), dtype="<f4")
        return _read_frames_at(self._handle, self._offsets[start:stop], out, self.label, start)

    def _release(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None


def _read_frames_at(
    handle: Any, offsets: Sequence[int], out: np.ndarray, label: str, first: int
) -> np.ndarray:
    """Fill ``out[i]`` with the bytes of ``handle`` from ``offsets[i]`` on (frames
    stored apart, with something between them), frame ``first + i`` of the movie
    ``label`` (named when the file ends before it does)."""
    for index, offset in enumerate(offsets):
        handle.seek(offset)
        if handle.readinto(out[index]) != out[index].nbytes:
            raise ValueError(f"{label}: frame {first + index} is cut short (truncated file)")
    return out


# --------------------------------------------------------------------------- #
# HDF5 stacks
# --------------------------------------------------------------------------- #

def hdf5_movie_datasets(handle: Any) -> list[str]:
    """The datasets of an open HDF5 file (an ``h5py.File``) that are movies: real
    numbers on three axes ``(frames, height, width)`` with two frames or more, by path
    (without the leading ``/``) in the order of the file (by name, unless it keeps the
    order of creation)."""
    import h5py

    found: list[str] = []

    def visit(name: str, item: Any) -> None:
        if (
            isinstance(item, h5py.Dataset)
            and item.dtype.kind in "uif"
            and item.ndim == 3
            and item.shape[0] >= 2
            and min(item.shape[1:]) >= 1
        ):
            found.append(name)

    handle.visititems(visit)
    return found


def _hdf5_other_datasets(handle: Any) -> str:
    """Up to three of the file's datasets with their shapes, for a message."""
    import h5py

    shown: list[str] = []

    def visit(name: str, item: Any) -> Any:
        if isinstance(item, h5py.Dataset):
            shown.append(f"{name} {tuple(item.shape)}")
        return True if len(shown) >= 3 else None  # visititems stops at a value

    handle.visititems(visit)
    return ", ".join(shown) if shown else "none"


def hdf5_left_out(path: PathLike) -> str | None:
    """Why an HDF5 file (``.h5`` / ``.hdf5``) beside the movies is not one: an smlmLP
    info file, or a file without a dataset of frames (localisations, such as Picasso's
    ``_locs.hdf5``, a drift table); None when it holds a movie, or when it cannot be
    read (opening it tells why).

    Examples
    --------
    >>> import os, tempfile, h5py, numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> movie, locs = os.path.join(folder, "m.h5"), os.path.join(folder, "m_locs.hdf5")
    >>> with h5py.File(movie, "w") as handle:
    ...     handle["frames"] = np.zeros((5, 8, 8), np.uint16)
    >>> with h5py.File(locs, "w") as handle:
    ...     handle["locs"] = np.zeros(3, [("frame", "u4"), ("x", "f4"), ("y", "f4")])
    >>> hdf5_left_out(movie), hdf5_left_out(locs)
    (None, 'an HDF5 file without a movie (its datasets: locs (3,))')
    """
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            if INFO_FILE_MARK in handle.attrs:
                return "a PSF info file written by smlmLP"
            if hdf5_movie_datasets(handle):
                return None
            return f"an HDF5 file without a movie (its datasets: {_hdf5_other_datasets(handle)})"
    except Exception:  # not HDF5, or unreadable: its job names the problem
        return None


class Hdf5Movie(_Hdf5File):
    """A movie stored as a dataset ``(frames, height, width)`` of an HDF5 file
    (``.h5``, ``.hdf5``, read with h5py), as ImSwitch records it and as ilastik,
    Fiji's HDF5 plugin or one's own code write it; PYME's (python-microscopy)
    ``ImageData``, frames stored ``(x, y)``, read as ``(y, x)`` with the pixel size and
    exposure of its ``MetaData`` (kind ``pyme``).

    Every dataset of real numbers on three axes with two frames or more is a movie
    (:func:`hdf5_movie_datasets`); a file of several holds them as its channels, named
    after the datasets (``Cy5`` for ``recordings/Cy5``; the whole path, ``/`` as ``_``,
    when two datasets share a name). Pixel size: the dataset's
    ``element_size_um`` attribute (z, y, x in µm, the convention of those programs;
    1 µm by 1 µm, their value for an uncalibrated camera, counts as none); exposure:
    what ImSwitch records with the frames (:func:`_imswitch_exposure_ms`), else none.
    ImSwitch's recordings (a dataset with a ``detector_name``) of 16-bit signed
    integers are its cameras' unsigned frames, stored as int16 with the values from
    32768 on wrapped to negatives: they are read as uint16, the same bits.
    An smlmLP info file, or an HDF5 file without a dataset of frames (localisations),
    is refused with one line.
    """

    kind = "hdf5"
    what = "HDF5"
    _x_first = False  # PYME's frames: (x, y)
    _wrapped = False  # ImSwitch's 16-bit camera frames stored as int16

    def _open(self) -> None:
        self._open_file()
        if INFO_FILE_MARK in self._file.attrs:
            raise ValueError(
                f"{self.label}: a PSF info file written by smlmLP, not a movie (smlmlp "
                "inspect prints it)"
            )
        try:
            names = hdf5_movie_datasets(self._file)
        except (KeyError, OSError, RuntimeError) as exc:
            raise self._corrupt(exc) from exc
        if not names and "PZFImageData" in self._file:
            raise ValueError(
                f"{self.label}: a PYME file of PZF-compressed frames, which are not read; "
                "export the movie to TIFF (or spool it uncompressed) in PYME"
            )
        if not names:
            raise ValueError(
                f"{self.label}: no movie in this HDF5 file: no dataset of shape (frames, "
                f"height, width) with 2 frames or more (datasets: "
                f"{_hdf5_other_datasets(self._file)})"
            )
        leaves = [name.rsplit("/", 1)[-1] for name in names]  # a detector's recording
        found = leaves if len(set(leaves)) == len(leaves) else [n.replace("/", "_") for n in names]
        channel = self._choose_channel(found, len(names))
        self._data = self._file[names[channel]]
        check_hdf5_filters(self._data, self.label)
        self.shape = tuple(int(n) for n in self._data.shape)
        self.dtype = self._data.dtype
        # ImSwitch stores its cameras' 16-bit frames as int16 ("i2"), values from 32768
        # on wrapped to negatives: its recordings (a detector_name) are read as uint16
        self._wrapped = self.dtype.kind == "i" and self.dtype.itemsize == 2 and (
            "detector_name" in self._data.attrs
        )
        if self._wrapped:
            self.dtype = np.dtype(np.uint16)
        self.metadata["dataset"] = names[channel]
        self.metadata["pixel_nm"] = _element_size_nm(self._data.attrs.get("element_size_um"))
        self.metadata["exposure_ms"] = _optional(_imswitch_exposure_ms, self._data)
        self._x_first = names[channel] == "ImageData" and _is_pyme(self._file)
        if self._x_first:  # PYME: frames stored (x, y); read as (y, x)
            self.shape = (self.shape[0], self.shape[2], self.shape[1])
            self.metadata.update(_pyme_metadata(self._file))
            self.metadata["kind"] = "pyme"

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        frames = self._data[start:stop]
        if self._wrapped:  # the same 16 bits, unsigned
            frames = frames.astype(np.int16, copy=False).view(np.uint16)
        return frames.transpose(0, 2, 1) if self._x_first else frames


def _is_pyme(handle: Any) -> bool:
    """Whether an HDF5 file is PYME's (python-microscopy): its ``ImageData``, frames of
    ``(x, y)`` (the camera's width first), with a ``MetaData`` group or an ``XY...``
    ``DimOrder``."""
    order = handle["ImageData"].attrs.get("DimOrder")
    order = order.decode() if isinstance(order, bytes) else order
    return "MetaData" in handle or (isinstance(order, str) and order.upper().startswith("XY"))


def _pyme_metadata(handle: Any) -> dict[str, Any]:
    """Pixel size (``voxelsize.x``, ``.y`` in µm) and exposure (``Camera.IntegrationTime``
    in s) of a PYME file's ``MetaData`` group, each None when absent."""

    def entry(group: str, key: str) -> float | None:
        node = handle.get(f"MetaData/{group}")
        return None if node is None else _positive_float(_optional(node.attrs.get, key))

    x, y = entry("voxelsize", "x"), entry("voxelsize", "y")
    seconds = entry("Camera", "IntegrationTime")
    return {
        "pixel_nm": None if x is None or y is None else (y * 1e3, x * 1e3),
        "exposure_ms": None if seconds is None else seconds * 1e3,
    }


#: ImSwitch's detector parameter of the exposure in ms (``Detector:<name>:Param:exposure``;
#: its "Real/Set exposure time" are in s for some cameras, in ms for others: not read).
_IMSWITCH_EXPOSURE = re.compile(r"^Detector:(?P<detector>.+):Param:exposure$")


def _attribute_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value.item() if isinstance(value, np.generic) else value)


def _imswitch_exposure_ms(dataset: Any) -> float | None:
    """The exposure (ms) ImSwitch records with a detector's frames, or None: its
    ``acquisition:exposure_time_ms``, else the detector's ``exposure`` parameter
    (``Detector:<name>:Param:exposure``, in ms) among the shared attributes it copies
    to every recording; the dataset's attributes first, then its groups' up to the
    file's root. The detector is the recording's (``detector_name`` or
    ``recording:detector_name``, else the dataset's or its group's name), or the
    only one with an exposure; None when several are and none is the recording's.
    """
    node = dataset
    while True:
        attributes = dict(node.attrs.items())
        direct = _positive_float(_attribute_text(attributes.get("acquisition:exposure_time_ms")))
        if direct is not None:
            return direct
        exposures = {}
        for key, value in attributes.items():
            found = _IMSWITCH_EXPOSURE.match(key)
            milliseconds = _positive_float(_attribute_text(value)) if found else None
            if milliseconds is not None:
                exposures[found["detector"]] = milliseconds
        if exposures:
            names = [
                _attribute_text(attributes.get(key, dataset.attrs.get(key, "")))
                for key in ("detector_name", "recording:detector_name")
            ]
            names += [part for part in dataset.name.split("/") if part][::-1]
            for name in names:
                if name in exposures:
                    return exposures[name]
            return next(iter(exposures.values())) if len(exposures) == 1 else None
        if node.name == "/":
            return None
        node = node.parent


def _element_size_nm(value: Any) -> tuple[float, float] | None:
    """(y, x) in nm from an ``element_size_um`` attribute ((z,) y, x in µm), or None;
    also None for 1 µm by 1 µm, what the writers store when they know no pixel size
    (ImSwitch's uncalibrated cameras, Fiji's default), never an SMLM camera's pixel.

    >>> _element_size_nm([1.0, 0.108, 0.108]), _element_size_nm([1, 1, 1])
    ((108.0, 108.0), None)
    """
    with contextlib.suppress(TypeError, ValueError):
        sizes = [float(v) for v in np.atleast_1d(np.asarray(value, dtype=float))]
        if len(sizes) in (2, 3) and not all(is_placeholder_pixel(1e3 * v) for v in sizes[-2:]):
            y, x = (_positive_float(size * 1e3) for size in sizes[-2:])
            if y is not None and x is not None:
                return (y, x)
    return None


# --------------------------------------------------------------------------- #
# Dispatch
# --------------------------------------------------------------------------- #

def _spe_movie(path: PathLike, **options: Any) -> MovieFile:
    from .spe_movie import SpeMovie  # (a module of its own, built on MovieFile)

    return SpeMovie(path, **options)


def _npy_movie(path: PathLike, **options: Any) -> MovieFile:
    from .npy_movie import NpyMovie  # (a module of its own, built on MovieFile)

    return NpyMovie(path, **options)


def _lif_movie(path: PathLike, **options: Any) -> MovieFile:
    from .lif_movie import LifMovie  # (a module of its own, built on MovieFile)

    return LifMovie(path, **options)


def _dcimg_movie(path: PathLike, **options: Any) -> MovieFile:
    from .dcimg_movie import DcimgMovie  # (a module of its own, built on MovieFile)

    return DcimgMovie(path, **options)


def _cxd_movie(path: PathLike, **options: Any) -> MovieFile:
    from .cxd_movie import CxdMovie  # (a module of its own, built on MovieFile)

    return CxdMovie(path, **options)


def _andor_spool(path: PathLike, **options: Any) -> MovieFile:
    from .andor_spool import AndorSpoolMovie  # (a module of its own, built on MovieFile)

    return AndorSpoolMovie(path, **options)


_READERS: dict[str, Callable[..., MovieFile]] = {
    ".dax": DaxMovie,
    ".raw": PicassoRawMovie,
    ".ims": ImarisMovie,
    ".zarr": OmeZarrMovie,
    ".czi": CziMovie,
    ".nd2": Nd2Movie,
    ".sif": SifMovie,
    ".sifx": _andor_spool,
    ".spe": _spe_movie,
    ".h5": Hdf5Movie,
    ".hdf5": Hdf5Movie,
    ".npy": _npy_movie,
    ".lif": _lif_movie,
    ".lof": _lif_movie,
    ".dcimg": _dcimg_movie,
    ".cxd": _cxd_movie,
}


def open_format(
    path: PathLike, *, name: str | None = None, channel: int | str | None = None
) -> MovieFile | None:
    """Open a movie of a format other than TIFF (its channel ``channel`` in a file
    of several, :mod:`smlmlp.file_channels`); None when ``path`` is not one.

    Raises
    ------
    ValueError
        Every problem with the file.
    FileNotFoundError
        The file, or its sidecar (``.inf``, ``.yaml``), is missing.
    MissingReaderError
        The reader's library is not installed.
    """
    reader = _READERS.get(_suffix(path))
    return None if reader is None else reader(path, name=name, channel=channel)
