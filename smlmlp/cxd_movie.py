"""Hamamatsu HCImage (and Compix SimplePCI) ``.cxd`` movies.

A ``.cxd`` file is an OLE2 compound file (Microsoft's structured storage: a small file
system of storages and streams inside one file, read by
:mod:`smlmlp.compound_file`). HCImage keeps in it:

* ``File Info/Field Count``: the number of fields (frames), int32;
  ``File Info/File Has Image``: int16, 0 when the file holds no image;
  ``File Info/Comments``: text lines ``key=value``, among them the spatial
  calibration ``factor=<size>;<unit>`` and ``magnification=<m>`` (the pixel's size
  at the sample is their product, as Bio-Formats reads it);
* ``Field Data/Field <n>`` for ``n = 1, 2, ...``: one storage per frame, holding
  ``Details/Time_From_Start`` (seconds, float64) and one storage per image of the
  frame, ``i_Image1``, ``i_Image2``, ... (one per camera or channel), each with its
  pixels in the stream ``Bitmap 1`` (little endian, rows top to bottom) and its
  ``Details/Image_Width``, ``Image_Height`` and ``Image_Depth`` (bits per pixel),
  stored as float64; older files keep those details in the field's own ``Details``.

Each image of a field is a channel (``c0``, ``c1``, ...). The frame interval, from the
fields' ``Time_From_Start``, stands for the exposure as a ``.lif``'s does (the
``Image_Exposure1`` detail is not read: its unit is not documented). A bitmap longer
than its rows (rows padded to a multiple of some bytes) is cropped to the frame's
width. A bitmap that is a TIFF file (SimplePCI's frames; Bio-Formats reads them so) is
decoded by tifffile, one grey image of 8 or 16 bits a frame. Colour (24- or 48-bit)
frames, 32-bit pixels and images of several bitmaps are refused with one line.

A frame's stream is read into the movie's array straight from its runs of consecutive
sectors (one run where the sectors follow each other, as a camera writing the file
lays them down).
"""

from __future__ import annotations

import io
import math
import re
import struct
from typing import Any

import numpy as np

from .compound_file import CompoundFile, CompoundFileError, is_compound_file
from .formats import MovieFile, _clean, is_placeholder_pixel
from .tiff_metadata import _LENGTH_TO_NM, _positive_float, _unit_factor

__all__ = ["CxdMovie", "read_cxd_calibration"]

#: The fields' storage (field ``n``, 1-based, is ``Field n`` in it).
FIELDS = "Field Data"
#: The image storages of a field: ``i_Image1``, ``i_Image2``, ... (names are
#: looked up in lower case).
_IMAGE_NAME = re.compile(r"i_image(\d+)$")
#: Fields whose time stamps give the frame interval (the median of their steps).
INTERVAL_FIELDS = 101
#: First bytes of a TIFF file (little and big endian).
_TIFF_MARKS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def read_cxd_calibration(comments: str) -> float | None:
    """The pixel size in nm from the text of ``File Info/Comments``: ``factor`` times
    ``magnification`` (1 when absent), in the unit after the factor's ``;`` (else the
    ``units`` line's, else µm); None when there is no factor, its unit is not a length
    (an uncalibrated image's ``pixels``), or it comes to 1 µm exactly
    (:data:`smlmlp.formats.PLACEHOLDER_PIXEL_NM`).

    Examples
    --------
    >>> read_cxd_calibration("factor=0.065;um\\nmagnification=1;\\nunits=um;\\n")
    65.0
    >>> read_cxd_calibration("factor=0.16;µm\\r\\nmagnification=0.5\\r\\n")
    80.0
    >>> read_cxd_calibration("factor=1;pixels\\n") is None
    True
    """
    values: dict[str, tuple[str, str | None]] = {}
    for line in comments.replace("\r", "\n").split("\n"):
        key, equals, value = line.partition("=")
        if equals:
            number, _, unit = value.partition(";")
            values[key.strip().lower()] = (number.strip(), unit.strip() or None)
    if "factor" not in values:
        return None
    factor_text, unit = values["factor"]
    factor = _positive_float(factor_text)
    magnification = _positive_float(values.get("magnification", ("1", None))[0])
    if unit is None and "units" in values:
        unit = values["units"][0] or values["units"][1]
    scale = _unit_factor(unit, _LENGTH_TO_NM, "µm")
    if factor is None or magnification is None or scale is None:
        return None
    size = factor * magnification * scale
    return None if is_placeholder_pixel(size) else size


