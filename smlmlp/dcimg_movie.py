"""Hamamatsu ``.dcimg`` movies: what HCImage and the DCAM-API record from ORCA cameras
(ORCA-Flash4.0, ORCA-Fusion, ORCA-Quest), read without a library.

A DCIMG file is a little-endian header, then one session: its header (the frame count,
width, height, bytes per pixel, per row and per image, where the frames begin), the
frames one after the other, and each frame's camera counter and time stamp. Two layouts
are written, told apart by the file header's version:

* ``0x7`` (older DCAM): the frames follow each other at ``bytes per image``; the
  counters and time stamps, as tables, follow the last frame in the session's footer;
* ``0x1000000`` (DCAM 4 and later): each frame is followed by a 32-byte trailer (its
  counter, time stamp in seconds and microseconds, four pixels), so the frames are
  ``bytes per image + 32`` apart.

Some cameras write a marker into the first four pixels of one sensor row of every frame
and store those pixels' real values apart: in the footer's table (``0x7``; the row is
the one the footer names) or in the frame's trailer (``0x1000000``; the sensor's row
1023, the first row of its lower half, which a sub-array starting at row ``y0`` with
binning ``b`` holds as row ``(1023 - y0) // b``). The reader puts them back, as the
``dcimg`` package does; the layout is the one it and python-microscopy describe, from
files they had (Bio-Formats agrees on the headers), and the rows are read top to
bottom as they are stored (the ``dcimg`` package's order; Bio-Formats shows them upside
down, which flips the sign of the PSF's angle, not its widths).

The file holds no pixel size (the camera's 6.5 µm pixels are behind an objective it
does not know). The frames' time stamps give the frame interval, which stands for the
exposure as a ``.lif``'s does. A file of several sessions is read from its first.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO, NamedTuple

import numpy as np

from .formats import MappedMovie, PathLike

__all__ = ["DcimgLayout", "DcimgMovie", "read_dcimg_layout"]

MAGIC = b"DCIMG"
#: The two layouts' version numbers (the file header's field at byte 8).
VERSION_0X7 = 0x7
VERSION_0X1000000 = 0x1000000
#: Bytes after each frame in the 0x1000000 layout: counter, time stamp, four pixels.
FRAME_TRAILER_BYTES = 32
#: The sensor row (0-based, unbinned) whose first four pixels the 0x1000000 layout
#: stores in each frame's trailer.
TRAILER_PIXELS_SENSOR_ROW = 1023
#: Where the 0x7 layout's counters begin after its session footer (its time stamps
#: follow them).
FOOTER_STAMPS_OFFSET = 272
#: The file header's bytes read: the magic, the version and where the first session is.
_HEADER_BYTES = 64


class DcimgLayout(NamedTuple):
    """Where a DCIMG file keeps its frames (:func:`read_dcimg_layout`).

    ``frames``, ``height``, ``width`` and ``dtype`` describe the stack; the first frame
    begins at ``data_offset``, rows are ``row_bytes`` apart and frames ``frame_bytes``;
    ``pixels_row`` is the row whose first four pixels are stored apart (None when none
    is), at ``pixels_offset``, ``pixels_step`` bytes apart from frame to frame; the
    frames' time stamps (seconds, microseconds: two uint32) begin at ``stamps_offset``,
    ``stamps_step`` bytes apart (None when the file holds none).
    """

    version: int
    frames: int
    height: int
    width: int
    dtype: np.dtype
    data_offset: int
    row_bytes: int
    frame_bytes: int
    image_bytes: int
    pixels_row: int | None
    pixels_offset: int
    pixels_step: int
    stamps_offset: int | None
    stamps_step: int


def _unpack(data: bytes, offset: int, fmt: str) -> int:
    """The little-endian integer ``fmt`` at ``offset`` of ``data``."""
    size = struct.calcsize(fmt)
    if offset + size > len(data):
        raise ValueError("the file ends inside its header")
    return int(struct.unpack_from("<" + fmt, data, offset)[0])


def _read_at(handle: BinaryIO, offset: int, count: int) -> bytes:
    handle.seek(offset)
    return handle.read(count)


def read_dcimg_layout(path: PathLike) -> DcimgLayout:
    """The layout of the DCIMG file ``path`` (see the module), checked against its size.

    Raises
    ------
    ValueError
        Not a DCIMG file, a version or pixel type not read, sizes that do not add up,
        or a file shorter than its frames.
    OSError
        The file cannot be read.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(_HEADER_BYTES)
        if not head.startswith(MAGIC):
            raise ValueError(f"not a DCIMG file (it begins {head[:8]!r}, not b'DCIMG')")
        version = _unpack(head, 8, "I")
        session = _unpack(head, 40, "I")  # the first session's header
        if version == VERSION_0X7:
            layout = _layout_0x7(handle, session)
        elif version == VERSION_0X1000000:
            layout = _layout_0x1000000(handle, session)
        else:
            raise ValueError(
                f"DCIMG version 0x{version:x} is not read (versions 0x7 and 0x1000000 are)"
            )
    last = layout.data_offset + (layout.frames - 1) * layout.frame_bytes + layout.image_bytes
    if layout.frames > 0 and size < last:
        raise ValueError(
            f"truncated .dcimg file: {layout.frames} frames of {layout.height}x{layout.width} "
            f"px need {last} bytes, the file has {size}"
        )
    if layout.pixels_row is not None:
        end = layout.pixels_offset + (layout.frames - 1) * layout.pixels_step
        end += 4 * layout.dtype.itemsize
        if end > size:
            layout = layout._replace(pixels_row=None)
    if layout.stamps_offset is not None:
        end = layout.stamps_offset + (layout.frames - 1) * layout.stamps_step + 8
        if end > size:
            layout = layout._replace(stamps_offset=None)
    return layout


