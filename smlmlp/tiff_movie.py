"""The TIFF reader: one movie of a TIFF file or of a multi-file series, read lazily.

Plain TIFF, BigTIFF, ImageJ hyperstacks, OME-TIFF (series over several files too),
Micro-Manager files and NDTiff datasets, through tifffile: a contiguous movie is read
by seeking to its frames (one read per chunk), any other page by page; one channel of
a file of several reads only that channel's frames. The pixel size, exposure and
channel names come from the file's metadata (OME-XML, ImageJ, TIFF resolution,
Micro-Manager). :func:`smlmlp.loading.open_movie` opens such movies.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import threading
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import tifffile

from .file_channels import channel_label, channel_names, movie_names, resolve_channel
from .formats import MissingReaderError
from .movie_series import (
    NDTIFF_INDEX,
    ndtiff_layout,
)
from .stacks import LazyStack, _check_dtype, _ndim_message, check_frame_count
from .tiff_metadata import (
    _capture_tifffile_log,
    _optional,
    pco_rec_path,
    read_tiff_metadata,
    tiff_channel_names,
)

__all__ = ["TiffMovie", "tiff_may_hold_channels", "tiff_series_layout", "tiff_single_image"]

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

# What tifffile raises on a file it cannot read.
_TIFF_READ_ERRORS = (
    tifffile.TiffFileError,
    ValueError,
    OSError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
)

# Messages logged by tifffile about what it reads correctly anyway: an NDTiff index
# whose images list their axes in different orders (tifffile finds each by name), and
# a file with Micro-Manager's image metadata but not its file header (each file of
# Micro-Manager's "separate image files"; the image's metadata is read all the same).
_QUIET_TIFFFILE_MESSAGES = ("axes_dict.keys", "read_micromanager_metadata")


# tifffile's codes for axes without a physical meaning (pages, sequences)
_SEQUENCE_AXES = "QI"
# the axis of frames beside a channel axis C: time, or planes / pages used for time
_FRAME_AXES = ("T", "Z", "I", "Q")


#: Where 32-bit image data offsets wrap around: pco CamWare stores the offsets of a
#: ``.pcoraw`` recording larger than 4 GiB as 32-bit values (Bio-Formats' PCO-RAW
#: reader adds 2**32 where an offset falls below the one before, as we do).
_OFFSET_WRAP = 2**32

# --------------------------------------------------------------------------- #
# One TIFF series
# --------------------------------------------------------------------------- #


def unwrap_offsets(offsets: Sequence[int]) -> list[int]:
    """Offsets stored as 32-bit values in a file larger than 4 GiB, made increasing:
    ``2**32`` added from each offset that falls below the one before it on.

    Examples
    --------
    >>> unwrap_offsets([2**32 - 200, 2**32 - 100, 0, 100])
    [4294967096, 4294967196, 4294967296, 4294967396]
    """
    unwrapped, added, previous = [], 0, -1
    for offset in offsets:
        offset = int(offset) + added
        if offset < previous:
            added += _OFFSET_WRAP
            offset += _OFFSET_WRAP
        unwrapped.append(offset)
        previous = offset
    return unwrapped


def _wrapped_dataoffset(series: tifffile.TiffPageSeries, size: int, label: str) -> int | None:
    """Where the frames of a series whose 32-bit data offsets wrap around past 4 GiB
    begin (they must lie back to back once unwrapped); None when no offset wraps
    (a file of at most 4 GiB, offsets past 4 GiB among them, or offsets that only
    increase)."""
    if size <= _OFFSET_WRAP or series.is_multifile:
        return None
    offsets: list[int] = []
    counts: list[int] = []
    for page in series.pages:
        if page is None:
            return None
        offsets.extend(int(o) for o in page.dataoffsets)
        counts.extend(int(c) for c in page.databytecounts)
    if not offsets or max(offsets) >= _OFFSET_WRAP:  # 64-bit offsets: nothing wrapped
        return None
    unwrapped = unwrap_offsets(offsets)
    if unwrapped == offsets:
        return None
    ends = [o + c for o, c in zip(unwrapped[:-1], counts[:-1], strict=True)]
    if not series.keyframe.is_contiguous or ends != unwrapped[1:]:
        raise ValueError(
            f"{label}: the file is larger than 4 GiB and its image data offsets wrap "
            "around at 4 GiB (32-bit offsets, as pco CamWare writes them), but its "
            "frames do not lie back to back: where they lie cannot be told"
        )
    return unwrapped[0]


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



def _compression_name(page: Any) -> str:
    """The name of a TIFF page's compression (``LZW``, ``ZSTD``, ...), for messages."""
    compression = getattr(page, "compression", None)
    return str(getattr(compression, "name", compression) or "unknown").replace("_", " ")

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
                self.series_kinds = [s.kind for s in tif.series]
                self.file_movies = _file_movies(tif) if self.series_index == 0 else []
            except _TIFF_READ_ERRORS as exc:
                raise ValueError(
                    f"{label}: corrupt or truncated TIFF file ({_clean(str(exc))})"
                ) from exc
            _raise_if_fatal(records, label)  # a broken file before a wrong channel
            inner = self._choose_series()
            try:
                series = tif.series[self.series_index]
                axes, shape = tiff_series_layout(series)
                dataoffset = None if series.is_multifile else series.dataoffset
            except _TIFF_READ_ERRORS as exc:
                raise ValueError(
                    f"{label}: corrupt or truncated TIFF file ({_clean(str(exc))})"
                ) from exc
            if dataoffset is None:
                dataoffset = _wrapped_dataoffset(series, os.path.getsize(self.path), label)
        _raise_if_fatal(records, label)
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
        self._choose_channel(tif, axes, shape, inner)
        if self.channel_names:  # the frames of the channel opened
            shape = (self.n_movie_frames, *shape[-2:])
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
        if self.series_index == 0 or self.file_movies:
            self.metadata = read_tiff_metadata(tif, self.channel_in_c, self.series_index)
            self.metadata.update(axes=axes, kind=series.kind)
            if self.channel_names:
                self.metadata["channel"] = self.channel_names[self.channel]

        if dataoffset is not None and series.keyframe.is_contiguous:
            self._init_fast(tif, dataoffset)
        else:
            self._init_pages(series)
        if self.file_movies:  # the movie among the file's: named as the file lists them
            self.channel_names = tuple(name for _, _, name in self.file_movies)
            self.channel = self.movie_index
            self.metadata["channel"] = self.channel_names[self.channel]

    def _choose_series(self) -> int | None:
        """For a file of several image series (:func:`_file_movies`), the movie asked
        for among them: its series (:attr:`series_index`) and the channel in it
        (returned; None for a series of one channel). Otherwise None, the channel
        asked for being one of the series' channels."""
        if not self.file_movies:
            return None
        names = tuple(name for _, _, name in self.file_movies)
        self.movie_index = resolve_channel(self.label, names, self.requested_channel)
        self.label = channel_label(self.label, names, self.movie_index)
        self.series_index, inner, _ = self.file_movies[self.movie_index]
        return inner

    def _choose_channel(
        self, tif: tifffile.TiffFile, axes: str, shape: tuple[int, ...], inner: int | None
    ) -> None:
        """The series' channels (:attr:`channel_names`), the one asked for
        (:attr:`channel`; ``inner`` when the series was chosen among the file's,
        else the channel asked for) and where its frames are among the image planes:
        plane ``plane_base + t * plane_step`` is frame ``t``.

        A series of one frame axis (``T``; ``Z``, ``I`` or ``Q`` for it as well)
        beside a channel axis ``C`` and / or a position axis ``R`` (Micro-Manager's
        positions) holds one movie per channel of each position (``p0_Cy5``,
        ``p0_Cy3``, ``p1_Cy5``, ...; channels named from the file, positions
        numbered); any other series is one channel.
        """
        requested = inner if self.file_movies else self.requested_channel
        self.channel_names: tuple[str, ...] = ()
        self.channel, self.plane_base, self.plane_step, self.channel_in_c = 0, 0, 1, 0
        movies = _series_movies(tif, axes, shape, self.series_index)
        if movies is None:
            if requested is not None:
                self.channel = resolve_channel(self.label, ("c0",), requested)
            return
        self.channel_names, picks, (frame_axis, movie_axes) = movies
        self.channel = resolve_channel(self.label, self.channel_names, requested)
        if not self.file_movies:
            self.label = channel_label(self.label, self.channel_names, self.channel)
        leading = axes[:-2]
        strides = [math.prod(shape[axis + 1 : len(leading)]) for axis in range(len(leading))]
        self.n_planes = math.prod(shape[: len(leading)])
        self.n_movie_frames = shape[frame_axis]
        chosen = dict(zip(movie_axes, picks[self.channel], strict=True))
        self.plane_base = sum(strides[axis] * i for axis, i in chosen.items())
        self.plane_step = strides[frame_axis]
        # the channel's index along C: its exposure in the metadata
        self.channel_in_c = next((i for a, i in chosen.items() if leading[a] == "C"), 0)

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
            planes = range(self.plane_base, self.plane_base + self.shape[0] * self.plane_step,
                           self.plane_step)
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
                if "imagecodecs" in str(exc):  # a compression tifffile decodes with it
                    raise MissingReaderError(
                        f"{self.label}: its images are compressed "
                        f"({_compression_name(self._series[pages[0]])}): reading them needs "
                        "imagecodecs: pip install imagecodecs"
                    ) from exc
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


