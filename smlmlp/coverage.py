"""The blinking's share of each lag's pixel pairs, and the local mean level given back.

The autocorrelation of frames less their mean level, taken circularly, pairs pixels
across the frame's edges, and over parts of the field that hold no blinking. Some
blocks of the pass sum a blinking map on the pixel corners (products of diagonal
neighbours' fluctuations, free of white and of row- or column-correlated noise),
kept only as what the crops need of it (:func:`add_to_edges`, :func:`edge_shape`):
:func:`coverage_from_edges` (or :func:`coverage_crop` from a whole map) gives the
blinking held by the pixel pairs inside the frame at each lag of a crop, and
:func:`pair_fraction` that as a fraction of the blinking, by which the crops are
divided. :func:`with_local_mean` gives back what the frames' mean levels held of the
local blinking and noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import array_module

if TYPE_CHECKING:
    from .holes import MapHoles


def with_local_mean(products: np.ndarray, fraction: np.ndarray, area: int) -> np.ndarray:
    """Autocorrelation crops from the circular products per pixel, the local share of
    the frames' mean levels given back, divided by the pair fractions.

    The sums leave out each frame's mean level (the power at zero frequency),
    which adds ``-P0 / area`` to the circular products at every lag, ``P0`` that
    power. What is local (the blinking of emitters, white and row- or
    column-correlated noise) pairs pixels only at the lags of the crop, so its
    ``P0`` is the sum over those lags of the products it keeps: with ``K`` lags
    summed, ``P0 = sum_K (products) / (1 - K / area)``. That is added back; a
    fluctuation shared by the whole frame stays out. ``K`` is the crop, or its
    centre when the crop holds more than half the frame's lags (the sum over every
    lag of the frame is zero, and tells nothing). Then each lag is divided by the
    fraction of the blinking its pixel pairs hold.

    Parameters
    ----------
    products : ndarray
        ``(..., S, S)`` circular products of fluctuations less their mean level,
        per pixel of the frame and degree of freedom (not yet divided by
        ``fraction``).
    fraction : ndarray
        The crops' pair fractions (:func:`pair_fraction`), broadcast to ``products``.
    area : int
        Pixels per frame.

    Examples
    --------
    White noise of variance 0.91 in a frame of 100 pixels: its frame mean took
    0.91 / 100 from every lag (every fraction 1), given back:

    >>> crop = np.full((3, 3), -0.0091)
    >>> crop[1, 1] += 0.91
    >>> with_local_mean(crop, np.ones((3, 3)), 100).round(12).tolist()[1]
    [0.0, 0.91, 0.0]
    """
    size = int(products.shape[-1])
    kept = _local_side(size, area)
    trim = (size - kept) // 2
    inner = (..., slice(trim, trim + kept), slice(trim, trim + kept))
    local = products[inner].sum(axis=(-2, -1), keepdims=True) / (area - kept * kept)
    return (products + local) / fraction


def _local_side(size: int, area: int) -> int:
    """The side of the centre of a ``size`` crop whose lags :func:`with_local_mean`
    sums: the crop, or less when it holds more than half the frame's lags."""
    kept = size
    while kept > 1 and 2 * kept * kept > area:
        kept -= 2
    return kept


def local_lags(size: int, area: int) -> tuple[int, tuple]:
    """The side of the centre of a ``size`` crop whose lags :func:`with_local_mean`
    sums, and the index of those lags in a flattened ``(size, size)`` crop's last
    axis."""
    kept = _local_side(size, area)
    trim = (size - kept) // 2
    lags = np.arange(trim, trim + kept)
    return kept, (..., (lags[:, None] * size + lags[None, :]).reshape(-1))


