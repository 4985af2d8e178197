"""Lazy reading of raw single-molecule movies.

The PSF measurement reads a movie chunk by chunk, so a movie never has to fit in
memory. This module provides the objects that are sliced along the frame axis:

* :func:`open_movie` opens a movie file of any supported format (a TIFF file or
  series, :class:`smlmlp.tiff_movie.TiffMovie`; the other formats,
  :mod:`smlmlp.formats`), or a list of files concatenated in order. Slicing
  ``movie[a:b]`` reads frames ``a`` to ``b - 1`` from disk and nothing else;
  :func:`list_channels` names the channels of a file of several.
* :func:`split_movie` cuts a movie that holds two camera channels side by side
  into two lazy halves.
* :func:`check_stack` validates any frame stack before the core uses it, and
  :func:`iter_chunks` walks a stack in chunks of frames (both from
  :mod:`smlmlp.stacks`).

A "stack" is any object with ``.shape == (n_frames, height, width)``, ``.ndim``,
``.dtype`` and ``obj[a:b]`` returning an ndarray of frames: numpy arrays,
``np.memmap``, h5py datasets, :class:`TiffMovie` and :class:`SplitView`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .movie_series import sequence_of
from .stacks import (
    LazyStack,
    check_channels,
    check_frame_count,
    check_stack,
    iter_chunks,
)
from .tiff_movie import TiffMovie, tiff_may_hold_channels, tiff_series_layout

if TYPE_CHECKING:
    from .formats import MovieFile

__all__ = [  # the stack checks and the TIFF reader are re-exported from their modules
    "HALF_NAMES",
    "SplitView",
    "TiffMovie",
    "check_channels",
    "check_frame_count",
    "check_stack",
    "iter_chunks",
    "list_channels",
    "open_movie",
    "split_movie",
    "tiff_series_layout",
]

PathLike = str | os.PathLike



def open_movie(
    path: PathLike | Sequence[PathLike],
    *,
    name: str | None = None,
    channel: int | str | None = None,
) -> TiffMovie | MovieFile:
    """Open a movie for lazy, chunked reading.

    The reader follows the file's extension: ``.dax`` (with its ``.inf``), Picasso
    ``.raw`` (with its ``.yaml``), ``.ims``, ``.zarr`` (OME-Zarr), ``.czi``, ``.nd2``,
    ``.lif``, ``.lof``, ``.sif``, an Andor spooled series (``.sifx``), ``.spe``, HDF5 stacks
    (``.h5``, ``.hdf5``), NumPy stacks (``.npy``), Hamamatsu ``.dcimg`` and HCImage
    ``.cxd`` are read by
    :mod:`smlmlp.formats`, whose readers behave as described here for TIFF (lazy
    slicing, ``metadata``, ``paths``, a context manager); every other file is read as
    TIFF.

    Supported: plain multi-page TIFF, BigTIFF, ImageJ hyperstacks, OME-TIFF, MetaMorph
    ``.stk`` stacks, compressed TIFF of any codec tifffile decodes (with imagecodecs),
    and OME series spread over several files (Micro-Manager, Bio-Formats): open
    the first file, its OME-XML lists the others. An image sequence, one TIFF file
    per frame (:func:`smlmlp.movie_series.frame_sequences`: 100 files or more of one
    image each, named alike but for the frame number), is opened whole from any of
    its files (:class:`smlmlp.tiff_sequence.TiffSequenceMovie`). A list of paths
    concatenates the files in order (for file series without OME links). The first image
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
        sequence = sequence_of(path)
        if sequence is not None:
            from .tiff_sequence import TiffSequenceMovie

            return TiffSequenceMovie(sequence.files, name=name, channel=channel)
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
    if single and not tiff_may_hold_channels(path):
        return ()  # the first page says so: no need to index every page of a long movie
    with open_movie(path, channel=0) as movie:
        return tuple(movie.channel_names)


# --------------------------------------------------------------------------- #
# Two camera channels in one frame
# --------------------------------------------------------------------------- #


class SplitView(LazyStack):
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
