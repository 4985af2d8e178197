"""The PSF across the field of view: one estimate per tile of an NY x NX grid.

Aberrations widen the PSF towards the edges of a large field. The frames are cut
into equal tiles (``H // NY`` by ``W // NX`` pixels; the few rows and columns
left over at the bottom and right are not used), and every tile gets its own
block sums in the same pass over the movie (:func:`accumulate_field`): the
chunks are read once and the tiles' FFTs share the workers. Each tile's sums
give its PSF with standard errors (:func:`estimate_field`); their sum gives the
channel's PSF (:meth:`FieldSums.combined`), from the pixel pairs inside each
tile (the pairs across tile borders are left out, each tile correcting for its
own edges like a frame does).

How small a tile may be: the standard error tells. It grows as the tile's
blinking shrinks, about as ``1 / sqrt(tile area x frames)``; a tile must also
hold the autocorrelation crop (``crop_pix`` pixels per side).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from .block_sums import BlockSums, merge_sums
from .clipping import CLIPPING_ARRAYS, merge_clipping
from .estimate import estimate_parts
from .level import level_shares, window_products
from .spectra import ProgressCallback, accumulate_regions


def check_tiles(tiles: Any, name: str = "field_tiles") -> tuple[int, int]:
    """A checked ``(NY, NX)`` grid: two whole numbers >= 1.

    Examples
    --------
    >>> check_tiles([2, 3])
    (2, 3)
    >>> check_tiles(4)
    Traceback (most recent call last):
        ...
    ValueError: field_tiles: expected two numbers of tiles [NY, NX], got 4
    """
    try:
        values = list(tiles)
    except TypeError:
        values = []
    if len(values) != 2 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"{name}: expected two numbers of tiles [NY, NX], got {tiles!r}")
    if min(values) < 1:
        raise ValueError(f"{name}: numbers of tiles must be at least 1, got {tiles!r}")
    return int(values[0]), int(values[1])


def tile_edges(
    frame_shape: tuple[int, int], tiles: tuple[int, int], *, min_side: int = 1, name: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column edges of equal tiles, ``(NY + 1,)`` and ``(NX + 1,)``.

    Raises
    ------
    ValueError
        The tiles would be smaller than ``min_side`` (the crop).

    Examples
    --------
    >>> [e.tolist() for e in tile_edges((100, 64), (3, 2))]
    [[0, 33, 66, 99], [0, 32, 64]]
    """
    ny, nx = check_tiles(tiles)
    height, width = (int(v) for v in frame_shape)
    tile_height, tile_width = height // ny, width // nx
    if min(tile_height, tile_width) < max(1, min_side):
        prefix = f"{name}: " if name else ""
        raise ValueError(
            f"{prefix}tiles of {tile_height}x{tile_width} pixels ({ny}x{nx} tiles of "
            f"{height}x{width} frames) are smaller than the {min_side}x{min_side} crop; "
            "use fewer tiles or a smaller crop_pix"
        )
    return np.arange(ny + 1) * tile_height, np.arange(nx + 1) * tile_width


