"""Lazy reading of raw single-molecule movies.

The PSF measurement reads a movie chunk by chunk, so a movie never has to fit in
memory. This module provides the objects that are sliced along the frame axis:

* :func:`open_movie` opens a TIFF movie (plain TIFF, BigTIFF, ImageJ hyperstack,
  OME-TIFF including OME series spread over several files, or a list of files
  concatenated in order) as a :class:`TiffMovie`. Slicing ``movie[a:b]`` reads
  frames ``a`` to ``b - 1`` from disk and nothing else.
* :func:`split_movie` cuts a movie that holds two camera channels side by side
  into two lazy halves.
* :func:`check_stack` validates any frame stack before the core uses it.
* :func:`iter_chunks` walks a stack in chunks of frames.

A "stack" is any object with ``.shape == (n_frames, height, width)``, ``.ndim``,
``.dtype`` and ``obj[a:b]`` returning an ndarray of frames: numpy arrays,
``np.memmap``, h5py datasets, :class:`TiffMovie` and :class:`SplitView`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import operator
import os
import re
import threading
import warnings
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import numpy as np
import tifffile

from .backend import is_device_array
from .block_sums import MIN_BLOCK_FRAMES
from .file_channels import channel_label, channel_names, resolve_channel
from .movie_series import (
    NDTIFF_INDEX,
    ndtiff_channel_names,
    ndtiff_image_metadata,
    ndtiff_layout,
)

if TYPE_CHECKING:
    from .formats import MovieFile

__all__ = [
    "HALF_NAMES",
    "SplitView",
    "TiffMovie",
    "check_stack",
    "iter_chunks",
    "list_channels",
    "open_movie",
    "split_movie",
]

PathLike = str | os.PathLike

# First four bytes of classic TIFF and BigTIFF files, little and big endian.
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

# Messages logged by tifffile when a file is truncated or inconsistent. tifffile
# recovers from these by returning fewer pages or zero-filled data, which would
# silently give a wrong PSF, so they are turned into errors.
_FATAL_TIFFFILE_MESSAGES = (
    "invalid page offset",
    "corrupt",
    "failed to reshape",
    "zeroed",
    "series failed to read",
)

# Messages logged by tifffile about what it reads correctly anyway: an NDTiff index
# whose images list their axes in different orders (tifffile finds each by name).
_QUIET_TIFFFILE_MESSAGES = ("axes_dict.keys",)

# Length units to nanometres (OME UnitsLength symbols and ImageJ spellings).
_LENGTH_TO_NM = {
    "pm": 1e-3,
    "å": 0.1,
    "angstrom": 0.1,
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometre": 1.0,
    "µm": 1e3,  # micro sign U+00B5
    "μm": 1e3,  # Greek small letter mu U+03BC
    "um": 1e3,
    "micron": 1e3,
    "microns": 1e3,
    "micrometer": 1e3,
    "micrometre": 1e3,
    "mm": 1e6,
    "cm": 1e7,
    "m": 1e9,
}

# Time units to milliseconds (OME UnitsTime symbols).
_TIME_TO_MS = {
    "ns": 1e-6,
    "µs": 1e-3,
    "μs": 1e-3,
    "us": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "min": 6e4,
    "h": 3.6e6,
}

# TIFF ResolutionUnit values that give an absolute length (nanometres per unit).
# Inch and centimetre are left out: many writers store a meaningless default
# (72 pixels per inch) there.
_RESOLUTION_UNIT_TO_NM = {4: 1e6, 5: 1e3}  # millimetre, micrometre

_MICROMANAGER_TAG = 51123

# tifffile's codes for axes without a physical meaning (pages, sequences)
_SEQUENCE_AXES = "QI"
# the axis of frames beside a channel axis C: time, or planes / pages used for time
_FRAME_AXES = ("T", "Z", "I", "Q")


# --------------------------------------------------------------------------- #
# Validation helpers
# --------------------------------------------------------------------------- #


def _ndim_message(name: str, shape: tuple[int, ...], what: str = "array") -> str:
    """Explain why a shape is not a 3-D stack of frames."""
    ndim = len(shape)
    message = (
        f"{name}: expected a 3-D stack (frames, height, width), got a {ndim}-D {what} "
        f"of shape {tuple(shape)}"
    )
    if ndim == 2:
        message += (
            "; a single image cannot give a PSF, which is measured from the blinking of many frames"
        )
    elif ndim == 4:
        message += (
            "; to analyse several channels, pass each channel as its own "
            "(frames, height, width) stack"
        )
    elif ndim < 2:
        message += "; a movie of 2-D frames is needed"
    return message


def _check_dtype(name: str, dtype: Any) -> np.dtype:
    """Return ``dtype`` as a numpy dtype when it holds real numbers, else raise."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{name}: data type {dtype!r} is not a numpy data type") from exc
    if dtype.kind == "c":
        raise TypeError(
            f"{name}: complex data ({dtype}) is not supported; camera frames are real intensities"
        )
    if dtype.kind not in "iuf":
        raise TypeError(
            f"{name}: data type {dtype} is not supported; expected real numbers "
            "(integer or floating point)"
        )
    return dtype


def check_stack(obj: Any, name: str = "channel 0") -> Any:
    """Validate a stack of frames and return it.

    A valid stack is returned unchanged (nothing is wrapped or copied, so lazy
    stacks stay lazy); lists and tuples are converted to a numpy array.

    Parameters
    ----------
    obj : array-like
        A numpy array, ``np.memmap``, :class:`TiffMovie`, :class:`SplitView`,
        h5py dataset, or any object with ``.shape``, ``.dtype`` and frame
        slicing; or a (nested) list of numbers.
    name : str, optional
        Name of the stack used in error messages, e.g. ``"channel 1"``.

    Returns
    -------
    stack
        ``obj`` itself, or ``np.asarray(obj)`` for lists and tuples.

    Raises
    ------
    TypeError
        If ``obj`` is not array-like (no ``shape``/``dtype``, no slicing), or its
        data type is not real numbers (bool, complex, object, strings, ...).
    ValueError
        If ``obj`` is not 3-D ``(frames, height, width)``, has fewer than 2
        frames, or has empty frames.

    Examples
    --------
    >>> import numpy as np
    >>> movie = np.zeros((10, 32, 32), dtype=np.uint16)
    >>> check_stack(movie) is movie
    True
    >>> check_stack(np.zeros((32, 32)), name="channel 1")
    Traceback (most recent call last):
        ...
    ValueError: channel 1: expected a 3-D stack (frames, height, width), got a 2-D array \
of shape (32, 32); a single image cannot give a PSF, ...
    """
    if isinstance(obj, list | tuple):
        try:
            obj = np.asarray(obj)
        except ValueError as exc:  # ragged nested lists
            raise TypeError(
                f"{name}: cannot convert the {type(obj).__name__} to an array of frames ({exc})"
            ) from exc
    if not (hasattr(obj, "shape") and hasattr(obj, "dtype") and hasattr(obj, "__getitem__")):
        raise TypeError(
            f"{name}: expected an array-like stack of frames (frames, height, width) with "
            f"shape, dtype and slicing, got {type(obj).__name__}"
        )
    try:
        shape = tuple(int(n) for n in obj.shape)
    except TypeError as exc:
        raise TypeError(f"{name}: shape {obj.shape!r} is not a tuple of integers") from exc
    if len(shape) != 3:
        raise ValueError(_ndim_message(name, shape))
    _check_dtype(name, obj.dtype)
    check_frame_count(shape[0], name)
    if shape[1] < 1 or shape[2] < 1:
        raise ValueError(f"{name}: frames are empty (shape {shape})")
    return obj