class CxdMovie(MovieFile):
    """An HCImage / SimplePCI ``.cxd`` movie read lazily (see the module); in a file of
    several images per frame, the channel asked for.

    Use :func:`smlmlp.loading.open_movie` to create one.
    """

    kind = "cxd"
    what = ".cxd"
    _file: CompoundFile | None = None
    #: whether each frame is a TIFF file in its bitmap stream (SimplePCI)
    _embedded_tiff = False
    #: each frame's bitmap entry once found (-1: not yet), a frame being read in every pass
    _bitmaps: np.ndarray | None = None

    def _open(self) -> None:
        try:
            if not is_compound_file(self.path):
                raise ValueError(
                    f"{self.label}: not a .cxd file (no OLE2 compound file header, which "
                    "HCImage and SimplePCI write)"
                )
            self._file = CompoundFile(self.path)
        except (OSError, CompoundFileError) as exc:
            raise self._corrupt(exc) from exc
        count = self._stream_bytes("File Info/Field Count", "an HCImage / SimplePCI file")
        if len(count) < 4:
            raise self._corrupt(f"'File Info/Field Count' holds {len(count)} bytes, not 4")
        n_fields = struct.unpack_from("<i", count)[0]
        has_image = self._optional_bytes("File Info/File Has Image")
        if len(has_image) >= 2 and struct.unpack_from("<h", has_image)[0] == 0:
            raise ValueError(f"{self.label}: the .cxd file holds no image")
        fields = self._file.find(FIELDS)
        if n_fields < 1 or fields is None:
            raise ValueError(f"{self.label}: the .cxd file holds no field (frame)")
        self._fields = fields
        first = self._field(1)
        images = sorted(
            (int(match.group(1)), name)
            for name in self._file.children(first)
            if (match := _IMAGE_NAME.match(name)) is not None
        )
        if not images:
            raise self._corrupt("its first field holds no image (no 'i_Image1' storage)")
        self.channel = self._choose_channel(None, len(images))
        self._image_name = images[self.channel][1]
        self._stream_size = self._file.size(self._bitmap(1))
        head = self._stream(self._bitmap(1))[:4] if self._stream_size >= 4 else b""
        self._embedded_tiff = head in _TIFF_MARKS
        if self._embedded_tiff:  # SimplePCI's: each frame a TIFF file of its own
            frame = self._tiff_frame(1)
            (height, width), dtype = frame.shape, frame.dtype
        else:
            height, width, dtype = self._frame_format(first)
            self._row_bytes = self._check_bitmap_size(self._stream_size, height, width, dtype)
        if f"field {n_fields}" not in self._file.children(fields):
            stored = sum(1 for name in self._file.children(fields) if name.startswith("field "))
            raise ValueError(
                f"{self.label}: truncated .cxd file: 'File Info/Field Count' says "
                f"{n_fields} fields (frames), 'Field Data' holds {stored}"
            )
        self.shape = (n_fields, height, width)
        self.dtype = dtype
        self._bitmaps = np.full(n_fields, -1, dtype=np.int64)
        comments = self._optional_bytes("File Info/Comments")
        if comments:
            size = read_cxd_calibration(_text(comments))
            self.metadata["pixel_nm"] = None if size is None else (size, size)
        self.metadata["exposure_ms"] = self._frame_interval_ms(n_fields)

    # ----------------------------------------------------------------- layout

    def _child(self, storage: int | None, name: str) -> int | None:
        """The child ``name`` (any case) of a storage entry, or None."""
        assert self._file is not None
        return None if storage is None else self._file.children(storage).get(name.lower())

    def _field(self, number: int) -> int:
        field = self._child(self._fields, f"field {number}")
        if field is None:
            raise self._corrupt(f"'Field Data/Field {number}' is missing")
        return field

    def _bitmap(self, number: int) -> int:
        """Field ``number``'s (1-based) bitmap stream of the channel read."""
        known = -1 if self._bitmaps is None else int(self._bitmaps[number - 1])
        if known >= 0:
            return known
        image = self._child(self._field(number), self._image_name)
        if image is None:
            raise self._corrupt(f"field {number} has no '{self._image_name}' storage")
        if self._child(image, "bitmap 2") is not None:
            raise ValueError(
                f"{self.label}: its images hold several bitmaps each; not read (save "
                "one bitmap per image)"
            )
        bitmap = self._child(image, "bitmap 1")
        bitmap = self._child(image, "data") if bitmap is None else bitmap
        if bitmap is None:
            raise self._corrupt(f"field {number}'s image has no 'Bitmap 1' stream")
        if self._bitmaps is not None:
            self._bitmaps[number - 1] = bitmap
        return bitmap

    def _first_detail(self, first: int, name: str) -> float:
        """A float64 detail of the first field's image of the channel (its ``Details``),
        else of the field (its own ``Details``, older files)."""
        for storage in (self._child(first, self._image_name), first):
            entry = self._child(self._child(storage, "details"), name)
            data = b"" if entry is None else self._stream(entry)
            if len(data) >= 8:
                return struct.unpack_from("<d", data)[0]
        raise self._corrupt(f"its first field gives no '{name}'")

    def _frame_format(self, first: int) -> tuple[int, int, np.dtype]:
        names = ("Image_Height", "Image_Width", "Image_Depth")
        height, width, depth = (self._first_detail(first, name) for name in names)
        if not all(math.isfinite(v) and v >= 1 for v in (height, width, depth)):
            raise self._corrupt(f"frames of {width} x {height} pixels of {depth} bits")
        bits = int(round(depth))
        if bits in (24, 48):
            raise ValueError(
                f"{self.label}: colour frames ({bits}-bit RGB); save the camera's grey frames"
            )
        if bits > 16:
            raise ValueError(
                f"{self.label}: {bits}-bit pixels are not read (8- to 16-bit grey frames are)"
            )
        dtype = np.dtype("u1") if bits <= 8 else np.dtype("<u2")
        return int(round(height)), int(round(width)), dtype

    def _check_bitmap_size(self, size: int, height: int, width: int, dtype: np.dtype) -> int:
        """The bytes of a stored row: the frame's, or more where rows are padded."""
        needed = height * width * dtype.itemsize
        if size == needed:
            return width * dtype.itemsize
        if size > needed and size % height == 0:
            return size // height
        raise self._corrupt(
            f"a frame's bitmap holds {size} bytes; {width} x {height} pixels of "
            f"{dtype.itemsize} bytes need {needed}"
        )

    def _frame_interval_ms(self, n_fields: int) -> float | None:
        """The median step of the first fields' ``Time_From_Start`` (s), in ms; None
        when they are missing or do not increase."""
        times = []
        for number in range(1, min(n_fields, INTERVAL_FIELDS) + 1):
            details = self._child(self._child(self._fields, f"field {number}"), "details")
            entry = self._child(details, "time_from_start")
            data = b"" if entry is None else self._stream(entry)
            if len(data) < 8:
                return None
            times.append(struct.unpack_from("<d", data)[0])
        steps = np.diff(np.asarray(times, dtype=np.float64))
        if steps.size == 0 or not np.all(np.isfinite(steps)) or not np.all(steps > 0):
            return None
        return float(np.median(steps)) * 1e3

    # ------------------------------------------------------------------ reads

    def _stream_bytes(self, path: str, what: str) -> bytes:
        assert self._file is not None
        entry = self._file.find(path)
        if entry is None:
            raise ValueError(f"{self.label}: no '{path}' stream: not {what}")
        return self._stream(entry)

    def _optional_bytes(self, path: str) -> bytes:
        assert self._file is not None
        entry = self._file.find(path)
        return b"" if entry is None else self._stream(entry)

    def _stream(self, entry: int, out: Any = None) -> bytes:
        """A stream's bytes (into ``out`` when given)."""
        assert self._file is not None
        try:
            if out is None:
                return self._file.read(entry)
            self._file.read_into(entry, out)
            return b""
        except CompoundFileError as exc:
            raise self._corrupt(f"{self._file.name(entry)!r}: {exc}") from exc

    def _tiff_frame(self, number: int) -> np.ndarray:
        """Frame ``number`` (1-based) stored as a TIFF file in its bitmap stream: one
        grey image of 8 or 16 bits, of the first frame's shape."""
        import tifffile

        try:
            frame = np.squeeze(tifffile.imread(io.BytesIO(self._stream(self._bitmap(number)))))
        except Exception as exc:  # tifffile's own errors on a damaged image
            raise self._corrupt(f"frame {number - 1}'s TIFF image: {exc}") from exc
        if frame.ndim != 2 or frame.dtype.kind != "u" or frame.dtype.itemsize > 2:
            raise ValueError(
                f"{self.label}: frame {number - 1} is a TIFF image of shape {frame.shape} "
                f"({frame.dtype}), not one grey image of 8 or 16 bits"
            )
        if number > 1 and frame.shape != self.shape[1:]:
            raise self._corrupt(
                f"frame {number - 1}'s TIFF image is {frame.shape}, the first {self.shape[1:]}"
            )
        return frame

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        assert self._file is not None
        if self._embedded_tiff:
            frames = [self._tiff_frame(number) for number in range(start + 1, stop + 1)]
            return np.stack(frames).astype(self.dtype, copy=False)
        height, width = self.shape[1:]
        row_items = self._row_bytes // self.dtype.itemsize
        stored = np.empty((stop - start, height, row_items), np.dtype(self.dtype).newbyteorder("<"))
        for index, number in enumerate(range(start + 1, stop + 1)):
            bitmap = self._bitmap(number)
            size = self._file.size(bitmap)
            if size != self._stream_size:
                raise self._corrupt(
                    f"frame {number - 1}'s bitmap holds {size} bytes, the first "
                    f"frame's {self._stream_size}"
                )
            self._stream(bitmap, stored[index])
        frames = stored if row_items == width else stored[:, :, :width]
        return np.ascontiguousarray(frames).astype(self.dtype, copy=False)

    def _release(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None

    def _corrupt(self, exc: BaseException | str) -> ValueError:
        return ValueError(f"{self.label}: corrupt or truncated .cxd file ({_clean(exc)})")


def _text(data: bytes) -> str:
    """Comment bytes as text: UTF-16 when they look like it, else UTF-8, else Latin-1
    (Windows writers), NULs dropped."""
    if len(data) >= 2 and data[1:2] == b"\x00":
        text = data.decode("utf-16-le", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    return text.replace("\x00", "")
