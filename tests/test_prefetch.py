"""The chunk prefetcher: order, read-ahead, early stop, errors, no thread left behind."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np
import pytest

from smlmlp.prefetch import THREAD_NAME_PREFIX, chunk_bounds, prefetch_chunks


class RecordingStack:
    """A stack that records the slices read (and the thread reading them)."""

    def __init__(self, n_frames: int = 20, fail_at: int | None = None) -> None:
        self.data = np.arange(n_frames * 2 * 3, dtype=np.uint16).reshape(n_frames, 2, 3)
        self.shape = self.data.shape
        self.fail_at = fail_at
        self.reads: list[tuple[int, int]] = []
        self.threads: set[str] = set()
        self.read_event = threading.Event()
        self.lock = threading.Lock()

    def __getitem__(self, index: slice) -> np.ndarray:
        with self.lock:
            self.reads.append((index.start, index.stop))
            self.threads.add(threading.current_thread().name)
        self.read_event.set()
        if self.fail_at is not None and index.start == self.fail_at:
            raise OSError(f"cannot read frame {index.start}")
        return self.data[index]


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME_PREFIX)]


@pytest.fixture(autouse=True)
def _no_reader_thread_left() -> Any:
    assert not _reader_threads()
    yield
    assert not _reader_threads(), "a prefetch thread outlived its iteration"


def test_chunk_bounds() -> None:
    assert chunk_bounds(10, 3) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert chunk_bounds(10, 3, start=4) == [(4, 7), (7, 10)]
    assert chunk_bounds(10, 10) == chunk_bounds(10, 99) == [(0, 10)]
    assert chunk_bounds(0, 5) == chunk_bounds(7, 2, start=7) == []
    with pytest.raises(ValueError, match="chunk_frames must be at least 1"):
        chunk_bounds(10, 0)
    with pytest.raises(TypeError, match="chunk_frames must be an integer"):
        chunk_bounds(10, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside"):
        chunk_bounds(10, 2, start=11)


def test_chunks_in_order_of_the_bounds() -> None:
    stack = RecordingStack(20)
    bounds = chunk_bounds(20, 6)
    chunks = list(prefetch_chunks(stack, bounds))
    assert [c.shape[0] for c in chunks] == [6, 6, 6, 2]
    np.testing.assert_array_equal(np.concatenate(chunks), stack.data)
    assert all(isinstance(c, np.ndarray) for c in chunks)
    assert stack.reads == bounds
    # the reads happen in the background thread, not in the consumer's
    assert stack.threads and all(n.startswith(THREAD_NAME_PREFIX) for n in stack.threads)
    # any bounds, in any order
    odd = [(10, 12), (0, 3), (15, 20), (3, 3)]
    for (a, b), chunk in zip(odd, prefetch_chunks(stack, odd), strict=True):
        np.testing.assert_array_equal(chunk, stack.data[a:b])


def test_nothing_read_before_the_first_chunk_is_asked_for() -> None:
    stack = RecordingStack(10)
    assert list(prefetch_chunks(stack, [])) == []
    chunks = prefetch_chunks(stack, chunk_bounds(10, 5))
    assert stack.reads == [] and not _reader_threads()
    chunks.close()
    assert stack.reads == []


def test_next_chunk_read_while_the_consumer_works() -> None:
    stack = RecordingStack(20)
    chunks = prefetch_chunks(stack, chunk_bounds(20, 5))
    first = next(chunks)
    np.testing.assert_array_equal(first, stack.data[:5])
    # the consumer still holds chunk 0: chunk 1 is read meanwhile, and nothing beyond
    for _ in range(100):
        if len(stack.reads) == 2:
            break
        stack.read_event.wait(0.05)
        stack.read_event.clear()
    assert stack.reads == [(0, 5), (5, 10)]
    chunks.close()
    assert stack.reads == [(0, 5), (5, 10)]


def test_early_stop_ends_the_thread() -> None:
    stack = RecordingStack(40)
    seen = 0
    for chunk in prefetch_chunks(stack, chunk_bounds(40, 4)):
        seen += len(chunk)
        if seen >= 8:
            break
    # two chunks consumed, at most one more was read ahead; the fixture checks the thread
    assert seen == 8 and len(stack.reads) <= 3


def test_error_in_the_consumer_ends_the_thread() -> None:
    stack = RecordingStack(40)
    with (
        pytest.raises(RuntimeError, match="consumer failed"),
        contextlib.closing(prefetch_chunks(stack, chunk_bounds(40, 4))) as chunks,
    ):
        for index, _ in enumerate(chunks):
            if index == 2:
                raise RuntimeError("consumer failed")
    assert len(stack.reads) <= 4


def test_error_in_the_consumer_without_closing() -> None:
    """A plain for loop lets go of the generator, which CPython closes at once."""
    stack = RecordingStack(40)

    def consume() -> None:
        for index, _ in enumerate(prefetch_chunks(stack, chunk_bounds(40, 4))):
            if index == 1:
                raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError, match="consumer failed"):
        consume()
    assert len(stack.reads) <= 3


def test_read_error_reaches_the_consumer_after_the_chunks_before_it() -> None:
    stack = RecordingStack(20, fail_at=10)
    received = []
    with pytest.raises(OSError, match="cannot read frame 10"):
        for chunk in prefetch_chunks(stack, chunk_bounds(20, 5)):
            received.append(chunk)
    assert len(received) == 2
    np.testing.assert_array_equal(np.concatenate(received), stack.data[:10])
    assert stack.reads == [(0, 5), (5, 10), (10, 15)]  # nothing read after the failure


def test_read_error_in_the_first_chunk() -> None:
    stack = RecordingStack(20, fail_at=0)
    chunks = prefetch_chunks(stack, chunk_bounds(20, 5))
    with pytest.raises(OSError, match="cannot read frame 0"):
        next(chunks)
    assert list(chunks) == []  # finished
    assert stack.reads == [(0, 5)]