def pair_fraction(
    coverage: np.ndarray,
    frame_shape: tuple[int, int],
    *,
    inverse: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Fraction of the blinking that each lag's pixel pairs inside the frame hold.

    ``coverage / coverage[centre]`` when that is a plausible fraction (in (0, 1.2]
    everywhere: the measurement holds blinking), else the fraction for blinking
    filling the frame, ``(1 - |ly| / H) (1 - |lx| / W)``. Leading axes of
    ``coverage`` are a stack of crops, each judged on its own. ``inverse``: its
    inverse instead (what the crops are multiplied by), by the same rule; into
    ``out`` when given (``coverage`` itself may be it).

    Examples
    --------
    >>> pair_fraction(np.zeros((3, 3)), (10, 20))[0].tolist()
    [0.855, 0.9, 0.855]
    >>> stack = np.stack([np.zeros((3, 3)), np.full((3, 3), 2.0)])
    >>> pair_fraction(stack, (10, 20))[:, 0, 0].tolist()
    [0.855, 1.0]
    >>> pair_fraction(stack, (10, 20), inverse=True)[:, 1, 1].tolist()
    [1.0, 1.0]
    """
    coverage = np.asarray(coverage, dtype=np.float64)
    size = coverage.shape[-1]
    lags = np.arange(size) - size // 2
    filled = np.outer(1.0 - np.abs(lags) / frame_shape[0], 1.0 - np.abs(lags) / frame_shape[1])
    centre = coverage[..., size // 2, size // 2].copy()  # coverage may be overwritten
    # over a positive, finite centre the fractions lie in (0, 1.2] where the coverage
    # lies in (0, 1.2 centre] (a NaN anywhere makes both extremes NaN)
    with np.errstate(invalid="ignore", over="ignore"):
        plausible = (
            (centre > 0.0)
            & np.isfinite(centre)
            & (coverage.min(axis=(-2, -1)) > 0.0)
            & (coverage.max(axis=(-2, -1)) <= 1.2 * centre)
        )
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        if inverse:
            measured = np.divide(centre[..., None, None], coverage, out=out)
            filled = 1.0 / filled
        else:
            measured = np.divide(coverage, centre[..., None, None], out=out)
    measured[~plausible] = filled  # the crops not measured, mostly none
    return measured


def coverage_crop(density: np.ndarray, frame_shape: tuple[int, int], size: int) -> np.ndarray:
    """Blinking held by the pixel pairs inside the frame, at each lag of a crop.

    Parameters
    ----------
    density : ndarray
        ``(H - 1, W - 1)`` map of the local blinking, on the pixel corners: the
        summed products of block fluctuations of diagonal neighbours (free of
        white and of row- or column-correlated camera noise). A CuPy array gives
        a CuPy result.
    frame_shape : tuple of int
        ``(H, W)``.
    size : int
        Odd crop side.

    Returns
    -------
    ndarray
        ``(size, size)``: for the lag ``l``, half the density summed over the
        first pixels of the pairs ``(r, r + l)`` inside the frame plus half the
        density summed over their second pixels (symmetric in ``l``).

    Examples
    --------
    >>> crop = coverage_crop(np.ones((9, 9)), (10, 10), 3)
    >>> crop[1].tolist()
    [72.0, 81.0, 72.0]
    """
    rows = int(density.shape[-2])
    edges = array_module(density).zeros(edge_shape(density.shape, size))
    add_to_edges(edges, density, 0, rows)
    return coverage_from_edges(edges, rows, size)


def edge_shape(
    density_shape: tuple[int, ...], size: int, holes: MapHoles | None = None
) -> tuple[int, ...]:
    """Shape of the edges (:func:`add_to_edges`) of a blinking map of ``density_shape``
    ``(..., R, C)`` for crops of side ``size``: ``(..., 2 k + 1, C)``,
    ``k = min(size // 2, R)``, and with ``holes`` (:class:`smlmlp.holes.MapHoles`) the
    rows of their boxes' values after these."""
    *leading, rows, columns = (int(n) for n in density_shape)
    extra = 0 if holes is None else holes.rows
    return (*leading, 2 * min(size // 2, rows) + 1 + extra, columns)


def add_to_edges(
    edges: Any, band: Any, first_row: int, rows: int, holes: MapHoles | None = None
) -> None:
    """``edges +=`` what the coverage crops need of the rows ``first_row ..`` of a
    blinking map of ``rows`` rows (``band``; the map's other rows taken as zero).

    A map of ``R`` rows enters a crop of side ``S`` (:func:`coverage_from_edges`)
    only through its first and last ``k = min(S // 2, R)`` rows and the sum of all
    its rows; ``edges`` holds these (``(..., 2 k + 1, C)``, :func:`edge_shape`): a
    few rows however large the frame. Edges add up like the maps themselves, so a
    group sums its blocks' edges instead of their maps. With ``holes``, the rows
    after these hold what the holes' boxes need of the map (:meth:`MapHoles.add`).
    """
    if holes is not None:
        holes.add(edges[..., -holes.rows :, :], band, first_row)
        edges = edges[..., : -holes.rows, :]
    k = (int(edges.shape[-2]) - 1) // 2
    first, stop = int(first_row), int(first_row) + int(band.shape[-2])
    head_stop = min(stop, k)
    if first < head_stop:
        edges[..., first:head_stop, :] += band[..., : head_stop - first, :]
    tail_first = max(first, rows - k)
    if tail_first < stop:
        into = tail_first - (rows - k)
        edges[..., k + into : k + into + stop - tail_first, :] += band[..., tail_first - first :, :]
    edges[..., 2 * k, :] += band.sum(axis=-2)


def coverage_from_edges(
    edges: Any, rows: int, size: int, holes: MapHoles | None = None, regions: range | None = None
) -> Any:
    """:func:`coverage_crop` of a blinking map of ``rows`` rows from its edges
    (:func:`add_to_edges`); with ``holes``, each lag's share of the blinking whose
    pairs reach into them (:meth:`MapHoles.lost` over the centre) taken off in
    proportion (``regions``: those of the map's regions the edges hold, all by
    default). The share is counted on the pixels, the pairs inside the frame on
    the corners, so it is taken off in proportion rather than as a count of pairs
    (``tests/test_fiducials.py`` holds a movie with a seventh of its field masked
    to the unmasked movie's width).

    For the lag ``(dy, dx)`` the first pixels of the pairs inside the frame leave
    out the first ``max(0, -dy)`` and the last ``max(0, dy)`` rows of the map, and
    likewise its columns; the second pixels are the first pixels of the lag
    ``(-dy, -dx)``. So the crop is half the sum of a table and its point
    reflection, the table the map's column sums less its first or last rows
    (cumulative sums of the edges), less their first or last columns: a few
    cumulative sums, no lookup per lag. Lags that leave out every row or column
    (a map smaller than the crop) hold exactly zero.
    """
    if holes is not None:
        kept = coverage_from_edges(edges[..., : -holes.rows, :], rows, size)
        lost = holes.lost(edges[..., -holes.rows :, :], regions)
        centre = kept[..., size // 2 : size // 2 + 1, size // 2 : size // 2 + 1]
        xp = array_module(kept)
        share = xp.where(centre > 0.0, lost / xp.where(centre > 0.0, centre, 1.0), 0.0)
        return kept * (1.0 - share)
    xp = array_module(edges)
    k = (int(edges.shape[-2]) - 1) // 2
    half = size // 2
    total = edges[..., 2 * k : 2 * k + 1, :]
    first_rows = _at_least(xp.cumsum(edges[..., :k, :], axis=-2), half, -2)
    last_rows = _at_least(xp.cumsum(edges[..., k : 2 * k, :][..., ::-1, :], axis=-2), half, -2)
    kept = total - xp.concatenate(
        [first_rows[..., half - 1 :: -1, :], xp.zeros_like(total), last_rows[..., :half, :]],
        axis=-2,
    )  # (..., size, C): column sums of the rows the row lag keeps, dy = -half..half
    lags = xp.abs(xp.arange(size) - half)
    kept = xp.where((lags < rows)[:, None], kept, 0.0)
    first_columns = _at_least(xp.cumsum(kept[..., :half], axis=-1), half, -1)
    last_columns = _at_least(xp.cumsum(kept[..., ::-1][..., :half], axis=-1), half, -1)
    left_out = xp.concatenate(
        [
            first_columns[..., half - 1 :: -1],
            xp.zeros_like(kept[..., :1]),
            last_columns[..., :half],
        ],
        axis=-1,
    )
    first = xp.where(lags < int(edges.shape[-1]), kept.sum(axis=-1)[..., None] - left_out, 0.0)
    return 0.5 * (first + first[..., ::-1, ::-1])


def _at_least(sums: Any, length: int, axis: int) -> Any:
    """Cumulative sums along ``axis`` extended to ``length`` entries by their last
    (a map narrower than the lags leaves out all of it beyond its end)."""
    missing = length - int(sums.shape[axis])
    if missing <= 0:
        return sums
    index = [slice(None)] * sums.ndim
    index[axis] = slice(-1, None)
    last = sums[tuple(index)]
    return array_module(sums).concatenate([sums, *[last] * missing], axis=axis)