def check_frame_count(n_frames: int, name: str, minimum: int = MIN_BLOCK_FRAMES) -> None:
    """Raise when a movie has fewer than ``minimum`` frames (the library's, the command's
    and the workflow's one check and message).

    Examples
    --------
    >>> check_frame_count(1, "channel 0")
    Traceback (most recent call last):
        ...
    ValueError: channel 0: 1 frame(s), at least 3 are needed; the PSF is measured from \
intensity fluctuations between frames
    """
    least = max(int(minimum), MIN_BLOCK_FRAMES)
    if int(n_frames) < least:
        raise ValueError(
            f"{name}: {int(n_frames)} frame(s), at least {least} are needed; "
            "the PSF is measured from intensity fluctuations between frames"
        )


def check_channels(channels: Any, *, min_side: int = 1, cuda: bool = False) -> list[Any]:
    """Validate a sequence of channel stacks, naming the channel at fault.

    Parameters
    ----------
    channels : sequence
        One stack per channel (see :func:`check_stack`); channels may differ in
        shape.
    min_side : int, optional
        Smallest frame height and width accepted (e.g. the crop size).
    cuda : bool, optional
        Whether the computation runs on the GPU: a stack already in GPU memory
        (a CuPy array) is used there in place, and refused for the CPU.

    Returns
    -------
    list
        The validated stacks.

    Raises
    ------
    TypeError
        ``channels`` is a single array or not a sequence, or a stack is not
        array-like.
    ValueError
        No channel, or a stack fails :func:`check_stack` or is smaller than
        ``min_side``.

    Examples
    --------
    >>> import numpy as np
    >>> len(check_channels([np.zeros((3, 8, 8)), np.zeros((4, 9, 7))], min_side=5))
    2
    >>> check_channels([np.zeros((3, 8, 8))], min_side=9)
    Traceback (most recent call last):
        ...
    ValueError: channel 0: frames of 8x8 pixels are smaller than the 9x9 crop; lower crop_pix
    """
    if isinstance(channels, np.ndarray) or not isinstance(channels, Sequence):
        shape = getattr(channels, "shape", None)
        hint = f" (got an array of shape {shape})" if shape is not None else ""
        raise TypeError(
            "channels: expected a sequence of (frames, height, width) stacks, one per "
            f"channel{hint}; for one channel pass [stack]"
        )
    if len(channels) == 0:
        raise ValueError("channels: at least one channel is needed")
    stacks = []
    for index, channel in enumerate(channels):
        name = f"channel {index}"
        stack = check_stack(channel, name)
        if not cuda and is_device_array(stack):
            raise TypeError(
                f"{name}: the stack is in GPU memory ({type(stack).__module__}."
                f"{type(stack).__name__}); pass cuda=True to work on it there, or copy it "
                "to the host first (cupy.asnumpy)"
            )
        height, width = int(stack.shape[1]), int(stack.shape[2])
        if height < min_side or width < min_side:
            raise ValueError(
                f"{name}: frames of {height}x{width} pixels are smaller than the "
                f"{min_side}x{min_side} crop; lower crop_pix"
            )
        stacks.append(stack)
    return stacks


def _frame_range(key: Any, n_frames: int, name: str) -> tuple[int, int] | int:
    """Normalise a frame key: an index -> int, a step-1 slice -> (start, stop)."""
    if isinstance(key, slice):
        start, stop, step = key.indices(n_frames)
        if step != 1:
            raise TypeError(
                f"{name}: only frame slices with step 1 are supported, got step {key.step}"
            )
        return start, max(start, stop)
    if isinstance(key, bool | np.bool_):
        raise TypeError(f"{name}: frame index must be an integer or a slice, got a bool")
    try:
        index = operator.index(key)
    except TypeError:
        raise TypeError(
            f"{name}: frames are selected with an integer or a slice with step 1 "
            f"(e.g. movie[10:20]), got {type(key).__name__}"
        ) from None
    if not -n_frames <= index < n_frames:
        raise IndexError(f"{name}: frame {index} is out of range for {n_frames} frames")
    return index % n_frames


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{what} must be an integer, got a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}") from None
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return value


# --------------------------------------------------------------------------- #
# Chunk iteration
# --------------------------------------------------------------------------- #


