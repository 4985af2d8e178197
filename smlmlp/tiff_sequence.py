"""Movies of one TIFF file per frame (image sequences).

Micro-Manager's "separate image files", many home-built rigs and the SMLM challenge's
data write a movie as one TIFF file per frame; :func:`smlmlp.movie_series.frame_sequences`
tells which files make one. :class:`TiffSequenceMovie` reads them as one lazy movie:
the first file gives the frame shape, the pixel type, the pixel size and the exposure
(its OME, ImageJ or Micro-Manager metadata, as for any TIFF), and ``movie[a:b]`` opens
files ``a .. b - 1`` only, each for as long as its frame takes to read, so a movie of
any length holds no file open.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import tifffile

from .formats import MovieFile, PathLike
from .tiff_metadata import _capture_tifffile_log
from .tiff_movie import _clean, _open_series

__all__ = ["TiffSequenceMovie"]


class TiffSequenceMovie(MovieFile):
    """The frames of an image sequence, one TIFF file each, read lazily.

    Use :func:`smlmlp.loading.open_movie` on any of its files to create one. Attributes
    as :class:`smlmlp.formats.MovieFile`; ``paths`` lists every file, in frame order.

    Examples
    --------
    >>> import os, shutil, tempfile, numpy as np, tifffile
    >>> from smlmlp.loading import open_movie
    >>> folder = tempfile.mkdtemp()
    >>> for t in range(100):
    ...     tifffile.imwrite(os.path.join(folder, f"img_{t:04d}.tif"),
    ...                      np.full((4, 6), t, np.uint16))
    >>> with open_movie(os.path.join(folder, "img_0000.tif")) as movie:
    ...     print(type(movie).__name__, movie.shape, int(movie[5:7][1, 0, 0]))
    TiffSequenceMovie (100, 4, 6) 6
    >>> shutil.rmtree(folder)
    """

    kind = "tiff-sequence"
    what = "TIFF image sequence"

    def __init__(
        self,
        files: Sequence[PathLike],
        *,
        name: str | None = None,
        channel: int | str | None = None,
    ) -> None:
        self._files = [os.fspath(file) for file in files]
        if len(self._files) < 2:
            label = name or "TiffSequenceMovie"
            raise ValueError(f"{label}: an image sequence has 2 files or more")
        super().__init__(self._files[0], name=name, channel=channel)

    def _open(self) -> None:
        (first,) = _open_series(self.path, self.label)
        try:
            if not first.single_image:
                raise ValueError(
                    f"{self.label}: holds {first.shape[0]} frames, not one image: the files "
                    "of an image sequence hold one frame each"
                )
            self.frame_shape = tuple(int(size) for size in first.shape[1:])
            self.dtype = first.dtype
            self.metadata.update(
                pixel_nm=first.metadata.get("pixel_nm"),
                exposure_ms=first.metadata.get("exposure_ms"),
            )
        finally:
            first.close()
        self.shape = (len(self._files), *self.frame_shape)
        self.paths = [os.path.abspath(file) for file in self._files]
        self._layout = _plain_layout(self.path, self.frame_shape)

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        frames = np.empty((stop - start, *self.frame_shape), self.dtype)
        for index in range(start, stop):
            frames[index - start] = self._frame(index)
        return frames

    def _frame(self, index: int) -> Any:
        """The image of file ``index``, checked against the first file's: straight from
        its bytes when they are the first file's but for the image (:class:`_Layout`),
        else through tifffile."""
        path = self._files[index]
        if self._layout is not None:
            image = self._layout.image(path)
            if image is not None:
                return image
        try:
            with _capture_tifffile_log(), tifffile.TiffFile(path) as tif:
                images = len(tif.pages)
                image = tif.pages.first.asarray()
        except Exception as exc:
            raise ValueError(
                f"{self.label}: frame {index}, {path}: cannot be read, the file may be "
                f"truncated or corrupt ({_clean(str(exc))})"
            ) from exc
        if images != 1:
            raise ValueError(
                f"{self.label}: frame {index}, {path}: holds {images} images, where the "
                "files of an image sequence hold one each"
            )
        if image.shape != self.frame_shape or image.dtype.newbyteorder("=") != self.dtype:
            shape = "x".join(str(size) for size in image.shape)
            expected = "x".join(str(size) for size in self.frame_shape)
            raise ValueError(
                f"{self.label}: frame {index}, {path}: an image of {shape} {image.dtype}, "
                f"where the sequence's first file holds one of {expected} {self.dtype}"
            )
        return image


class _Layout(NamedTuple):
    """Where the first file of a sequence keeps its image, uncompressed in one run of
    bytes, and every byte of the file around it (the header, the tags, the metadata).
    A file of the same size with the same bytes around that run holds its image in the
    same place, as the files of one writer without per-frame metadata do: it is read in
    one call, without parsing the file."""

    size: int
    offset: int
    dtype: np.dtype
    shape: tuple[int, ...]
    before: bytes
    after: bytes

    def image(self, path: str) -> np.ndarray | None:
        """The image of ``path`` when its layout is this one, else None."""
        with open(path, "rb") as file:
            data = file.read(self.size + 1)
        end = self.offset + self.dtype.itemsize * math.prod(self.shape)
        if len(data) != self.size or data[: self.offset] != self.before or data[end:] != self.after:
            return None
        image = np.frombuffer(data, self.dtype, math.prod(self.shape), self.offset)
        return image.reshape(self.shape)


def _plain_layout(path: str, shape: tuple[int, ...]) -> _Layout | None:
    """The :class:`_Layout` of a sequence's first file when its one image is
    uncompressed in one run of bytes, else None."""
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            dtype = np.dtype(page.dtype).newbyteorder(tif.byteorder)
            plain = len(tif.pages) == 1 and page.is_contiguous and page.compression == 1
            offset, count = int(page.dataoffsets[0]), int(sum(page.databytecounts))
        if not plain or count != dtype.itemsize * math.prod(shape):
            return None
        with open(path, "rb") as file:
            data = file.read()
    except Exception:  # reading it frame by frame through tifffile tells what is wrong
        return None
    return _Layout(len(data), offset, dtype, shape, data[:offset], data[offset + count :])