def _pixel_dtype(pixel_type: int) -> np.dtype:
    """The frames' type from the session's pixel type (1: 8 bits, 2: 16 bits)."""
    if pixel_type == 1:
        return np.dtype(np.uint8)
    if pixel_type == 2:
        return np.dtype("<u2")
    raise ValueError(f"pixel type {pixel_type} is not read (1: 8-bit, 2: 16-bit frames)")


def _checked(
    frames: int, height: int, width: int, dtype: np.dtype, row_bytes: int, image_bytes: int
) -> None:
    """Sizes that add up: rows hold ``width`` pixels, images ``height`` rows."""
    if height < 1 or width < 1:
        raise ValueError(f"its session header gives frames of {height}x{width} px")
    if row_bytes < width * dtype.itemsize or image_bytes < row_bytes * height:
        raise ValueError(
            f"its session header's sizes do not add up ({height}x{width} px of "
            f"{dtype.itemsize} bytes, {row_bytes} bytes a row, {image_bytes} an image)"
        )


def _layout_0x7(handle: BinaryIO, session: int) -> DcimgLayout:
    """The 0x7 layout: frames back to back, the four pixels and stamps in the footer."""
    head = _read_at(handle, session, 80)
    frames, pixel_type = _unpack(head, 32, "I"), _unpack(head, 36, "I")
    width, row_bytes = _unpack(head, 44, "I"), _unpack(head, 48, "I")
    height, image_bytes = _unpack(head, 52, "I"), _unpack(head, 56, "I")
    data_offset = session + _unpack(head, 68, "I")
    footer = session + _unpack(head, 72, "Q")
    dtype = _pixel_dtype(pixel_type)
    _checked(frames, height, width, dtype, row_bytes, image_bytes)
    pixels_row, pixels_offset = None, 0
    second = _read_at(handle, footer, 16)
    if len(second) == 16:
        block = _read_at(handle, footer + _unpack(second, 8, "Q"), 112)
        if len(block) == 112 and _unpack(block, 104, "Q") > 0:  # the four pixels are kept
            row = _unpack(block, 100, "I") // row_bytes
            if row < height:
                pixels_row, pixels_offset = row, footer + _unpack(block, 88, "Q")
    return DcimgLayout(
        VERSION_0X7, frames, height, width, dtype, data_offset, row_bytes,
        image_bytes, image_bytes, pixels_row, pixels_offset, 4 * dtype.itemsize,
        footer + FOOTER_STAMPS_OFFSET + 4 * frames, 8,
    )


