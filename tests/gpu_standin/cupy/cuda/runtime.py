"""``cupy.cuda.runtime`` of the stand-in; the device memory is set by tests."""

from __future__ import annotations

from typing import Any

#: (free, total) bytes the stand-in device reports; tests change it.
memory = {"free": 8 * 2**30, "total": 16 * 2**30}
NAME = "CuPy stand-in (NumPy on the CPU)"


class CUDARuntimeError(RuntimeError):
    pass


def getDeviceCount() -> int:  # noqa: N802 (CUDA's name)
    return 1


def getDevice() -> int:  # noqa: N802
    return 0


def getDeviceProperties(device: int) -> dict[str, Any]:  # noqa: N802
    if device != 0:
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
    return {"name": NAME.encode(), "totalGlobalMem": memory["total"], "major": 9, "minor": 0}


def memGetInfo() -> tuple[int, int]:  # noqa: N802
    return int(memory["free"]), int(memory["total"])


def runtimeGetVersion() -> int:  # noqa: N802
    return 13000


def driverGetVersion() -> int:  # noqa: N802
    return 13000
