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

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import tifffile

from .formats import MovieFile, PathLike
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
    >>> for t in range(12):
    ...     tifffile.imwrite(os.path.join(folder, f"img_{t:04d}.tif"),
    ...                      np.full((4, 6), t, np.uint16))
    >>> with open_movie(os.path.join(folder, "img_0000.tif")) as movie:
    ...     print(type(movie).__name__, movie.shape, int(movie[5:7][1, 0, 0]))
    TiffSequenceMovie (12, 4, 6) 6
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

    def _read_frames(self, start: int, stop: int) -> np.ndarray:
        frames = np.empty((stop - start, *self.frame_shape), self.dtype)
        for index in range(start, stop):
            frames[index - start] = self._frame(index)
        return frames

    def _frame(self, index: int) -> Any:
        """The image of file ``index``, checked against the first file's."""
        path = self._files[index]
        try:
            image = tifffile.imread(path)
        except Exception as exc:
            raise ValueError(
                f"{self.label}: frame {index}, {path}: cannot be read, the file may be "
                f"truncated or corrupt ({_clean(str(exc))})"
            ) from exc
        if image.shape != self.frame_shape or image.dtype.newbyteorder("=") != self.dtype:
            shape = "x".join(str(size) for size in image.shape)
            expected = "x".join(str(size) for size in self.frame_shape)
            raise ValueError(
                f"{self.label}: frame {index}, {path}: an image of {shape} {image.dtype}, "
                f"where the sequence's first file holds one of {expected} {self.dtype}"
            )
        return image
