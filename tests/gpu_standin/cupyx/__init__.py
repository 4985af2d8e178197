"""``cupyx`` of the stand-in: pinned host memory (plain NumPy arrays on the CPU)."""

from __future__ import annotations

from typing import Any

import numpy as _np

#: Pinned buffers handed out (tests check that they are reused, not made per chunk).
pinned_allocations = {"count": 0, "bytes": 0}


def empty_pinned(shape: Any, dtype: Any = float, order: str = "C") -> _np.ndarray:
    """A host array in page-locked memory (here: an ordinary NumPy array)."""
    array = _np.empty(shape, dtype=dtype, order=order)
    pinned_allocations["count"] += 1
    pinned_allocations["bytes"] += array.nbytes
    return array


def zeros_pinned(shape: Any, dtype: Any = float, order: str = "C") -> _np.ndarray:
    array = empty_pinned(shape, dtype, order)
    array.fill(0)
    return array
