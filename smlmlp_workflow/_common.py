"""Small helpers shared by the workflow modules: the path type, JSON-safe values, paths in logs."""

from __future__ import annotations

import json
import os
from typing import Any

PathLike = str | os.PathLike[str]


def _plain(value: Any) -> Any:
    """JSON/YAML-safe copy (tuples to lists, NumPy scalars to Python)."""
    return json.loads(json.dumps(value, default=lambda v: getattr(v, "tolist", lambda: str(v))()))


def _display_path(path: PathLike) -> str:
    """A path relative to the working directory when it lies below it."""
    path = os.path.abspath(path)
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative
