"""Chunks of a stack read one ahead of their consumer, in a background thread.

A streaming pass over a movie alternates between reading frames (file I/O,
TIFF decoding) and computing with them (filters, FFTs, sums). Both release the
GIL for most of their time, so :func:`prefetch_chunks` overlaps them: while the
consumer works on one chunk, a single background thread reads the next one.
:func:`chunk_bounds` gives the usual list of ``(start, stop)`` frame bounds.

Memory: besides the chunk the consumer holds, at most one chunk is being read
and one is waiting to be returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .backend import is_device_array
from .stacks import _positive_int

__all__ = ["THREAD_NAME_PREFIX", "chunk_bounds", "prefetch_chunks"]

#: Name prefix of the reader threads (``threading.enumerate()`` shows them).
THREAD_NAME_PREFIX = "smlmlp-prefetch"


def chunk_bounds(n_frames: int, chunk_frames: int, *, start: int = 0) -> list[tuple[int, int]]:
    """``(start, stop)`` bounds of consecutive chunks of frames ``start .. n_frames - 1``.

    Parameters
    ----------
    n_frames : int
        Frames of the stack (the last bound stops there).
    chunk_frames : int
        Maximum frames per chunk (at least 1); the last chunk may be shorter.
    start : int, optional
        First frame (default 0).

    Raises
    ------
    TypeError
        If ``chunk_frames`` is not an integer.
    ValueError
        If ``chunk_frames < 1`` or ``start`` is outside ``0 .. n_frames``.

    Examples
    --------
    >>> chunk_bounds(10, 4)
    [(0, 4), (4, 8), (8, 10)]
    >>> chunk_bounds(10, 4, start=7), chunk_bounds(0, 4)
    ([(7, 10)], [])
    """
    chunk_frames = _positive_int(chunk_frames, "chunk_frames")
    n_frames, start = int(n_frames), int(start)
    if not 0 <= start <= n_frames:
        raise ValueError(f"start={start} is outside the {n_frames} frames of the stack")
    return [(a, min(a + chunk_frames, n_frames)) for a in range(start, n_frames, chunk_frames)]


def prefetch_chunks(stack: Any, bounds: Iterable[tuple[int, int]]) -> Iterator[np.ndarray]:
    """Yield ``np.asarray(stack[a:b])`` for each ``(a, b)`` of ``bounds``, read one ahead.

    The first chunk is read when the first one is asked for; from then on,
    while the consumer works on chunk ``k``, one background thread reads chunk
    ``k + 1``. The chunks come in the order of ``bounds`` (any bounds, not
    necessarily consecutive).

    An exception raised while reading a chunk is raised to the consumer when it
    asks for that chunk (the chunks before it are delivered first), and nothing
    more is read. When the consumer stops early (``break``, an exception in its
    loop, or ``close()`` on the iterator) the read in flight is waited for, its
    result discarded, and the thread ends: no thread outlives the iteration.
    CPython closes a generator as soon as its loop lets go of it; wrap it in
    :func:`contextlib.closing` to close it at a fixed point regardless.

    Parameters
    ----------
    stack : array-like
        Anything with frame slicing ``stack[a:b]`` (ndarray, memmap,
        :class:`smlmlp.loading.TiffMovie`, :class:`smlmlp.loading.SplitView`).
        It is sliced from the background thread, one slice at a time.
    bounds : iterable of (int, int)
        Frame bounds of the chunks, e.g. from :func:`chunk_bounds`.

    Yields
    ------
    numpy.ndarray
        The frames ``a .. b - 1`` of each bound; for a stack in GPU memory (a
        CuPy array) its slices, without a thread.

    Examples
    --------
    >>> movie = np.arange(5)[:, None, None] * np.ones((1, 2, 2), int)  # frame k is all k
    >>> [chunk[:, 0, 0].tolist() for chunk in prefetch_chunks(movie, chunk_bounds(5, 2))]
    [[0, 1], [2, 3], [4]]
    """
    bounds = [(int(a), int(b)) for a, b in bounds]
    if not bounds:
        return
    if is_device_array(stack):  # frames already in GPU memory: views, nothing to read
        for a, b in bounds:
            yield stack[a:b]
        return

    def read(bound: tuple[int, int]) -> np.ndarray:
        return np.asarray(stack[bound[0] : bound[1]])

    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME_PREFIX)
    try:
        pending = reader.submit(read, bounds[0])
        for index in range(len(bounds)):
            chunk = pending.result()
            if index + 1 < len(bounds):
                pending = reader.submit(read, bounds[index + 1])
            yield chunk
            del chunk
    finally:
        # runs on exhaustion, on an error and on close() (GeneratorExit at the yield)
        reader.shutdown(wait=True, cancel_futures=True)
