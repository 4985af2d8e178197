"""NumPy ``.npy`` movies: a stack of frames saved with ``numpy.save``.

Simulators and one's own scripts often save a movie as one array ``(frames, height,
width)`` of integers or floats. The file is a short header (the array's shape, data
type and memory order) and the array's bytes after it; the frames are read lazily
from a memory map, chunk by chunk, C or Fortran order alike. Axes of length one
besides the last two are dropped (``(frames, 1, height, width)`` is a movie); an
array with two axes or more of frames (``(frames, channels, height, width)``) is
refused with one line: save one ``.npy`` per channel. The file holds no pixel size
or exposure.

An ``.npy`` beside the movies that is no movie (a table of localisations, a drift
trace, a single image: :func:`npy_left_out`) is left out of an experiment folder
with its reason, as a snapshot is.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np

from .formats import MappedMovie, PathLike, _clean

__all__ = ["NpyMovie", "npy_left_out", "read_npy_header"]


class NpyHeader(NamedTuple):
    """What an ``.npy`` file's header says: the array's ``shape``, ``dtype``, whether
    it is in Fortran order, and where its bytes begin (``offset``)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int


def read_npy_header(path: PathLike) -> NpyHeader:
    """The header of the ``.npy`` file ``path`` (format versions 1.0, 2.0 and 3.0).

    Raises
    ------
    ValueError
        The file is not an ``.npy`` file, or its header is corrupt.
    OSError
        The file cannot be read.

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npy")
    >>> np.save(path, np.zeros((5, 8, 6), np.uint16))
    >>> header = read_npy_header(path)
    >>> header.shape, header.dtype, header.fortran_order, header.offset
    ((5, 8, 6), dtype('uint16'), False, 128)
    """
    fmt = np.lib.format
    with open(path, "rb") as handle:
        try:
            version = fmt.read_magic(handle)
            if version in ((1, 0), (2, 0)):
                read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, fortran_order, dtype = read(handle)
                offset = handle.tell()
            else:  # 3.0 (2.0 with UTF-8 field names): numpy's own loader reads its header
                handle.seek(0)
                mapped = np.load(handle, mmap_mode="r", allow_pickle=False)
                shape, dtype = mapped.shape, mapped.dtype
                fortran_order = mapped.ndim > 1 and not mapped.flags.c_contiguous
                offset = int(mapped.offset)
                del mapped
        except (ValueError, EOFError, SyntaxError, TypeError, KeyError) as exc:
            raise ValueError(f"not an .npy file, or a corrupt header ({_clean(exc)})") from exc
    return NpyHeader(tuple(int(n) for n in shape), np.dtype(dtype), bool(fortran_order), offset)


def _frames_shape(shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """``(frames, height, width)`` of an array of ``shape`` less its axes of length one
    before the last two; None when it has no frame axis or two."""
    if len(shape) < 3:
        return None
    leading = [n for n in shape[:-2] if n != 1] or [1]
    if len(leading) != 1:
        return None
    return (leading[0], shape[-2], shape[-1])


def _not_a_movie(header: NpyHeader) -> str | None:
    """Why the array of ``header`` is no movie; None when it is one."""
    dtype, shape = header.dtype, header.shape
    if dtype.names:
        fields = ", ".join(list(dtype.names)[:4]) + (", ..." if len(dtype.names) > 4 else "")
        return f"a NumPy table of {shape[0] if shape else 1} records (fields {fields}), not a movie"
    if dtype.kind not in "uif":
        return f"a NumPy array of {dtype} {shape}, not a movie of real numbers"
    frames = _frames_shape(shape)
    if frames is not None and frames[0] == 1:
        return f"one image ({shape[-2]} x {shape[-1]}), not a movie"
    if frames is None and len(shape) > 3:
        return (
            f"a NumPy array {shape} of several axes of frames or channels, not a movie "
            "(frames, height, width): save one .npy file per channel"
        )
    if frames is None:
        return f"a NumPy array {shape}, not a movie (frames, height, width)"
    return None


def npy_left_out(path: PathLike) -> str | None:
    """Why an ``.npy`` file beside the movies is not one (a table of localisations, a
    drift trace, a single image, an array of several frame axes); None when it holds a
    movie, or when it cannot be read (opening it tells why).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> movie, drift = os.path.join(folder, "m.npy"), os.path.join(folder, "drift.npy")
    >>> np.save(movie, np.zeros((5, 8, 8), np.uint16))
    >>> np.save(drift, np.zeros((500, 2)))
    >>> npy_left_out(movie) is None
    True
    >>> npy_left_out(drift)
    'a NumPy array (500, 2), not a movie (frames, height, width)'
    """
    try:
        header = read_npy_header(path)
    except (OSError, ValueError):
        return None
    return _not_a_movie(header)


class NpyMovie(MappedMovie):
    """A movie saved with ``numpy.save`` (see the module), read lazily from a memory map.

    Use :func:`smlmlp.loading.open_movie` to create one.
    """

    kind = "npy"
    what = "NumPy .npy"

    def _open(self) -> None:
        try:
            header = read_npy_header(self.path)
        except OSError as exc:
            raise self._corrupt(exc) from exc
        except ValueError as exc:
            raise ValueError(f"{self.label}: {exc}") from exc
        why = _not_a_movie(header)
        if why is not None:
            raise ValueError(f"{self.label}: {why}")
        shape = _frames_shape(header.shape)
        assert shape is not None
        need = header.offset + math.prod(header.shape) * header.dtype.itemsize
        size = os.path.getsize(self.path)
        if size < need:
            raise ValueError(
                f"{self.label}: truncated .npy file: an array {header.shape} of "
                f"{header.dtype.name} needs {need} bytes, the file has {size}"
            )
        self.shape = shape  # type: ignore[assignment]
        self.dtype = header.dtype
        if min(shape) > 0:
            order = "F" if header.fortran_order else "C"
            self._mapped = np.memmap(
                self.path, header.dtype, "r", header.offset, header.shape, order=order
            )
            self._frames = self._mapped.reshape(shape, order=order)  # (a view of the map)