def iter_chunks(
    stack: Any, chunk_frames: int, *, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Iterate over a stack in chunks of consecutive frames.

    Parameters
    ----------
    stack : stack
        Anything with ``.shape`` and frame slicing ``stack[a:b]``.
    chunk_frames : int
        Maximum number of frames per chunk (at least 1). The last chunk may be
        shorter.
    start, stop : int, optional
        Range of frames ``start .. stop - 1``; negative values count from the
        end as in Python. ``stop=None`` means the last frame.

    Yields
    ------
    first : int
        Index of the first frame of the chunk in ``stack``.
    chunk : numpy.ndarray
        The frames ``first .. first + len(chunk) - 1``, shape (n, height, width).

    Raises
    ------
    TypeError
        If ``chunk_frames``, ``start`` or ``stop`` is not an integer, or
        ``stack`` has no shape.
    ValueError
        If ``chunk_frames < 1`` or the range is outside the stack or reversed.

    Examples
    --------
    >>> import numpy as np
    >>> movie = np.arange(5 * 2 * 2).reshape(5, 2, 2)
    >>> [(first, chunk.shape[0]) for first, chunk in iter_chunks(movie, 2)]
    [(0, 2), (2, 2), (4, 1)]
    >>> [first for first, _ in iter_chunks(movie, 3, start=1, stop=-1)]
    [1]
    """
    chunk_frames = _positive_int(chunk_frames, "chunk_frames")
    try:
        n_frames = int(stack.shape[0])
    except (AttributeError, TypeError, IndexError):
        raise TypeError(
            f"iter_chunks: expected a stack with a shape (frames, height, width), got "
            f"{type(stack).__name__}"
        ) from None
    bounds = []
    for label, value, default in (("start", start, 0), ("stop", stop, n_frames)):
        if value is None:
            value = default
        if isinstance(value, bool | np.bool_):
            raise TypeError(f"iter_chunks: {label} must be an integer, got a bool")
        try:
            value = operator.index(value)
        except TypeError:
            raise TypeError(
                f"iter_chunks: {label} must be an integer, got {type(value).__name__}"
            ) from None
        if value < 0:
            value += n_frames
        if not 0 <= value <= n_frames:
            raise ValueError(
                f"iter_chunks: {label}={value} is outside the {n_frames} frames of the stack"
            )
        bounds.append(value)
    first, last = bounds
    if last < first:
        raise ValueError(f"iter_chunks: stop ({last}) is before start ({first})")
    for a in range(first, last, chunk_frames):
        b = min(a + chunk_frames, last)
        yield a, np.asarray(stack[a:b])


# --------------------------------------------------------------------------- #
# Metadata
# --------------------------------------------------------------------------- #


def _local(tag: str) -> str:
    """Tag name without its XML namespace."""
    return tag.rsplit("}", 1)[-1]


def _unit_factor(unit: str | None, table: dict[str, float], default: str) -> float | None:
    if unit is None:
        unit = default
    key = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ").lower()
    return table.get(key)


def _positive_float(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _ome_metadata(
    xml: str | None, channel: int = 0
) -> tuple[tuple[float, float] | None, float | None]:
    """Pixel size (y, x) in nm and exposure in ms (of the first plane of the channel
    ``channel``) from the first OME Image."""
    if not xml:
        return None, None
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None, None
    pixels = next((e for e in root.iter() if _local(e.tag) == "Pixels"), None)
    if pixels is None:
        return None, None
    sizes = []
    for axis in ("Y", "X"):
        value = _positive_float(pixels.get(f"PhysicalSize{axis}"))
        factor = _unit_factor(pixels.get(f"PhysicalSize{axis}Unit"), _LENGTH_TO_NM, "µm")
        sizes.append(None if value is None or factor is None else value * factor)
    if sizes[0] is None:  # square pixels are assumed when one size is given
        sizes[0] = sizes[1]
    if sizes[1] is None:
        sizes[1] = sizes[0]
    pixel_nm = None if sizes[0] is None else (float(sizes[0]), float(sizes[1]))
    exposure_ms = None
    for plane in pixels:
        if _local(plane.tag) != "Plane" or plane.get("ExposureTime") is None:
            continue
        if str(plane.get("TheC", "0")) != str(channel):
            continue
        value = _positive_float(plane.get("ExposureTime"))
        factor = _unit_factor(plane.get("ExposureTimeUnit"), _TIME_TO_MS, "s")
        if value is not None and factor is not None:
            exposure_ms = value * factor
        break
    return pixel_nm, exposure_ms


def _resolution_metadata(tif: tifffile.TiffFile) -> tuple[float, float] | None:
    """Pixel size (y, x) in nm from the resolution tags, when their unit is a length."""
    page = tif.pages[0]
    factor = None
    imagej = tif.imagej_metadata or {}
    if imagej.get("unit") is not None:
        factor = _unit_factor(str(imagej["unit"]), _LENGTH_TO_NM, "")
    else:
        unit_tag = page.tags.get(296)
        if unit_tag is not None:
            factor = _RESOLUTION_UNIT_TO_NM.get(int(unit_tag.value))
    if factor is None:
        return None
    sizes = []
    for code in (283, 282):  # YResolution, XResolution: pixels per unit
        tag = page.tags.get(code)
        if tag is None:
            return None
        value = tag.value
        try:
            per_unit = value[0] / value[1] if isinstance(value, tuple) else float(value)
        except (TypeError, ValueError, ZeroDivisionError, IndexError):
            return None
        size = _positive_float(1.0 / per_unit) if per_unit else None
        if size is None:
            return None
        sizes.append(size * factor)
    return (sizes[0], sizes[1])


def _micromanager_metadata(
    tif: tifffile.TiffFile, channel: int = 0
) -> tuple[float | None, float | None]:
    """Pixel size (nm) and exposure (ms) from Micro-Manager metadata, if any: the
    first image's (of the channel ``channel`` in an NDTiff dataset), then the
    summary's."""
    candidates = []
    if tif.is_ndtiff:
        index = os.path.join(tif.filehandle.dirname, NDTIFF_INDEX)
        candidates.append(ndtiff_image_metadata(index, channel))
    else:
        tag = tif.pages[0].tags.get(_MICROMANAGER_TAG)
        if tag is not None and isinstance(tag.value, dict):
            candidates.append(tag.value)
    with _capture_tifffile_log():  # a missing file header is only logged by tifffile
        summary = (tif.micromanager_metadata or {}).get("Summary")
    if isinstance(summary, dict):
        candidates.append(summary)
    pixel = exposure = None
    for values in candidates:
        if pixel is None:  # an image's key, then the summary's
            pixel = _positive_float(values.get("PixelSizeUm", values.get("PixelSize_um")))
            pixel = None if pixel is None else pixel * 1e3
        if exposure is None:
            exposure = _positive_float(values.get("Exposure-ms"))
    return pixel, exposure


def _tiff_channel_names(tif: tifffile.TiffFile, n_channels: int) -> list[str] | None:
    """The channels' names given by the file: OME ``Channel/@Name`` of the first
    image, else the ``channel`` values of an NDTiff dataset's index, else
    Micro-Manager's ``ChNames``; None when none has ``n_channels``."""
    if tif.is_ndtiff:
        names = ndtiff_channel_names(os.path.join(tif.filehandle.dirname, NDTIFF_INDEX))
        if len(names) == n_channels:
            return names
    xml = tif.ome_metadata if tif.is_ome else None
    if xml:
        root = ElementTree.fromstring(xml)
        pixels = next((e for e in root.iter() if _local(e.tag) == "Pixels"), None)
        if pixels is not None:
            names = [e.get("Name") for e in pixels if _local(e.tag) == "Channel"]
            if len(names) == n_channels and all(names):
                return [str(name) for name in names]
    with _capture_tifffile_log():
        summary = (tif.micromanager_metadata or {}).get("Summary")
    names = summary.get("ChNames") if isinstance(summary, dict) else None
    if isinstance(names, list) and len(names) == n_channels:
        return [str(name) for name in names]
    return None


def _optional(reader: Any, *args: Any) -> Any:
    """Call a metadata reader; unreadable optional metadata count as absent."""
    try:
        return reader(*args)
    except Exception:  # metadata never prevent reading the frames
        return None


def _read_metadata(tif: tifffile.TiffFile, channel: int = 0) -> dict[str, Any]:
    """Pixel size and exposure (of the channel ``channel``), from OME-XML first, then
    ImageJ/TIFF, then Micro-Manager (and, for the exposure, ImageJ's frame interval last)."""
    xml = _optional(lambda: tif.ome_metadata if tif.is_ome else None)
    pixel_nm, exposure_ms = _optional(_ome_metadata, xml, channel) or (None, None)
    if pixel_nm is None:
        pixel_nm = _optional(_resolution_metadata, tif)
    if pixel_nm is None or exposure_ms is None:
        mm_pixel, mm_exposure = _optional(_micromanager_metadata, tif, channel) or (None, None)
        if pixel_nm is None and mm_pixel is not None:
            pixel_nm = (mm_pixel, mm_pixel)
        if exposure_ms is None:
            exposure_ms = mm_exposure
    if exposure_ms is None:
        exposure_ms = _optional(_imagej_frame_interval_ms, tif)
    return {"pixel_nm": pixel_nm, "exposure_ms": exposure_ms}


def _imagej_frame_interval_ms(tif: tifffile.TiffFile) -> float | None:
    """ImageJ's frame interval (``finterval``, seconds) in ms: the exposure of a
    camera streaming without gaps, as SMLM acquisitions do."""
    metadata = tif.imagej_metadata if tif.is_imagej else None
    if not metadata or "finterval" not in metadata:
        return None
    return _positive_float(float(metadata["finterval"]) * 1000.0)


# --------------------------------------------------------------------------- #
# One TIFF series
# --------------------------------------------------------------------------- #


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _capture_tifffile_log() -> Iterator[list[logging.LogRecord]]:
    """Collect what tifffile logs (warnings and errors) inside the block."""
    logger = logging.getLogger("tifffile")
    handler = _ListHandler()
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def _check_is_tiff(path: str, label: str) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{label}: no such file")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{label}: is a directory, expected a TIFF file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except PermissionError as exc:
        raise PermissionError(f"{label}: no permission to read this file") from exc
    except OSError as exc:
        raise OSError(f"{label}: cannot be read ({exc.strerror or exc})") from exc
    if head not in _TIFF_MAGICS:
        found = "the file is empty" if not head else f"it starts with {head!r}"
        raise ValueError(
            f"{label}: not a TIFF file ({found}, a TIFF starts with b'II*\\x00' or b'MM\\x00*')"
        )


def tiff_series_layout(series: tifffile.TiffPageSeries) -> tuple[str, tuple[int, ...]]:
    """Axes and shape of a TIFF series without its length-1 axes (``Y`` and ``X`` kept).

    The same answer from every tifffile version: older ones squeeze a series on
    request (``get_axes(squeeze=True)``), newer ones (2026.5 on) hand it out squeezed
    and have no such method; squeezing here again changes nothing.

    Examples
    --------
    >>> import types
    >>> tiff_series_layout(types.SimpleNamespace(axes="TZCYX", shape=(50, 1, 1, 64, 1)))
    ('TYX', (50, 64, 1))
    """
    pairs = [
        (axis, int(size))
        for axis, size in zip(str(series.axes), series.shape, strict=True)
        if int(size) != 1 or axis in "YX"
    ]
    return "".join(axis for axis, _ in pairs), tuple(size for _, size in pairs)


def _frames_stored_as_samples(
    tif: tifffile.TiffFile, series: Any, axes: str, shape: tuple[int, ...]
) -> bool:
    """Whether a series of axes ``SYX`` is a stack of frames written by tifffile.

    ``tifffile.imwrite`` stores an array of shape ``(3, H, W)`` or ``(4, H, W)``
    without ``photometric`` as one RGB(A) image in separate planes (its documented
    default, to change in later versions), and records the array's shape. Such
    planes are frames one after the other; a colour image from a camera stores
    its samples interleaved, or carries no tifffile shape.
    """
    if axes != "SYX" or not tif.is_shaped:
        return False
    try:
        planar = int(series.keyframe.planarconfig)
        recorded = tuple(int(n) for n in tif.shaped_metadata[0]["shape"])
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return False
    return planar == int(tifffile.PLANARCONFIG.SEPARATE) and recorded == tuple(shape)


class _Source:
    """Frames of one TIFF series: one file, or one OME series spanning files.

    A series stored as one 2-D image is read as a single frame; whether one frame
    is enough is decided by the movie, which may join several series.
    """

    def __init__(
        self,
        path: PathLike,
        label: str,
        series_index: int = 0,
        channel: int | str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.label = label
        self.series_index = series_index
        self.requested_channel = channel
        self.stats = {"fromfile_calls": 0, "bytes_read": 0, "pages_read": 0}
        self._lock = threading.Lock()
        self._tif: tifffile.TiffFile | None = None
        self._fh: Any = None
        self.closed = False
        _check_is_tiff(self.path, label)
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        # files are closed when the movie is garbage collected without close()
        self._finalizer = weakref.finalize(self, _close_quietly, self._tif, self._fh)

    # -- opening ---------------------------------------------------------- #

    def _open(self) -> None:
        label = self.label
        with _capture_tifffile_log() as records:
            try:
                self._tif = tif = tifffile.TiffFile(self.path)
                if not tif.series:
                    raise ValueError("no image data found")
                series = tif.series[self.series_index]
                self.series_kinds = [s.kind for s in tif.series]
                axes, shape = tiff_series_layout(series)
                dataoffset = None if series.is_multifile else series.dataoffset
            except (
                tifffile.TiffFileError,
                ValueError,
                OSError,
                EOFError,
                IndexError,
                KeyError,
                TypeError,
            ) as exc:
                raise ValueError(
                    f"{label}: corrupt or truncated TIFF file ({_clean(str(exc))})"
                ) from exc
        fatal = [r for r in records if any(m in r.getMessage() for m in _FATAL_TIFFFILE_MESSAGES)]
        if fatal:
            raise ValueError(
                f"{label}: corrupt or truncated TIFF file ({_clean(fatal[0].getMessage())})"
            )
        logger = logging.getLogger("tifffile")
        for record in records:  # pass on harmless warnings
            if not any(m in record.getMessage() for m in _QUIET_TIFFFILE_MESSAGES):
                logger.handle(record)

        if _frames_stored_as_samples(tif, series, axes, shape):
            # a 3- or 4-frame stack that tifffile's defaults stored as separate colour
            # planes: the planes follow each other as frames would
            axes = "Q" + axes[1:]
        self.axes = axes
        self.kind = series.kind
        self._choose_channel(tif, axes, shape)
        if self.channel_names:  # the frames of the channel opened
            shape = (self.n_planes // len(self.channel_names), *shape[-2:])
        if len(shape) > 3 and axes[-2:] == "YX" and set(axes[:-2]) <= set(_SEQUENCE_AXES):
            # several unlabelled sequence axes (e.g. a movie appended chunk by chunk
            # with tifffile): their pages follow each other, so they are all frames
            shape = (math.prod(shape[:-2]), *shape[-2:])
        self.single_image = len(shape) == 2
        if self.single_image:
            shape = (1, *shape)
        elif len(shape) != 3 or axes[-2:] != "YX" or axes[0] == "S":
            hint = ""
            if "S" in axes:
                hint = (
                    "; colour (RGB) samples are not supported (a grey-scale stack of 3 or 4 "
                    "frames written with tifffile needs photometric='minisblack')"
                )
            elif len(shape) > 3:
                hint = (
                    "; save one channel / one plane per movie, or several channels side by "
                    "side in one frame and use split_movie"
                )
            raise ValueError(
                f"{label}: expected one frame axis and two image axes, found axes "
                f"'{axes}' with shape {shape}{hint}"
            )
        if series.dtype is None:
            raise ValueError(f"{label}: unsupported pixel format (no numpy data type)")
        dtype = _check_dtype(label, series.dtype)
        self.dtype = dtype.newbyteorder("=")
        self.shape = shape
        self.frame_size = shape[1] * shape[2]
        if not self.channel_names:
            self.n_planes = shape[0]
        self.metadata = {}
        if self.series_index == 0:
            self.metadata = _read_metadata(tif, self.channel)
            self.metadata.update(axes=axes, kind=series.kind)
            if self.channel_names:
                self.metadata["channel"] = self.channel_names[self.channel]

        if dataoffset is not None and series.keyframe.is_contiguous:
            self._init_fast(tif, dataoffset)
        else:
            self._init_pages(series)

    def _choose_channel(self, tif: tifffile.TiffFile, axes: str, shape: tuple[int, ...]) -> None:
        """The file's channels (:attr:`channel_names`), the one asked for
        (:attr:`channel`) and where its frames are among the image planes: plane
        ``plane_base + t * plane_step`` is frame ``t``.

        A series of axes ``TCYX`` / ``CTYX`` (``Z``, ``I`` or ``Q`` for ``T`` as well)
        holds one movie per channel; any other series is one channel.
        """
        leading = axes[:-2]
        self.channel_names: tuple[str, ...] = ()
        self.channel, self.plane_base, self.plane_step = 0, 0, 1
        if not (
            len(shape) == 4
            and axes[-2:] == "YX"
            and "C" in leading
            and leading.replace("C", "", 1) in _FRAME_AXES
        ):
            if self.requested_channel is not None:
                self.channel = resolve_channel(self.label, ("c0",), self.requested_channel)
            return
        channel_axis = leading.index("C")
        n_channels, n_frames = shape[channel_axis], shape[1 - channel_axis]
        found = _optional(_tiff_channel_names, tif, n_channels)
        self.channel_names = channel_names(found, n_channels)
        self.channel = resolve_channel(self.label, self.channel_names, self.requested_channel)
        self.label = channel_label(self.label, self.channel_names, self.channel)
        self.n_planes = n_frames * n_channels
        if channel_axis == 0:  # C T Y X: each channel's frames one after the other
            self.plane_base = self.channel * n_frames
        else:  # T C Y X: the channels of each frame one after the other
            self.plane_base, self.plane_step = self.channel, n_channels

    def _init_fast(self, tif: tifffile.TiffFile, dataoffset: int) -> None:
        self.fast_path = True
        self.offset = int(dataoffset)
        self.file_dtype = np.dtype(tif.byteorder + self.dtype.char)
        self.paths = [os.path.abspath(self.path)]
        end = self.offset + self.n_planes * self.frame_size * self.dtype.itemsize
        size = os.path.getsize(self.path)
        if end > size:
            raise ValueError(
                f"{self.label}: truncated TIFF file: the image data ends at byte {end} "
                f"but the file has {size} bytes"
            )
        tif.close()
        self._tif = None
        self._fh = open(self.path, "rb")  # kept open for the life of the movie

    def _init_pages(self, series: tifffile.TiffPageSeries) -> None:
        self.fast_path = False
        self._series = series
        keyframe = series.keyframe
        page_size = int(np.prod(keyframe.shape))
        n_pages = len(series)
        if (
            page_size % self.frame_size
            or page_size // self.frame_size * n_pages != self.n_planes
            or (self.n_planes != self.shape[0] and page_size != self.frame_size)
        ):
            raise ValueError(
                f"{self.label}: unsupported page layout: {n_pages} pages of shape "
                f"{keyframe.shape} for a movie of shape {self.shape}"
            )
        self.frames_per_page = page_size // self.frame_size
        if self.frames_per_page == 1:  # the channel's own pages
            planes = range(self.plane_base, self.n_planes, self.plane_step)
        else:
            planes = range(n_pages)
        pages = [series[plane] for plane in planes]
        self._drop_unwritten_frames(pages)
        paths: list[str] = []
        sizes: dict[str, int] = {}
        for index, page in enumerate(pages):
            if page is None:
                raise ValueError(
                    f"{self.label}: image data of frame {index * self.frames_per_page} is "
                    "missing (a file of the multi-file series may be missing)"
                )
            path = page.parent.filehandle.path
            if path not in sizes:
                sizes[path] = os.path.getsize(path)
                paths.append(os.path.abspath(path))
            extents = zip(page.dataoffsets, page.databytecounts, strict=False)
            end = max((int(o) + int(c) for o, c in extents), default=0)
            if end > sizes[path]:
                raise ValueError(
                    f"{self.label}: truncated TIFF file: data of frame "
                    f"{index * self.frames_per_page} ends at byte {end} but "
                    f"{os.path.basename(path)} has {sizes[path]} bytes"
                )
        self.paths = paths

    def _drop_unwritten_frames(self, pages: list[Any]) -> None:
        """An NDTiff acquisition stopped before its end: the frames after the last
        one written (wholly, for this channel) are left out, with a warning, as
        Micro-Manager's own reader leaves them out; ``pages`` (one per frame) is
        shortened to match. Missing images before the last ones stay an error."""
        if self.kind != "ndtiff" or self.frames_per_page != 1 or pages[-1:] != [None]:
            return
        written = len(pages)
        while written and pages[written - 1] is None:
            written -= 1
        if not written:
            return
        warnings.warn(
            f"{self.label}: the acquisition stopped early: the last {len(pages) - written} "
            f"of the dataset's {len(pages)} frames were not written; the first {written} "
            "are read",
            UserWarning,
            stacklevel=2,
        )
        del pages[written:]
        self.shape = (written, *self.shape[1:])

    # -- reading ---------------------------------------------------------- #

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start .. stop - 1`` (0 <= start <= stop <= n) as a native ndarray."""
        if self.closed:
            raise ValueError(f"{self.label}: the movie is closed")
        if stop <= start:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        if self.fast_path:
            return self._read_fast(start, stop)
        return self._read_pages(start, stop)

    def _read_fast(self, start: int, stop: int) -> np.ndarray:
        if self.plane_step != 1:
            return self._read_interleaved(start, stop)
        count = (stop - start) * self.frame_size
        first = self.plane_base + start
        offset = self.offset + first * self.frame_size * self.file_dtype.itemsize
        with self._lock:
            self._fh.seek(offset)
            data = np.fromfile(self._fh, dtype=self.file_dtype, count=count)
            self.stats["fromfile_calls"] += 1
            self.stats["bytes_read"] += data.nbytes
        if data.size != count:
            size = os.path.getsize(self.path)
            raise ValueError(
                f"{self.label}: truncated TIFF file: frames {start}..{stop - 1} end at byte "
                f"{offset + count * self.file_dtype.itemsize} but the file has {size} bytes"
            )
        data = data.reshape(stop - start, *self.shape[1:])
        if not self.file_dtype.isnative:
            data.byteswap(inplace=True)
            data = data.view(self.dtype)
        return data

    def _read_interleaved(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start .. stop - 1`` of one channel of a contiguous ``TCYX`` file:
        one read of each frame, where its plane is (no other channel is read)."""
        data = np.empty((stop - start, *self.shape[1:]), dtype=self.file_dtype)
        frame_bytes = self.frame_size * self.file_dtype.itemsize
        with self._lock:
            for row, frame in zip(data, range(start, stop), strict=True):
                offset = self.offset + (self.plane_base + frame * self.plane_step) * frame_bytes
                self._fh.seek(offset)
                got = self._fh.readinto(memoryview(row).cast("B"))
                self.stats["fromfile_calls"] += 1
                self.stats["bytes_read"] += got
                if got != frame_bytes:
                    size = os.path.getsize(self.path)
                    raise ValueError(
                        f"{self.label}: truncated TIFF file: frame {frame} ends at byte "
                        f"{offset + frame_bytes} but the file has {size} bytes"
                    )
        if not self.file_dtype.isnative:
            data.byteswap(inplace=True)
            data = data.view(self.dtype)
        return data

    def _read_pages(self, start: int, stop: int) -> np.ndarray:
        k = self.frames_per_page
        if k == 1:  # the frame's page; one channel of several: every plane_step-th page
            pages = [self.plane_base + t * self.plane_step for t in range(start, stop)]
            return self._read_page_list(start, stop, pages, 1)
        first_page, end_page = start // k, -(-stop // k)
        out = self._read_page_list(start, stop, list(range(first_page, end_page)), k)
        offset = start - first_page * k
        return out[offset : offset + stop - start]

    def _read_page_list(self, start: int, stop: int, pages: list[int], k: int) -> np.ndarray:
        """The frames of the image pages ``pages``, ``k`` frames each, in order, for
        frames ``start .. stop - 1`` (named in messages)."""
        out = np.empty((len(pages) * k, *self.shape[1:]), dtype=self.dtype)
        opened = []
        with self._lock:
            try:
                for i, index in enumerate(pages):
                    page = self._series[index]
                    handle = page.parent.filehandle
                    if handle.closed:  # other files of a multi-file series
                        handle.open()
                        opened.append(handle)
                    out[i * k : (i + 1) * k] = page.asarray().reshape(k, *self.shape[1:])
                    self.stats["pages_read"] += 1
            except Exception as exc:
                raise ValueError(
                    f"{self.label}: cannot read frames {start}..{stop - 1}, the file may be "
                    f"truncated or corrupt ({_clean(str(exc))})"
                ) from exc
            finally:
                for handle in opened:
                    handle.close()
        return out

    def close(self) -> None:
        self.closed = True
        _close_quietly(self._tif, self._fh)
        self._tif = None
        self._fh = None


def _open_series(path: PathLike, label: str, channel: int | str | None = None) -> list[_Source]:
    """Open the image series of one file that hold the movie.

    Usually that is the first series only. A movie that tifffile appended chunk
    by chunk is stored as several "shaped" series when the chunks differ in
    length; consecutive shaped series with the same frames are then joined.
    """
    first = _Source(path, label, channel=channel)
    group = [first]
    n_series = len(first.series_kinds)
    if first.kind == "shaped":
        for index in range(1, n_series):
            if first.series_kinds[index] != "shaped":
                break
            try:
                extra = _Source(path, label, index, channel)
            except (ValueError, TypeError):
                break
            if extra.shape[1:] != first.shape[1:] or extra.dtype != first.dtype:
                extra.close()
                break
            group.append(extra)
    if len(group) < n_series:
        warnings.warn(
            f"{label}: the file holds {n_series} image series; only the first "
            f"{len(group)} ({sum(s.shape[0] for s in group)} frames) are read",
            stacklevel=4,
        )
    return group


def _close_quietly(tif: tifffile.TiffFile | None, fh: Any) -> None:
    for thing in (tif, fh):
        if thing is not None:
            with contextlib.suppress(Exception):
                thing.close()


def _clean(message: str) -> str:
    """Shorten a tifffile message to one line."""
    message = " ".join(message.split())
    return message if len(message) <= 200 else message[:197] + "..."


# --------------------------------------------------------------------------- #
# Public movie object
# --------------------------------------------------------------------------- #


class _LazyStack:
    """What every lazily read stack shares: frame slicing over ``_read(start, stop)``.

    Subclasses set ``shape``, ``dtype`` and ``name`` and implement ``_read``.
    """

    shape: tuple[int, int, int]
    dtype: np.dtype
    name: str

    @property
    def ndim(self) -> int:
        return 3

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: int | slice) -> np.ndarray:
        """Read one frame (integer key, 2-D result) or a range of frames (3-D)."""
        frames = _frame_range(key, self.shape[0], self.name)
        if isinstance(frames, int):
            return self._read(frames, frames + 1)[0]
        return self._read(*frames)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """Read the whole stack (avoid for movies larger than memory)."""
        data = self._read(0, self.shape[0])
        return data if dtype is None else data.astype(dtype, copy=False)

    def _read(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError


class TiffMovie(_LazyStack):
    """A TIFF movie read lazily, frame range by frame range.

    Use :func:`open_movie` to create one. ``movie[a:b]`` reads frames ``a`` to
    ``b - 1`` from disk only; ``movie[i]`` reads one 2-D frame.

    Attributes
    ----------
    shape : tuple of int
        ``(n_frames, height, width)``.
    ndim : int
        Always 3.
    dtype : numpy.dtype
        Data type of the frames (native byte order).
    nbytes : int
        Size of the whole movie in memory, in bytes.
    paths : list of str
        Absolute paths of the files that hold the frames, in frame order.
    metadata : dict
        ``pixel_nm``: pixel size ``(y, x)`` in nanometres or None;
        ``exposure_ms``: exposure time in milliseconds or None;
        ``axes``: the axes of the first file after squeezing (e.g. ``'TYX'``);
        ``kind``: the tifffile series kind of the first file (e.g. ``'ome'``);
        ``channel``: the name of the channel read, in a file of several.
    channel_names : tuple of str
        The channels of the (first) file (:mod:`smlmlp.file_channels`): one name per
        channel of a file with a channel axis ``C``, empty for a file without one.
    channel : int
        The index of the channel read (0 in a file of one channel).
    name : str
        Label used in messages.
    fast_path : bool
        True when every file is uncompressed and contiguous, so frames are read
        with one seek and one ``numpy.fromfile`` per range.
    """

    def __init__(
        self,
        path: PathLike | Sequence[PathLike],
        *,
        name: str | None = None,
        channel: int | str | None = None,
    ) -> None:
        if isinstance(path, str | os.PathLike):
            paths = [path]
        elif isinstance(path, Sequence):
            paths = list(path)
            if not paths:
                raise ValueError(f"{name or 'open_movie'}: empty list of files")
        else:
            raise TypeError(
                f"{name or 'open_movie'}: expected a path or a list of paths, got "
                f"{type(path).__name__}"
            )
        for p in paths:
            if not isinstance(p, str | os.PathLike):
                raise TypeError(f"open_movie: expected a path, got {type(p).__name__}")
        self.name = name if name is not None else os.fspath(paths[0])
        self._sources: list[_Source] = []
        try:
            for p in paths:
                label = os.fspath(p) if name is None else f"{name} ({os.fspath(p)})"
                self._add(_open_series(p, label, channel))
            n_frames = sum(s.shape[0] for s in self._sources)
            if n_frames < 2:
                source = self._sources[0]
                if source.single_image:
                    raise ValueError(_ndim_message(source.label, source.shape[1:], "image"))
                check_frame_count(n_frames, self.name)
        except BaseException:
            self.close()
            raise
        first = self._sources[0]
        self._starts = np.cumsum([0] + [s.shape[0] for s in self._sources]).tolist()
        self.shape: tuple[int, int, int] = (n_frames, *first.shape[1:])
        self.dtype: np.dtype = first.dtype
        self.paths: list[str] = list(dict.fromkeys(p for s in self._sources for p in s.paths))
        self.metadata: dict[str, Any] = dict(first.metadata)
        self.channel_names: tuple[str, ...] = first.channel_names
        self.channel: int = first.channel

    def _add(self, group: list[_Source]) -> None:
        """Append the series of one file, checking them against the first file."""
        known = {p for s in self._sources for p in s.paths}
        first = self._sources[0] if self._sources else group[0]
        for source in group:
            if source.channel_names != first.channel_names:
                for other in group:
                    other.close()
                raise ValueError(
                    f"{source.label}: its channels {list(source.channel_names) or 'none'} "
                    f"do not match the first file {first.path} "
                    f"({list(first.channel_names) or 'none'})"
                )
            if source.shape[1:] != first.shape[1:] or source.dtype != first.dtype:
                for other in group:
                    other.close()
                raise ValueError(
                    f"{source.label}: frames of shape {source.shape[1:]} and type "
                    f"{source.dtype} do not match the first file {first.path} "
                    f"({first.shape[1:]}, {first.dtype})"
                )
            shared = [p for p in source.paths if p in known]
            if shared:
                for other in group:
                    other.close()
                raise ValueError(
                    f"{source.label}: its frames are already part of a series opened from "
                    f"an earlier file ({os.path.basename(shared[0])}); for a multi-file "
                    "OME series pass only its first file"
                )
        self._sources.extend(group)

    # -- stack protocol --------------------------------------------------- #

    @property
    def fast_path(self) -> bool:
        return all(s.fast_path for s in self._sources)

    @property
    def closed(self) -> bool:
        return all(s.closed for s in self._sources)

    @property
    def _stats(self) -> dict[str, int]:
        """Read counters summed over files (for tests and diagnostics)."""
        total = {"fromfile_calls": 0, "bytes_read": 0, "pages_read": 0}
        for source in self._sources:
            for key, value in source.stats.items():
                total[key] += value
        return total

    def _read(self, start: int, stop: int) -> np.ndarray:
        if self.closed:
            raise ValueError(f"{self.name}: the movie is closed")
        parts = []
        for source, first in zip(self._sources, self._starts, strict=False):
            a = max(start, first) - first
            b = min(stop, first + source.shape[0]) - first
            if a < b:
                parts.append(source.read(a, b))
        if not parts:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            f"{self.name}: a TiffMovie holds open files and cannot be pickled; open the "
            "movie again with open_movie in the other process"
        )

    # -- lifetime --------------------------------------------------------- #

    def close(self) -> None:
        """Close all files. Reading afterwards raises ValueError."""
        for source in self._sources:
            source.close()

    def __enter__(self) -> TiffMovie:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        files = f"{len(self.paths)} files" if len(self.paths) != 1 else repr(self.paths[0])
        state = ", closed" if self.closed else ""
        channel = f"channel={self.metadata['channel']!r}, " if self.channel_names else ""
        return (
            f"TiffMovie({files}, {channel}shape={self.shape}, dtype={self.dtype}, "
            f"axes={self.metadata.get('axes')!r}, pixel_nm={self.metadata.get('pixel_nm')}, "
            f"exposure_ms={self.metadata.get('exposure_ms')}, fast_path={self.fast_path}"
            f"{state})"
        )


def open_movie(
    path: PathLike | Sequence[PathLike],
    *,
    name: str | None = None,
    channel: int | str | None = None,
) -> TiffMovie | MovieFile:
    """Open a movie for lazy, chunked reading.

    The reader follows the file's extension: ``.dax`` (with its ``.inf``), Picasso
    ``.raw`` (with its ``.yaml``), ``.ims``, ``.zarr`` (OME-Zarr), ``.czi``, ``.nd2``
    and ``.sif`` are read by :mod:`smlmlp.formats`, whose readers behave as described
    here for TIFF (lazy slicing, ``metadata``, ``paths``, a context manager); ``.dcimg``
    is refused with one line; every other file is read as TIFF.

    Supported: plain multi-page TIFF, BigTIFF, ImageJ hyperstacks, OME-TIFF,
    and OME series spread over several files (Micro-Manager, Bio-Formats): open
    the first file, its OME-XML lists the others. A list of paths concatenates
    the files in order (for file series without OME links). The first image
    series of each file is used; a movie that tifffile appended chunk by chunk
    (several "shaped" series with the same frames) is read whole, and other
    extra series are ignored with a warning.

    Singleton axes are squeezed; what remains must be one frame axis (T, or a
    Z/C/other axis when it is the only one) and the two image axes (Y, X), or a
    frame axis and a channel axis C (an OME-TIFF or ImageJ hyperstack ``TCYX``,
    a Micro-Manager multi-camera acquisition): a file of several channels holds
    one movie per channel, and ``channel`` says which one is opened
    (:mod:`smlmlp.file_channels`; :func:`list_channels` names them).

    When a file is uncompressed and its frames are contiguous, ``movie[a:b]``
    reads the frames with a single seek and one ``numpy.fromfile`` call;
    otherwise only the TIFF pages holding frames ``a .. b - 1`` are read and
    decoded. Either way, memory use is bounded by the size of the range read.

    Parameters
    ----------
    path : str, path-like, or sequence of them
        The TIFF file, or files to concatenate in order.
    name : str, optional
        Label for messages; default the path of the (first) file.
    channel : int or str, optional
        The channel to open in a file of several (its index or its name); needed
        there. A file of one channel takes 0 (or nothing).

    Returns
    -------
    TiffMovie
        Lazy stack of shape ``(n_frames, height, width)``; a context manager.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If a file is not a TIFF, is corrupt or truncated, holds a single image,
        has more than one non-image axis besides its channels, holds several
        channels and ``channel`` names none of them, or files of a list do not match.
    TypeError
        If the pixel type is not real numbers (complex, bool).

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import numpy as np, tifffile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "movie.tif")
    >>> tifffile.imwrite(path, np.arange(10 * 4 * 6, dtype=np.uint16).reshape(10, 4, 6))
    >>> with open_movie(path) as movie:
    ...     print(movie.shape, movie.dtype, movie.fast_path)
    ...     chunk = movie[2:5]
    (10, 4, 6) uint16 True
    >>> chunk.shape, int(chunk[0, 0, 0])
    ((3, 4, 6), 48)
    >>> shutil.rmtree(folder)
    """
    from . import formats

    if isinstance(path, str | os.PathLike):
        movie = formats.open_format(path, name=name, channel=channel)
        if movie is not None:
            return movie
    elif isinstance(path, Sequence) and not isinstance(path, bytes):
        for item in path:
            if isinstance(item, str | os.PathLike) and formats.is_other_format(item):
                raise ValueError(
                    f"{name or os.fspath(item)}: only TIFF files can be concatenated from a "
                    "list; open the other formats one file at a time"
                )
    return TiffMovie(path, name=name, channel=channel)


def list_channels(path: PathLike | Sequence[PathLike]) -> tuple[str, ...]:
    """The names of the channels of a movie file (:mod:`smlmlp.file_channels`).

    Parameters
    ----------
    path : str, path-like, or sequence of them
        As for :func:`open_movie`.

    Returns
    -------
    tuple of str
        One name per channel of a file of several channels (to give
        :func:`open_movie` as ``channel``); empty for a file of one movie.

    Raises
    ------
    As :func:`open_movie`.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import numpy as np, tifffile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "two.ome.tif")
    >>> frames = np.zeros((10, 2, 4, 6), np.uint16)  # 10 frames of 2 channels
    >>> frames[:, 1] = 7
    >>> tifffile.imwrite(path, frames, metadata={"axes": "TCYX",
    ...                                          "Channel": {"Name": ["Cy5", "Cy3"]}})
    >>> list_channels(path)
    ('Cy5', 'Cy3')
    >>> with open_movie(path, channel="Cy3") as movie:
    ...     print(movie.shape, int(movie[3][0, 0]))
    (10, 4, 6) 7
    >>> shutil.rmtree(folder)
    """
    from . import formats

    single = isinstance(path, str | os.PathLike) and not formats.is_other_format(path)
    if single and not _tiff_may_hold_channels(path):
        return ()  # the first page says so: no need to index every page of a long movie
    with open_movie(path, channel=0) as movie:
        return tuple(movie.channel_names)


_OME_PIXELS = re.compile(r"<(?:\w+:)?Pixels\b[^>]*>")


def _channels_beside_frames(channels: int, others: Sequence[int]) -> bool:
    """Several channels and more than one frame: a C axis beside a frame axis (a lone
    C axis is read as the frames)."""
    return int(channels) > 1 and any(int(n) > 1 for n in others)


def _tiff_may_hold_channels(path: PathLike) -> bool:
    """Whether a TIFF may hold several channels, from its first page alone (the OME
    ``SizeC`` beside ``SizeT`` / ``SizeZ``, ImageJ's ``channels`` beside its frames or
    slices, the axes tifffile recorded); True when unsure (a Micro-Manager file, a file
    that cannot be read: opening it tells)."""
    try:
        with tifffile.TiffFile(path) as tif:
            if tif.is_ome:
                tag = tif.pages.first.tags.get(270)  # ImageDescription: the OME-XML
                pixels = _OME_PIXELS.search(str(tag.value) if tag is not None else "")
                if pixels is None:
                    return True
                sizes = dict(re.findall(r'\bSize([CTZ])="(\d+)"', pixels[0]))
                if len(sizes) < 3:
                    return True
                return _channels_beside_frames(sizes["C"], (sizes["T"], sizes["Z"]))
            if tif.is_imagej:
                imagej = tif.imagej_metadata or {}
                others = (imagej.get("frames", 1), imagej.get("slices", 1))
                return _channels_beside_frames(imagej.get("channels", 1), others)
            if tif.is_ndtiff:  # its index lists the images' channels
                values = ndtiff_layout(os.path.join(tif.filehandle.dirname, NDTIFF_INDEX))
                return len(values.channel_values) > 1
            if tif.is_micromanager:
                return True
            if tif.is_shaped:
                shaped = tif.shaped_metadata[0]
                axes, shape = str(shaped.get("axes", "")).upper(), shaped.get("shape") or ()
                if "C" not in axes or len(shape) != len(axes):
                    return False
                at = axes.index("C")
                return _channels_beside_frames(shape[at], [*shape[:at], *shape[at + 1 : -2]])
            return False
    except Exception:  # opening it names the problem
        return True


# --------------------------------------------------------------------------- #
# Two camera channels in one frame
# --------------------------------------------------------------------------- #


class SplitView(_LazyStack):
    """One half of a stack whose frames hold two camera channels side by side.

    Created by :func:`split_movie`. Slicing reads the frames from the parent
    stack and keeps the columns (or rows) of this half; the result is a
    C-contiguous array.

    Attributes
    ----------
    parent : stack
        The full stack.
    split : {"horizontal", "vertical"}
        How the frame is cut.
    half : int
        0 for the left (top) half, 1 for the right (bottom) half.
    shape, ndim, dtype, nbytes
        As for a numpy array of this half.
    name : str
        Label used in messages, e.g. ``"movie (left half)"``.
    """

    def __init__(self, parent: Any, split: str, half: int, name: str) -> None:
        self.parent = parent
        self.split = split
        self.half = half
        self.name = name
        n, height, width = (int(v) for v in parent.shape)
        if split == "horizontal":
            size = width // 2
            self._cut = (slice(None), slice(None), slice(half * size, (half + 1) * size))
            self.shape = (n, height, size)
        else:
            size = height // 2
            self._cut = (slice(None), slice(half * size, (half + 1) * size), slice(None))
            self.shape = (n, size, width)
        self.dtype = np.dtype(parent.dtype)

    @property
    def metadata(self) -> dict[str, Any]:
        """The parent's metadata (pixel size, exposure), or an empty dict."""
        return dict(getattr(self.parent, "metadata", {}) or {})

    @property
    def paths(self) -> list[str]:
        return list(getattr(self.parent, "paths", []) or [])

    def _read(self, start: int, stop: int) -> np.ndarray:
        data = np.asarray(self.parent[start:stop])
        return np.ascontiguousarray(data[self._cut])

    def __repr__(self) -> str:
        return (
            f"SplitView({self.name!r}, shape={self.shape}, dtype={self.dtype}, "
            f"parent={type(self.parent).__name__})"
        )


#: Names of the two halves of a split frame: ``horizontal`` is left | right,
#: ``vertical`` is top / bottom (index 0 and 1 of :func:`split_movie`).
HALF_NAMES = {"horizontal": ("left", "right"), "vertical": ("top", "bottom")}


def split_movie(stack: Any, split: str, *, name: str = "movie") -> list[SplitView]:
    """Split a stack holding two camera channels side by side into two lazy halves.

    Parameters
    ----------
    stack : stack
        Frames ``(n_frames, height, width)``, e.g. a :class:`TiffMovie`.
    split : {"horizontal", "vertical"}
        ``"horizontal"``: the channels are left | right (the width is halved);
        ``"vertical"``: the channels are top / bottom (the height is halved).
    name : str, optional
        Label of the stack in error messages.

    Returns
    -------
    list of SplitView
        ``[left, right]`` or ``[top, bottom]``; each satisfies the stack protocol
        and reads from ``stack`` only when sliced.

    Raises
    ------
    ValueError
        If ``split`` is unknown, or the width (height) to halve is odd.
    TypeError, ValueError
        If ``stack`` is not a valid stack (see :func:`check_stack`).

    Examples
    --------
    >>> import numpy as np
    >>> movie = np.arange(3 * 2 * 4).reshape(3, 2, 4)
    >>> left, right = split_movie(movie, "horizontal")
    >>> left.shape, right.shape
    ((3, 2, 2), (3, 2, 2))
    >>> right[0]
    array([[2, 3],
           [6, 7]])
    >>> top, bottom = split_movie(movie, "vertical")
    >>> bottom[0:2].shape
    (2, 1, 4)
    """
    if split not in HALF_NAMES:
        raise ValueError(
            f"{name}: unknown split {split!r}; use 'horizontal' (left | right halves) or "
            "'vertical' (top / bottom halves)"
        )
    stack = check_stack(stack, name)
    _, height, width = (int(v) for v in stack.shape)
    if split == "horizontal" and width % 2:
        raise ValueError(
            f"{name}: cannot split frames of width {width} into left and right halves: "
            "the width is odd"
        )
    if split == "vertical" and height % 2:
        raise ValueError(
            f"{name}: cannot split frames of height {height} into top and bottom halves: "
            "the height is odd"
        )
    return [
        SplitView(stack, split, half, f"{name} ({HALF_NAMES[split][half]} half)") for half in (0, 1)
    ]