@dataclass(frozen=True)
class FieldSums:
    """Block sums of every tile of the field (plain data).

    Attributes
    ----------
    frame_shape : tuple of int
        ``(H, W)`` of the whole frames.
    row_edges, column_edges : ndarray of int
        Tile edges in pixels (``NY + 1`` and ``NX + 1``).
    tile_sums : tuple of BlockSums
        One per tile, row by row.
    """

    frame_shape: tuple[int, int]
    row_edges: np.ndarray
    column_edges: np.ndarray
    tile_sums: tuple[BlockSums, ...]

    @property
    def tiles(self) -> tuple[int, int]:
        """``(NY, NX)``."""
        return len(self.row_edges) - 1, len(self.column_edges) - 1

    @property
    def total_frames(self) -> int:
        """Frames summed."""
        return self.tile_sums[0].total_frames

    @property
    def block_frames(self) -> int:
        return self.tile_sums[0].block_frames

    @property
    def group_frames(self) -> int:
        return self.tile_sums[0].group_frames

    def centres_px(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of each tile's centre, in pixels of the frame."""
        rows = 0.5 * (self.row_edges[:-1] + self.row_edges[1:] - 1)
        columns = 0.5 * (self.column_edges[:-1] + self.column_edges[1:] - 1)
        return rows, columns

    def combined(self) -> BlockSums:
        """The channel's sums from all the tiles: their pixel pairs, each tile's edges.

        Examples
        --------
        >>> movie = np.random.default_rng(0).poisson(100, size=(40, 32, 32))
        >>> field = accumulate_field(movie, (2, 2), block_frames=10)
        >>> field.combined().frame_shape, field.combined().total_frames
        ((16, 16), 40)
        """
        first = self.tile_sums[0]
        count = len(self.tile_sums)
        clipping = merge_clipping(
            np.tile(np.arange(first.n_groups), count),
            first.n_groups,
            {
                name: np.concatenate([getattr(part, name) for part in self.tile_sums])
                for name in CLIPPING_ARRAYS
            },
        )
        return BlockSums(
            frame_shape=first.frame_shape,
            block_frames=first.block_frames,
            group_frames=first.group_frames,
            first_frames=first.first_frames,
            n_frames=first.n_frames,
            dof=first.dof,
            ac_sums=self._level_fitted_sums() / count,
            coverage_sums=_added(part.coverage_sums for part in self.tile_sums),
            **clipping,
            dropped_frames=first.dropped_frames,
            fiducials=sum(part.fiducials for part in self.tile_sums),
            masked_pixels=sum(part.masked_pixels for part in self.tile_sums),
        )

    def _level_fitted_sums(self) -> np.ndarray:
        """The tiles' ``ac_sums`` added, less each group's share of what follows each
        tile's mean levels (:func:`~smlmlp.level.level_shares`): the tiles' fits,
        each its own, kept when their sums are added (the shares of all the tiles at
        once, and added before their products: those are linear in them)."""
        first = self.tile_sums[0]
        shares = level_shares(
            np.stack([part.level_bins for part in self.tile_sums]),
            np.stack([part.level_spread for part in self.tile_sums]),
        ).sum(axis=0)
        total = _added(part.ac_sums for part in self.tile_sums)
        total -= window_products(shares, first.frame_shape, first.stored_crop)
        return total


def _added(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """The sum of arrays of one shape, added in order into one new array."""
    arrays = iter(arrays)
    total = np.array(next(arrays), dtype=np.float64)
    for array in arrays:
        total += array
    return total


def accumulate_field(
    stack: Any,
    tiles: Any,
    *,
    start: int = 0,
    stop: int | None = None,
    chunk_frames: int | None = None,
    block_frames: int | None = None,
    group_frames: int | None = None,
    time_windows: int = 1,
    min_side: int = 1,
    cuda: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    name: str = "channel 0",
    kept_crop: Any = None,
    fiducials: bool = True,
) -> FieldSums:
    """Block sums of every tile of an ``(NY, NX)`` grid, in one pass over the frames.

    The keywords are those of :func:`smlmlp.spectra.accumulate_spectrum`;
    ``min_side`` is the crop every tile must hold.
    """
    frame_shape = (int(stack.shape[1]), int(stack.shape[2]))
    rows, columns = tile_edges(frame_shape, tiles, min_side=min_side, name=name)
    regions = [
        (slice(int(top), int(bottom)), slice(int(left), int(right)))
        for top, bottom in zip(rows[:-1], rows[1:], strict=True)
        for left, right in zip(columns[:-1], columns[1:], strict=True)
    ]
    parts = accumulate_regions(
        stack,
        regions,
        start=start,
        stop=stop,
        chunk_frames=chunk_frames,
        block_frames=block_frames,
        group_frames=group_frames,
        time_windows=time_windows,
        cuda=cuda,
        workers=workers,
        progress=progress,
        name=name,
        kept_crop=kept_crop,
        fiducials=fiducials,
    )
    return FieldSums(frame_shape, rows, columns, tuple(parts))


def merge_field(parts: Iterable[FieldSums]) -> FieldSums:
    """Exact merge of the field sums of frame ranges of one movie, tile by tile."""
    parts = list(parts)
    if not parts:
        raise ValueError("merge_field: nothing to merge")
    first = parts[0]
    for other in parts[1:]:
        if other.frame_shape != first.frame_shape or not (
            np.array_equal(other.row_edges, first.row_edges)
            and np.array_equal(other.column_edges, first.column_edges)
        ):
            raise ValueError("cannot merge field sums of different frames or tiles")
    tiles = tuple(
        merge_sums(part.tile_sums[index] for part in parts) for index in range(len(first.tile_sums))
    )
    return FieldSums(first.frame_shape, first.row_edges, first.column_edges, tiles)


def estimate_field(
    field: FieldSums,
    crop_pix: Any,
    pixel_nm: tuple[float, float],
    *,
    name: str = "channel 0",
    start: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """PSF widths and standard errors of every tile, each fit from ``start``
    (:func:`smlmlp.estimate.fit_start` of the whole field's estimate).

    Returns
    -------
    dict of str to ndarray
        ``sigx_nm``, ``sigy_nm``, ``theta_deg``, ``psf_sigma_nm`` and their
        ``*_se``, each ``(NY, NX)`` (NaN where no PSF was found; one
        ``RuntimeWarning`` names those tiles); ``valid`` (1 where a PSF was
        found); ``row_centre_px`` ``(NY,)`` and ``column_centre_px`` ``(NX,)``.

    Examples
    --------
    >>> from smlmlp.simulation import simulate_movie
    >>> movie, _ = simulate_movie(400, (64, 64), sigx_nm=130.0, seed=4)
    >>> field = accumulate_field(movie, (2, 2), min_side=21)
    >>> tiles = estimate_field(field, 21, (100.0, 100.0))
    >>> tiles["psf_sigma_nm"].shape, tiles["row_centre_px"].tolist()
    ((2, 2), [15.5, 47.5])
    >>> bool(np.all(np.abs(tiles["psf_sigma_nm"] / 130.0 - 1) < 0.05))
    True
    """
    ny, nx = field.tiles
    names = [f"{name}, tile ({i // nx}, {i % nx})" for i in range(ny * nx)]
    flat, estimates = estimate_parts(
        list(zip(field.tile_sums, names, strict=True)), crop_pix, pixel_nm, start=start
    )
    values = {key: array.reshape(ny, nx) for key, array in flat.items()}
    valid = np.array([e.valid for e in estimates], np.int8).reshape(ny, nx)
    empty = [f"({i // nx}, {i % nx})" for i, e in enumerate(estimates) if not e.valid]
    if empty:
        warnings.warn(
            f"{name}: no PSF found in tile(s) {', '.join(empty)} (row, column); "
            "their widths are NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    row_centres, column_centres = field.centres_px()
    return {
        **values,
        "valid": valid,
        "row_centre_px": row_centres,
        "column_centre_px": column_centres,
    }
