"""Princeton Instruments ``.spe`` movies (WinView / WinSpec 2.x, LightField 3.0).

The file is a header of 4100 bytes, then the frames one after the other (little
endian), and in version 3.0 (LightField) an XML footer after them. The header gives
(offsets in bytes) the frame width at 42 (uint16), its height at 656 (uint16), the
number of frames at 1446 (int32), the pixel type at 108 (int16: 0 float32, 1 int32,
2 int16, 3 uint16, 5 float64, 6 uint8, 8 uint32), the exposure in seconds at 10
(float32, WinView's), the header's version at 1992 (float32), the footer's offset at
678 (uint64) and 0x5555 in its last two bytes. The footer's ``DataFormat`` says how
far apart the frames are (a frame may carry metadata, such as time stamps, after its
pixels) and how large they are, and LightField's ``ExposureTime`` (ms) the exposure.
Neither version stores the pixel size in the sample (only the sensor's own pixels).
"""

from __future__ import annotations

import math
import os
import struct
from typing import Any
from xml.etree import ElementTree

import numpy as np

from .formats import MovieFile, _clean, _read_frames_at
from .stacks import _ndim_message
from .tiff_metadata import _positive_float

__all__ = ["SpeMovie"]

#: Bytes of the header; the first frame starts there.
SPE_HEADER_BYTES = 4100
#: The header's last two bytes (``lastvalue``) of every .spe file.
SPE_MARK = 0x5555
#: The header's pixel-type codes.
SPE_DTYPES = {0: "<f4", 1: "<i4", 2: "<i2", 3: "<u2", 5: "<f8", 6: "u1", 8: "<u4"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class SpeMovie(MovieFile):
    """A Princeton Instruments ``.spe`` movie read lazily (see the module).

    Use :func:`smlmlp.loading.open_movie` to create one.
    """

    kind = "spe"
    what = ".spe"
    _handle: Any = None

    def _open(self) -> None:
        try:
            self._handle = open(self.path, "rb")  # noqa: SIM115 (closed by close())
            header = self._handle.read(SPE_HEADER_BYTES)
        except OSError as exc:
            raise self._corrupt(exc) from exc
        if len(header) < SPE_HEADER_BYTES or struct.unpack_from("<H", header, 4098)[0] != SPE_MARK:
            raise self._corrupt(
                f"{len(header)} bytes: no header of {SPE_HEADER_BYTES} bytes ending in 0x5555"
            )
        width, height = (struct.unpack_from("<H", header, at)[0] for at in (42, 656))
        frames = struct.unpack_from("<i", header, 1446)[0]
        code = struct.unpack_from("<h", header, 108)[0]
        if code not in SPE_DTYPES:
            raise self._corrupt(f"unknown pixel type {code}")
        dtype = np.dtype(SPE_DTYPES[code])
        self.frame_bytes = width * height * dtype.itemsize
        self.stride = self.frame_bytes
        version = struct.unpack_from("<f", header, 1992)[0]
        exposure_s = _positive_float(struct.unpack_from("<f", header, 10)[0])
        exposure_ms = None if exposure_s is None else exposure_s * 1e3
        size = os.path.getsize(self.path)
        if version >= 3:
            footer = struct.unpack_from("<Q", header, 678)[0]
            frames, width, height, dtype, footer_exposure = self._footer(footer, size, frames,
                                                                         width, height, dtype)
            exposure_ms = footer_exposure or exposure_ms
        if frames < 0 or min(width, height) < 1:
            raise self._corrupt(f"{frames} frames of {width} x {height} pixels")
        self.file_dtype = dtype
        self.dtype = dtype.newbyteorder("=")
        self.shape = (frames, height, width)
        need = SPE_HEADER_BYTES + max(frames - 1, 0) * self.stride + self.frame_bytes
        if size < need:
            raise ValueError(
                f"{self.label}: truncated .spe file: {frames} frames of {width}x{height} px "
                f"({dtype.name}) need {need} bytes, the file has {size}"
            )
        if frames < 2:
            raise ValueError(_ndim_message(self.label, self.shape[1:], "image"))
        self.metadata["exposure_ms"] = exposure_ms

    def _footer(
        self, offset: int, size: int, frames: int, width: int, height: int, dtype: np.dtype
    ) -> tuple[int, int, int, np.dtype, float | None]:
        """What LightField's XML footer says: frames, their width and height, pixel
        type (the header's where it says nothing else), the frames' stride (set on
        self) and the exposure in ms (None when it is not there)."""
        if not SPE_HEADER_BYTES <= offset < size:
            raise ValueError(
                f"{self.label}: truncated .spe file: its XML footer starts at byte {offset}, "
                f"the file has {size}"
            )
        try:
            self._handle.seek(offset)
            root = ElementTree.fromstring(self._handle.read())
        except (OSError, ElementTree.ParseError) as exc:
            raise self._corrupt(f"its XML footer cannot be read: {exc}") from exc
        exposure = None
        for element in root.iter():
            name = _local(element.tag)
            if name == "DataBlock" and element.get("type") == "Frame":
                frames = int(element.get("count", frames))
                self.stride = int(element.get("stride", self.stride))
                pixel = element.get("pixelFormat", "")
                formats = {"MonochromeUnsigned16": "<u2", "MonochromeUnsigned32": "<u4",
                           "MonochromeFloating32": "<f4"}
                dtype = np.dtype(formats.get(pixel, dtype))
                regions = [b for b in element if _local(b.tag) == "DataBlock"]
                if len(regions) > 1:
                    raise ValueError(
                        f"{self.label}: a .spe file of {len(regions)} regions of interest "
                        "per frame; save one region per file"
                    )
                if regions:
                    width = int(regions[0].get("width", width))
                    height = int(regions[0].get("height", height))
                self.frame_bytes = width * height * dtype.itemsize
            elif name == "ExposureTime" and exposure is None:
                exposure = _positive_float(element.text)
        if self.stride < self.frame_bytes:
            raise self._corrupt(f"frames {self.stride} bytes apart hold {self.frame_bytes}")
        return frames, width, height, dtype, exposure

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        count = stop - start
        self._handle.seek(SPE_HEADER_BYTES + start * self.stride)
        if self.stride == self.frame_bytes:  # one read for the whole range
            data = np.fromfile(self._handle, self.file_dtype, count * math.prod(self.shape[1:]))
            if data.size != count * math.prod(self.shape[1:]):
                raise ValueError(f"{self.label}: frames {start}..{stop - 1} are cut short")
            return data.reshape(count, *self.shape[1:])
        offsets = [SPE_HEADER_BYTES + frame * self.stride for frame in range(start, stop)]
        out = np.empty((count, *self.shape[1:]), self.file_dtype)
        return _read_frames_at(self._handle, offsets, out, self.label, start)

    def _release(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None

    def _corrupt(self, exc: BaseException | str) -> ValueError:
        return ValueError(f"{self.label}: corrupt or truncated .spe file ({_clean(exc)})")
