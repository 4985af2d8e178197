"""Andor Solis's spooled series: a movie spooled to disk as raw frames in many files.

Solis spools a fast camera's movie (an sCMOS such as the Zyla, Sona or Marana) to a
folder of its own: the acquisition's header in ``Spooled files.sifx`` (a ``.sif``
header without frames: frame count, exposure, detector), the frames' layout in
``acquisitionmetadata.ini`` (``[data]``: ``AOIHeight``, ``AOIWidth``, ``AOIStride``
bytes from one row to the next, ``PixelEncoding``, ``ImageSizeBytes`` from one frame
to the next, frame metadata included; ``[multiimage]``: ``ImagesPerFile``), and the
frames in files of that many images each, file ``k`` named after ``k``'s ten digits
in reverse order (``0000000000spool.dat``, ``1000000000spool.dat``, ...,
``0100000000spool.dat`` for the eleventh). Pixels are little-endian ``Mono16`` (or
``Mono12``, 12 bits in 16), ``Mono32``, or ``Mono12Packed``: two pixels in three
bytes, as Andor's SDK3 packs them (:func:`unpack_mono12`), read as 16-bit pixels.
Neither file gives the pixel size in the sample.

The movie opens from its ``.sifx`` file (its folder names it: :func:`spool_name`).
"""

from __future__ import annotations

import configparser
import os
import re
import warnings
from typing import Any

import numpy as np

from .formats import MovieFile, _clean, _need
from .tiff_metadata import _positive_float

__all__ = [
    "SPOOL_METADATA",
    "AndorSpoolMovie",
    "packed_row_bytes",
    "spool_files",
    "spool_header",
    "spool_name",
    "unpack_mono12",
]

#: The frames' layout, beside the ``.sifx`` file.
SPOOL_METADATA = "acquisitionmetadata.ini"
#: Solis's own name for the header file: the movie is then named after its folder.
SPOOL_HEADER_STEM = "Spooled files"
#: Pixel encodings read, and the little-endian types of their pixels.
SPOOL_ENCODINGS = {"Mono16": "<u2", "Mono12": "<u2", "Mono12Packed": "<u2", "Mono32": "<u4"}
#: The encoding of two 12-bit pixels in three bytes (:func:`unpack_mono12`).
PACKED_ENCODING = "Mono12Packed"
_DAT_FILE = re.compile(r"^(\d+)spool\.dat$", re.IGNORECASE)


def _file_index(name: str) -> int | None:
    """The index of a spooled frames file, from its name (digits in reverse order).

    >>> _file_index("0000000000spool.dat"), _file_index("0100000000spool.dat"), _file_index("a")
    (0, 10, None)
    """
    match = _DAT_FILE.match(name)
    return None if match is None else int(match[1][::-1])


def _frame_files(folder: str) -> list[tuple[int, str]]:
    """``(index, name)`` of the spooled frames files in ``folder``, by index."""
    found = []
    for name in os.listdir(folder):
        index = _file_index(name)
        if index is not None:
            found.append((index, name))
    return sorted(found)


def packed_row_bytes(width: int) -> int:
    """Bytes of a row of ``width`` pixels in ``Mono12Packed``: three for each pair, two
    for a last pixel alone.

    >>> packed_row_bytes(4), packed_row_bytes(5)
    (6, 8)
    """
    return (3 * int(width) + 1) // 2


def unpack_mono12(rows: np.ndarray, width: int) -> np.ndarray:
    """The pixels of rows of ``Mono12Packed`` bytes.

    Andor's SDK3 packs each pair of 12-bit pixels ``(a, b)`` of a row into three bytes:
    the first holds bits 11..4 of ``a``, the second bits 3..0 of ``a`` in its low half
    and bits 3..0 of ``b`` in its high half, the third bits 11..4 of ``b``. A row of
    odd width ends with its last pixel in two bytes, laid out as a pair's first.

    Parameters
    ----------
    rows : ndarray
        ``(..., B)`` uint8, ``B`` at least :func:`packed_row_bytes` of ``width`` (bytes
        beyond, a row's padding, are left out).
    width : int
        Pixels per row.

    Returns
    -------
    ndarray
        ``(..., width)`` uint16, each pixel in 0..4095.

    Examples
    --------
    >>> row = np.array([0xAB, 0x3C, 0x12, 0x7F, 0x05], np.uint8)
    >>> [hex(value) for value in unpack_mono12(row, 3)]
    ['0xabc', '0x123', '0x7f5']
    """
    width = int(width)
    rows = np.asarray(rows, dtype=np.uint8)
    if rows.shape[-1] < packed_row_bytes(width):
        raise ValueError(
            f"rows of {rows.shape[-1]} bytes cannot hold {width} Mono12Packed pixels "
            f"({packed_row_bytes(width)} bytes)"
        )
    pairs = width // 2
    triples = rows[..., : 3 * pairs].reshape(*rows.shape[:-1], pairs, 3).astype(np.uint16)
    pixels = np.empty((*rows.shape[:-1], width), np.uint16)
    middle = triples[..., 1]
    pixels[..., 0 : 2 * pairs : 2] = (triples[..., 0] << 4) | (middle & 0x0F)
    pixels[..., 1 : 2 * pairs : 2] = (middle >> 4) | (triples[..., 2] << 4)
    if width % 2:
        last = rows[..., 3 * pairs : 3 * pairs + 2].astype(np.uint16)
        pixels[..., -1] = (last[..., 0] << 4) | (last[..., 1] & 0x0F)
    return pixels


