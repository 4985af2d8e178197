"""``cupy.cuda`` of the stand-in: one device, streams, events (no-ops on the CPU)."""

from __future__ import annotations

import threading
from typing import Any

from . import runtime


def is_available() -> bool:
    return True


class Event:
    """A CUDA event: recorded on a stream; the CPU has finished by then."""

    def __init__(
        self, block: bool = False, disable_timing: bool = False, interprocess: bool = False
    ) -> None:
        self.recorded = False

    def record(self, stream: Any = None) -> None:
        self.recorded = True

    def synchronize(self) -> None:
        return None

    def query(self) -> bool:
        return True

    @property
    def done(self) -> bool:
        return True


_current = threading.local()


class Stream:
    """A CUDA stream; ``with stream:`` makes it the current one."""

    null: Stream

    def __init__(self, null: bool = False, non_blocking: bool = False, ptr: int = 0) -> None:
        self.ptr = 0 if null else id(self)
        self.waited: list[Event] = []

    def __enter__(self) -> Stream:
        stack = getattr(_current, "stack", [])
        stack.append(self)
        _current.stack = stack
        return self

    def __exit__(self, *exc: Any) -> None:
        _current.stack.pop()

    def synchronize(self) -> None:
        return None

    def wait_event(self, event: Event) -> None:
        if not isinstance(event, Event):
            raise TypeError(f"wait_event takes an Event, got {type(event)}")
        self.waited.append(event)
        del self.waited[:-4]

    def record(self, event: Event | None = None) -> Event:
        event = event or Event()
        event.record(self)
        return event

    def use(self) -> Stream:
        _current.stack = [self]
        return self


Stream.null = Stream(null=True)


def get_current_stream() -> Stream:
    stack = getattr(_current, "stack", [])
    return stack[-1] if stack else Stream.null


class Device:
    """Device 0, the only one."""

    def __init__(self, device: int | None = None) -> None:
        self.id = int(device or 0)
        if self.id >= runtime.getDeviceCount():
            raise runtime.CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def use(self) -> None:
        return None

    def synchronize(self) -> None:
        return None

    @property
    def mem_info(self) -> tuple[int, int]:
        return runtime.memGetInfo()

    @property
    def compute_capability(self) -> str:
        return "90"


__all__ = ["Device", "Event", "Stream", "get_current_stream", "is_available", "runtime"]