def _layout_0x1000000(handle: BinaryIO, session: int) -> DcimgLayout:
    """The 0x1000000 layout: each frame followed by its 32-byte trailer."""
    head = _read_at(handle, session, 720)
    frames, pixel_type = _unpack(head, 60, "I"), _unpack(head, 64, "I")
    width, height = _unpack(head, 72, "I"), _unpack(head, 76, "I")
    row_bytes, image_bytes = _unpack(head, 80, "I"), _unpack(head, 84, "I")
    data_offset = session + _unpack(head, 96, "Q")
    dtype = _pixel_dtype(pixel_type)
    _checked(frames, height, width, dtype, row_bytes, image_bytes)
    # the sub-array on the sensor: first column, width, first row, height (unbinned)
    y0, sensor_rows = _unpack(head, 716, "H"), _unpack(head, 718, "H")
    binning = max(1, sensor_rows // height)
    row = (TRAILER_PIXELS_SENSOR_ROW - y0) // binning
    frame_bytes = image_bytes + FRAME_TRAILER_BYTES
    trailer = data_offset + image_bytes
    return DcimgLayout(
        VERSION_0X1000000, frames, height, width, dtype, data_offset, row_bytes,
        frame_bytes, image_bytes, row if 0 <= row < height else None, trailer + 12,
        frame_bytes, trailer + 4, frame_bytes,
    )


class DcimgMovie(MappedMovie):
    """A Hamamatsu ``.dcimg`` movie (see the module), read lazily from a memory map.

    Use :func:`smlmlp.loading.open_movie` to create one.
    """

    kind = "dcimg"
    what = ".dcimg"

    def _open(self) -> None:
        try:
            layout = read_dcimg_layout(self.path)
        except OSError as exc:
            raise self._corrupt(exc) from exc
        except ValueError as exc:
            raise ValueError(f"{self.label}: {exc}") from exc
        self.layout = layout
        self.shape = (layout.frames, layout.height, layout.width)  # type: ignore[assignment]
        self.dtype = layout.dtype
        if layout.frames < 1:
            return
        self._mapped = np.memmap(self.path, dtype=np.uint8, mode="r")
        self._frames = np.ndarray(
            self.shape, layout.dtype, self._mapped, layout.data_offset,
            (layout.frame_bytes, layout.row_bytes, layout.dtype.itemsize),
        )
        if layout.pixels_row is not None:
            self._four_pixels = np.ndarray(
                (layout.frames, min(4, layout.width)), layout.dtype, self._mapped,
                layout.pixels_offset, (layout.pixels_step, layout.dtype.itemsize),
            )
        self.metadata["exposure_ms"] = self._frame_interval_ms()

    def _frame_interval_ms(self) -> float | None:
        """The median interval between the frames' time stamps, in ms; None when the
        file has none, or they do not increase."""
        layout = self.layout
        if layout.stamps_offset is None or layout.frames < 2 or self._mapped is None:
            return None
        stamps = np.ndarray(
            (layout.frames, 2), np.dtype("<u4"), self._mapped, layout.stamps_offset,
            (layout.stamps_step, 4),
        ).astype(np.int64)
        steps = np.diff(stamps[:, 0] * 1_000_000 + stamps[:, 1])  # µs
        if not np.all(steps > 0) or np.any(stamps[:, 1] >= 1_000_000):
            return None
        return float(np.median(steps)) * 1e-3

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        frames = super()._read_frames(start, stop)  # a copy of the map's frames
        if self.layout.pixels_row is not None:
            count = self._four_pixels.shape[1]
            frames[:, self.layout.pixels_row, :count] = self._four_pixels[start:stop]
        return frames
