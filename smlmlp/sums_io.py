"""Block sums on disk: one ``.npz`` file per channel (or frame range of a channel).

The file holds the :class:`smlmlp.block_sums.BlockSums` arrays under their own names
plus ``format_version``; the sums of the tiles of a field
(:class:`smlmlp.field_tiles.FieldSums`) are stacked along a first axis, with the
tile edges beside them. It is written whole or not at all, with the file mode
the umask gives, and read back with one clear error naming the file when it is
not such a file.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .block_sums import BlockSums
from .clipping import CLIPPING_ARRAYS
from .field_tiles import FieldSums

#: Version of the file layout written; other versions are refused. Version 4: the
#: sums leave out each frame's mean level (:mod:`smlmlp.block_sums`), which earlier
#: versions kept; version 5 adds the spectra's lowest frequencies weighted by the mean
#: levels of the frames' halves (``level_bins``, ``level_spread``; read as zeros from
#: version 4: nothing fitted by them).
FORMAT_VERSION = 5
_READABLE_VERSIONS = (4, 5)
_ARRAYS = ("first_frames", "n_frames", "dof", "ac_sums")
#: Read when present (files written before them: no coverage, no search for clipping,
#: no count of dropped frames).
_OPTIONAL_ARRAYS = (
    "coverage_sums",
    *CLIPPING_ARRAYS,
    "dropped_frames",
    "level_bins",
    "level_spread",
)
#: Numbers of the sums read when present (files written before them: none).
_OPTIONAL_NUMBERS = ("fiducials", "masked_pixels")


def save_sums(sums: BlockSums | FieldSums, path: str | os.PathLike[str]) -> None:
    """Write ``sums`` to ``path`` (``.npz``), whole or not at all.

    Examples
    --------
    >>> import tempfile
    >>> from smlmlp.spectra import accumulate_spectrum
    >>> movie = np.random.default_rng(0).poisson(30, size=(40, 16, 16))
    >>> sums = accumulate_spectrum(movie, block_frames=10)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_sums(sums, Path(folder) / "sums.npz")
    ...     back = load_sums(Path(folder) / "sums.npz")
    >>> bool(np.array_equal(back.ac_sums, sums.ac_sums)), back.block_frames
    (True, 10)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = _ARRAYS + _OPTIONAL_ARRAYS + _OPTIONAL_NUMBERS
    if isinstance(sums, FieldSums):
        parts = sums.tile_sums
        extra = {
            "field_frame_shape": np.array(sums.frame_shape),
            "row_edges": sums.row_edges,
            "column_edges": sums.column_edges,
        }
        arrays = {name: np.stack([getattr(p, name) for p in parts]) for name in names}
    else:
        parts, extra = (sums,), {}
        arrays = {name: getattr(sums, name) for name in names}
    with atomic_path(path) as part, open(part, "wb") as stream:
        np.savez(
            stream,
            format_version=np.array(FORMAT_VERSION),
            frame_shape=np.array(parts[0].frame_shape),
            block_frames=np.array(parts[0].block_frames),
            group_frames=np.array(parts[0].group_frames),
            **extra,
            **arrays,
        )


def load_sums(path: str | os.PathLike[str]) -> BlockSums | FieldSums:
    """Read block sums (or field sums) written by :func:`save_sums`.

    Raises
    ------
    ValueError
        Naming ``path``: not readable, not such a file, or of another version.
    """
    try:
        with np.load(path) as data:
            version = int(data["format_version"])
            if version not in _READABLE_VERSIONS:
                raise ValueError(
                    f"block sums of format {version}, this version reads {FORMAT_VERSION} "
                    "(delete the file to compute it again)"
                )
            common = {
                "frame_shape": tuple(int(v) for v in data["frame_shape"]),
                "block_frames": int(data["block_frames"]),
                "group_frames": int(data["group_frames"]),
            }
            arrays = {name: np.array(data[name]) for name in _ARRAYS}
            optional = _OPTIONAL_ARRAYS + _OPTIONAL_NUMBERS
            arrays.update({name: np.array(data[name]) for name in optional if name in data})
            if "row_edges" not in data:
                return _checked(BlockSums(**common, **arrays), path)
            count = len(arrays["ac_sums"])
            tiles = tuple(
                _checked(BlockSums(**common, **{k: v[i] for k, v in arrays.items()}), path)
                for i in range(count)
            )
            field = FieldSums(
                frame_shape=tuple(int(v) for v in data["field_frame_shape"]),
                row_edges=np.array(data["row_edges"]),
                column_edges=np.array(data["column_edges"]),
                tile_sums=tiles,
            )
            ny, nx = field.tiles
            if ny * nx != count:
                raise ValueError(f"{count} tiles for a {ny}x{nx} grid")
            return field
    except (KeyError, OSError, ValueError, EOFError, IndexError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not readable block sums ({error})") from error


def _checked(sums: BlockSums, path: str | os.PathLike[str]) -> BlockSums:
    groups = len(sums.n_frames)
    if not (
        sums.first_frames.shape == sums.dof.shape == (groups,)
        and sums.ac_sums.ndim == 3
        and len(sums.ac_sums) == groups
        and sums.coverage_sums.shape == sums.ac_sums.shape
        and all(
            getattr(sums, name).shape == (groups,) for name in (*CLIPPING_ARRAYS, "dropped_frames")
        )
        and sums.level_spread.shape == (groups, 3)
        and sums.level_bins.shape[:2] == (groups, 4)
    ):
        raise ValueError("inconsistent array shapes")
    return sums
