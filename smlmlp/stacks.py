"""Stacks of frames: what every one shares, whatever holds it.

A "stack" is any object with ``.shape == (n_frames, height, width)``, ``.ndim``,
``.dtype`` and ``obj[a:b]`` returning an ndarray of frames: numpy arrays,
``np.memmap``, h5py datasets and the lazily read movies (:class:`LazyStack`: the
TIFF reader, the other formats' readers, the halves of a split movie).

* :func:`check_stack`, :func:`check_channels`, :func:`check_frame_count` validate
  stacks before the core uses them, one message per problem.
* :func:`iter_chunks` walks a stack in chunks of frames.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .backend import is_device_array
from .block_sums import MIN_BLOCK_FRAMES, check_crop_fits

__all__ = ["LazyStack", "check_channels", "check_frame_count", "check_stack", "iter_chunks"]


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
    if isinstance(obj, str | os.PathLike):
        raise TypeError(
            f"{name}: {os.fspath(obj)!r} is a path, not a stack of frames; open the movie "
            "with smlmlp.loading.open_movie(path) (read lazily, in chunks) and pass that"
        )
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
        if min_side > 1:
            check_crop_fits(stack.shape[1:], min_side, name)
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




class LazyStack:
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