def _series_movies(
    tif: tifffile.TiffFile, axes: str, shape: tuple[int, ...], image: int
) -> tuple[tuple[str, ...], list[tuple[int, ...]], tuple[int, list[int]]] | None:
    """The movies of a series of channels and / or positions (:func:`_movie_axes`):
    their names, each one's index along every movie axis, and the axes; None for a
    series of one movie. Channels are named from the file (``image``: the series'
    number, for OME), positions numbered (``p0``, ``p1``, ...), position first
    (``p0_Cy5``)."""
    layout = _movie_axes(axes, shape)
    if layout is None:
        return None
    leading = axes[:-2]
    frame_axis, movie_axes = layout
    movie_axes = sorted(movie_axes, key=lambda axis: leading[axis] != "R")  # positions first
    per_axis = []
    for axis in movie_axes:
        count = shape[axis]
        if leading[axis] == "C":
            found = _optional(tiff_channel_names, tif, count, image)
            per_axis.append(channel_names(found, count))
        else:
            per_axis.append(tuple(f"p{index}" for index in range(count)))
    movies = movie_names(*per_axis)
    names = tuple(name for _, name in movies)
    return names, [pick for pick, _ in movies], (frame_axis, movie_axes)


def _movie_axes(axes: str, shape: tuple[int, ...]) -> tuple[int, list[int]] | None:
    """``(frame axis, movie axes)`` of a series whose leading axes are one frame axis
    (``T``, ``Z``, ``I`` or ``Q``) and a channel axis ``C`` and / or a position axis
    ``R``, each at most once; None for any other series.

    Examples
    --------
    >>> _movie_axes("TCYX", (9, 2, 8, 8)), _movie_axes("RTCYX", (3, 9, 2, 8, 8))
    ((0, [1]), (1, [0, 2]))
    >>> _movie_axes("TYX", (9, 8, 8)), _movie_axes("TZCYX", (9, 4, 2, 8, 8))
    (None, None)
    """
    leading = axes[:-2]
    if axes[-2:] != "YX" or len(shape) != len(axes):
        return None
    frames = [i for i, axis in enumerate(leading) if axis in _FRAME_AXES]
    movies = [i for i, axis in enumerate(leading) if axis not in _FRAME_AXES]
    kinds = sorted(leading[i] for i in movies)
    if len(frames) != 1 or kinds not in (["C"], ["R"], ["C", "R"]):
        return None
    return frames[0], movies