def spool_files(path: str | os.PathLike) -> list[str]:
    """The files of the spooled series whose header is ``path`` (a ``.sifx``) besides it:
    its ``acquisitionmetadata.ini`` and its frames files in order, those that exist."""
    folder = os.path.dirname(os.path.abspath(path))
    files = [os.path.join(folder, SPOOL_METADATA)] if os.path.isfile(
        os.path.join(folder, SPOOL_METADATA)
    ) else []
    try:
        return files + [os.path.join(folder, name) for _, name in _frame_files(folder)]
    except OSError:
        return files


def spool_header(folder: str | os.PathLike) -> str | None:
    """The name of the header (``.sifx``) of the spooled series a folder holds (one
    ``.sifx`` beside an ``acquisitionmetadata.ini``), else None."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    headers = [name for name in names if name.lower().endswith(".sifx")]
    if len(headers) != 1 or SPOOL_METADATA not in names:
        return None
    return headers[0]


def spool_name(path: str | os.PathLike) -> str:
    """What a spooled series is named after: its folder when its header has Solis's own
    name (``Spooled files.sifx``), else its header's name.

    >>> spool_name("/data/cell 1/Spooled files.sifx"), spool_name("/data/red.sifx")
    ('cell 1', 'red')
    """
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    if stem.lower() != SPOOL_HEADER_STEM.lower():
        return stem
    return os.path.basename(os.path.dirname(os.path.abspath(path)))


class AndorSpoolMovie(MovieFile):
    """An Andor Solis spooled series read lazily (see the module).

    Use :func:`smlmlp.loading.open_movie` to create one.
    """

    kind = "andor-spool"
    what = ".sifx"
    _handle: Any = None
    _handle_index = -1

    def _open(self) -> None:
        sif = _need(".sifx", self.label, ".sifx")
        try:
            with warnings.catch_warnings():  # (a header without its frames, as it should be)
                warnings.simplefilter("ignore")
                _, info = sif.np_open(self.path, ignore_corrupt=True)
            declared = int(info["NumberOfFrames"])
        except Exception as exc:
            raise self._corrupt(exc) from exc
        exposure = _positive_float(info.get("ExposureTime"))
        self.metadata["exposure_ms"] = None if exposure is None else exposure * 1e3
        self.folder_path = os.path.dirname(os.path.abspath(self.path))
        layout = self._layout()
        self.height, self.width, self.stride, self.image_bytes, self.per_file = layout
        files = _frame_files(self.folder_path)
        self.files = [os.path.join(self.folder_path, name) for _, name in files]
        n_frames = self._frames_written(files, declared)
        self.shape = (n_frames, self.height, self.width)
        self.paths = [os.path.abspath(self.path), os.path.join(self.folder_path, SPOOL_METADATA),
                      *self.files[: -(-n_frames // self.per_file)]]

    def _layout(self) -> tuple[int, int, int, int, int]:
        """``(height, width, stride, image bytes, images per file)`` from the ini file."""
        ini = os.path.join(self.folder_path, SPOOL_METADATA)
        if not os.path.isfile(ini):
            raise FileNotFoundError(
                f"{self.label}: its {SPOOL_METADATA} is missing ({ini}): a spooled series "
                "is read from its whole folder, as Solis wrote it"
            )
        parser = configparser.ConfigParser()
        try:
            with open(ini, encoding="utf-8", errors="replace") as handle:
                parser.read_string(handle.read())
            data = parser["data"]
            height, width = int(data["AOIHeight"]), int(data["AOIWidth"])
            stride, image_bytes = int(data["AOIStride"]), int(data["ImageSizeBytes"])
            encoding = data["PixelEncoding"].strip()
            per_file = parser.getint("multiimage", "ImagesPerFile", fallback=1)
        except (OSError, KeyError, ValueError, configparser.Error) as exc:
            raise ValueError(
                f"{self.label}: its {SPOOL_METADATA} cannot be read ({_clean(exc)})"
            ) from exc
        if encoding not in SPOOL_ENCODINGS:
            raise ValueError(
                f"{self.label}: pixel encoding {encoding} is not read (only "
                f"{', '.join(SPOOL_ENCODINGS)}): export the movie to TIFF in Solis"
            )
        self.file_dtype = np.dtype(SPOOL_ENCODINGS[encoding])
        self.dtype = self.file_dtype.newbyteorder("=")
        self.packed = encoding == PACKED_ENCODING
        row_bytes = self._row_bytes(width)
        if min(height, width, per_file) < 1 or stride < row_bytes or (
            image_bytes < stride * height
        ):
            raise ValueError(
                f"{self.label}: its {SPOOL_METADATA} does not describe frames ({width} x "
                f"{height} px of {encoding}, rows {stride} bytes apart, images "
                f"{image_bytes} bytes apart, {per_file} per file)"
            )
        return height, width, stride, image_bytes, per_file

    def _row_bytes(self, width: int) -> int:
        """Bytes of a row's pixels, as stored (padding left out)."""
        return packed_row_bytes(width) if self.packed else width * self.file_dtype.itemsize

    def _frames_written(self, files: list[tuple[int, str]], declared: int) -> int:
        """The frames to read: the header's count, or those written when the acquisition
        stopped before it (with a warning; all of them when the header gives none); a
        file missing or cut short before the last one is an error naming it."""
        counted = declared >= 1
        if not counted:  # (a series run until stopped) whatever was spooled
            declared = self.per_file * len(files)
        needed = -(-declared // self.per_file)
        written = 0
        for position, (index, name) in enumerate(files[:needed]):
            if index != position:
                missing = f"{str(position).zfill(10)[::-1]}spool.dat"
                raise ValueError(
                    f"{self.label}: frames {position * self.per_file}.. are missing: no "
                    f"{missing} in {self.folder_path}"
                )
            images = os.path.getsize(os.path.join(self.folder_path, name)) // self.image_bytes
            written += min(images, self.per_file)
            if images < self.per_file and position + 1 < min(len(files), needed):
                raise ValueError(
                    f"{self.label}: truncated spooled series: {name} holds {images} of its "
                    f"{self.per_file} frames, and more files follow it"
                )
        written = min(written, declared)
        if written < declared and counted:
            warnings.warn(
                f"{self.label}: the acquisition stopped early: {written} of the {declared} "
                "frames its header gives were spooled; they are read",
                UserWarning,
                stacklevel=2,
            )
        return written

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, self.height, self.width), self.file_dtype)
        image = np.empty(self.stride * self.height, np.uint8)  # a frame's rows, as stored
        row_bytes = self._row_bytes(self.width)
        stored = image.reshape(self.height, self.stride)[:, :row_bytes]
        pixels = stored if self.packed else stored.view(self.file_dtype)
        # rows of whole pixels without padding: read in place
        unpadded = self.stride == row_bytes and not self.packed
        for at, frame in enumerate(range(start, stop)):
            index, slot = divmod(frame, self.per_file)
            handle = self._file(index)
            handle.seek(slot * self.image_bytes)
            target = out[at].view(np.uint8).reshape(-1) if unpadded else image
            if handle.readinto(target) != target.nbytes:
                raise ValueError(
                    f"{self.label}: frame {frame} is cut short in {self.files[index]} "
                    "(truncated file)"
                )
            if self.packed:
                out[at] = unpack_mono12(pixels, self.width)
            elif not unpadded:
                out[at] = pixels
        return out

    def _file(self, index: int) -> Any:
        """The open frames file ``index`` (one at a time: a movie of any length holds one
        file open)."""
        if index != self._handle_index:
            if self._handle is not None:
                self._handle.close()
            self._handle = None
            self._handle = open(self.files[index], "rb")  # noqa: SIM115 (closed by close())
            self._handle_index = index
        return self._handle

    def _release(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None
        self._handle_index = -1