def _raise_if_fatal(records: list[logging.LogRecord], label: str) -> None:
    """Raise when tifffile logged that the file is truncated or inconsistent."""
    fatal = [r for r in records if any(m in r.getMessage() for m in _FATAL_TIFFFILE_MESSAGES)]
    if fatal:
        raise ValueError(
            f"{label}: corrupt or truncated TIFF file ({_clean(fatal[0].getMessage())})"
        )


def _file_movies(tif: tifffile.TiffFile) -> list[tuple[int, int | None, str]]:
    """The movies of an OME-TIFF of several image series (a multi-position
    acquisition, a Bio-Formats export of one), each ``(series, channel in it or
    None, name)``: every series of frames (a frame axis beside ``YX``; single images
    such as thumbnails are left out), and each channel of one with a ``C`` axis.
    Named after the OME ``Image`` names (else ``s0``, ``s1``, ...), then the
    channels'. Empty for any other file, and for a file of one series of frames."""
    if not tif.is_ome or len(tif.series) < 2:
        return []
    found = []
    for index, series in enumerate(tif.series):
        axes, shape = tiff_series_layout(series)
        if series.kind == "ome" and axes[-2:] == "YX" and math.prod(shape[:-2]) > 1:
            found.append((index, axes, shape))
    if len(found) < 2:
        return []
    names = channel_names([tif.series[index].name for index, _, _ in found], len(found), "s")
    movies: list[tuple[int, int | None, str]] = []
    for (index, axes, shape), name in zip(found, names, strict=True):
        inside = _series_movies(tif, axes, shape, index)
        if inside is None:
            movies.append((index, None, name))
            continue
        for channel, label in enumerate(inside[0]):
            movies.append((index, channel, f"{name}_{label}"))
    return movies


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
    if len(group) < n_series and not first.file_movies:  # else: the other movies
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




class TiffMovie(LazyStack):
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
        Absolute paths of the files that hold the frames, in frame order, then the
        ``.rec`` text of a pco CamWare recording (its exposure) when there is one.
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
        rec = pco_rec_path(first.path)
        if rec is not None:  # a pco CamWare recording's text: its exposure
            self.paths.append(os.path.abspath(rec))
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


_OME_PIXELS = re.compile(r"<(?:\w+:)?Pixels\b[^>]*>")
_OME_IMAGES = re.compile(r"<(?:\w+:)?Image\b")


def _channels_beside_frames(channels: int, others: Sequence[int]) -> bool:
    """Several channels and more than one frame: a C axis beside a frame axis (a lone
    C axis is read as the frames)."""
    return int(channels) > 1 and any(int(n) > 1 for n in others)


def tiff_may_hold_channels(path: PathLike) -> bool:
    """Whether a TIFF may hold several channels (or positions, or image series), from
    its first page alone (the OME ``SizeC`` beside ``SizeT`` / ``SizeZ`` and the number
    of OME images, ImageJ's ``channels`` beside its frames or slices, the axes
    tifffile recorded, an NDTiff index's channels and positions); True when unsure (a
    Micro-Manager file, a file that cannot be read, or of which tifffile logged a
    tag or page it could not read: opening it tells)."""
    try:
        with _capture_tifffile_log() as records, tifffile.TiffFile(path) as tif:
            if any(record.levelno >= logging.ERROR for record in records):
                return True  # e.g. a truncated file whose OME-XML is out of reach
            if tif.is_ome:
                tag = tif.pages.first.tags.get(270)  # ImageDescription: the OME-XML
                pixels = _OME_PIXELS.search(str(tag.value) if tag is not None else "")
                if pixels is None:
                    return True
                if len(_OME_IMAGES.findall(str(tag.value))) > 1:
                    return True  # several image series: each may be a movie
                sizes = dict(re.findall(r'\bSize([CTZ])="(\d+)"', pixels[0]))
                if len(sizes) < 3:
                    return True
                return _channels_beside_frames(sizes["C"], (sizes["T"], sizes["Z"]))
            if tif.is_imagej:
                imagej = tif.imagej_metadata or {}
                others = (imagej.get("frames", 1), imagej.get("slices", 1))
                return _channels_beside_frames(imagej.get("channels", 1), others)
            if tif.is_ndtiff:  # its index lists the images' channels and positions
                layout = ndtiff_layout(os.path.join(tif.filehandle.dirname, NDTIFF_INDEX))
                return any(layout.axis_sizes.get(axis, 1) > 1 for axis in ("channel", "position"))
            if tif.is_micromanager:
                return True
            if tif.is_shaped:
                shaped = tif.shaped_metadata[0]
                axes, shape = str(shaped.get("axes", "")).upper(), shaped.get("shape") or ()
                if len(shape) != len(axes):
                    return False
                return any(
                    _channels_beside_frames(shape[at], [*shape[:at], *shape[at + 1 : -2]])
                    for at, axis in enumerate(axes)
                    if axis in "CR"
                )
            return False
    except Exception:  # opening it names the problem
        return True


def tiff_single_image(path: PathLike) -> tuple[int, ...] | None:
    """The shape of the image a TIFF holds when it is one image, not a movie (a
    snapshot: one page whose metadata declares no further frames, planes or files;
    colour samples are part of the image), else None: a movie, not a TIFF, or a file
    that cannot be read (opening it tells). Reads the first page and its metadata only,
    however long the file.

    Examples
    --------
    >>> import os, tempfile, numpy as np, tifffile
    >>> folder = tempfile.mkdtemp()
    >>> snapshot, movie = os.path.join(folder, "bf.tif"), os.path.join(folder, "m.tif")
    >>> tifffile.imwrite(snapshot, np.zeros((48, 64), np.uint16))
    >>> tifffile.imwrite(movie, np.zeros((5, 48, 64), np.uint16))
    >>> tiff_single_image(snapshot), tiff_single_image(movie)
    ((48, 64), None)
    >>> for name in (snapshot, movie):
    ...     os.remove(name)
    >>> os.rmdir(folder)
    """
    try:
        with _capture_tifffile_log() as records, tifffile.TiffFile(path) as tif:
            try:
                tif.pages[1]
            except IndexError:
                pass
            else:
                return None  # a second page: frames (or planes) of a movie
            series = tif.series
            if any(record.levelno >= logging.ERROR for record in records) or len(series) != 1:
                return None
            shape, axes = tuple(int(size) for size in series[0].shape), series[0].axes
            sizes = zip(shape, axes, strict=True)
            planes = math.prod(size for size, axis in sizes if axis not in "YXS")
            return shape if planes == 1 and len(shape) >= 2 else None
    except Exception:  # not a TIFF, or unreadable: its job names the problem
        return None
