"""The pixel pairs that holes in the field (masked fiducials) take from each lag.

The pass sets the pixels of fiducial markers to zero in every frame
(:mod:`smlmlp.fiducials`): they hold no fluctuation, so the blinking map
(:mod:`smlmlp.coverage`) is zero there. The coverage crops count, for each lag,
the blinking of the pixel pairs inside the frame; a pair whose other pixel lies
in a hole holds no product either, and without this module it would still be
counted, so the crops' larger lags, divided by too large a share, come out low
and the widths narrow (about 1 % with a twelfth of a small field masked).

:class:`MapHoles` keeps, for each group of frames, what the blinking map holds
in a box around each hole (the hole's bounding box grown by half a crop: every
pixel that pairs with the hole at a lag of the crop; boxes that overlap merged)
and gives the blinking that the pairs reaching into the holes hold at each lag
(:meth:`MapHoles.lost`); each lag's share of the blinking lost so is taken off
its coverage (:func:`smlmlp.coverage.coverage_from_edges`). The boxes' values
are stored in rows appended to the map's edges
(:func:`smlmlp.coverage.edge_shape`), so that they add up from block to group as
the edges do.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import scipy.fft
import scipy.ndimage

from .backend import array_module


class _Box(NamedTuple):
    """A box of holes in region ``region``: its pixels' rows and columns, the map's
    corners they touch (``(rows, columns)``; the columns the pixels'), where the
    corners' values start in the region's store, the hole transformed on the
    padded shape ``padded``, and each pixel's inverse corner weight (zero in the
    holes)."""

    region: int
    rows: slice
    columns: slice
    corners: tuple[slice, slice]
    offset: int
    padded: tuple[int, int]
    hole_spectrum: Any
    inverse: Any


def corner_holes(mask: np.ndarray) -> np.ndarray:
    """The holes of a blinking map on the pixel corners, from the masked pixels.

    A corner's value is made of the products of its two diagonal pairs of pixels
    (:mod:`smlmlp.coverage`), so a corner holds ``0``, ``1/2`` or ``1`` of the
    blinking around it as none, one or both of its pairs lose a pixel to the mask;
    its hole weight is what it loses.

    Parameters
    ----------
    mask : ndarray of bool
        ``(..., H, W)``: the pixels left out.

    Returns
    -------
    ndarray of float64
        ``(..., H - 1, W - 1)`` weights in ``[0, 1]``.

    Examples
    --------
    >>> mask = np.zeros((3, 3), bool)
    >>> mask[1, 1] = True
    >>> corner_holes(mask).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    mask = np.asarray(mask, bool)
    falling = mask[..., :-1, :-1] | mask[..., 1:, 1:]
    rising = mask[..., :-1, 1:] | mask[..., 1:, :-1]
    return 0.5 * (falling.astype(np.float64) + rising)


class MapHoles:
    """The holes of the frames of ``(regions, H, W)`` pixels, and what the coverage
    crops of side ``size`` need of a blinking map on their corners around them:
    each hole's bounding box grown by half a crop, those that overlap merged.

    The blinking around a hole is taken per pixel (each unmasked pixel's corners'
    blinking over their weights, ``1 - corner_holes``), so that the pairs lost at
    each lag are those of the pixels, as the autocorrelation loses them.

    Parameters
    ----------
    mask : ndarray of bool
        ``(regions, H, W)``: the pixels left out; a region without any has no box.
    size : int
        Odd side of the coverage crops.
    xp : module, optional
        ``numpy`` or ``cupy``: where the maps and the stores are.

    Attributes
    ----------
    rows : int
        Rows of ``W - 1`` values (a map's row) each region's store takes (at least
        one).
    """

    def __init__(self, mask: np.ndarray, size: int, xp: Any = np) -> None:
        mask = np.asarray(mask, bool)
        if mask.ndim != 3:
            raise ValueError(f"masks must be (regions, rows, columns), got {mask.shape}")
        if min(mask.shape[1:]) < 2:  # frames of one row or column: no map, no box
            mask = np.zeros(mask.shape, bool)
        self.size, self.half = int(size), int(size) // 2
        self.shape = mask.shape
        weights = 1.0 - corner_holes(mask)  # (regions, H - 1, W - 1)
        # corners per pixel: the map's blinking per corner to the frames' per pixel
        self._per_pixel = weights.sum(axis=(-2, -1)) / np.maximum((~mask).sum(axis=(-2, -1)), 1)
        boxes, spectra, inverses = [], [], []
        longest = 0
        for region, holes in enumerate(mask):
            offset = 0
            labels, _ = scipy.ndimage.label(holes, structure=np.ones((3, 3)))
            grown = [self._grown(found) for found in scipy.ndimage.find_objects(labels)]
            for rows, columns in _merged(grown):
                corners = tuple(
                    slice(max(span.start - 1, 0), min(span.stop, length - 1))
                    for span, length in zip((rows, columns), self.shape[1:], strict=True)
                )
                hole = holes[rows, columns].astype(np.float64)  # the box's holes alone
                padded = tuple(
                    scipy.fft.next_fast_len(max(n + self.half, self.size), real=True)
                    for n in hole.shape
                )  # no lag of the crop wraps onto another, nor a hole onto the frame beyond
                spread = _pixel_sums(weights[region], rows, columns)
                with np.errstate(divide="ignore"):
                    inverse = np.where((spread > 0) & ~holes[rows, columns], 1.0 / spread, 0.0)
                boxes.append((region, rows, columns, corners, offset, padded))
                spectra.append(scipy.fft.rfft2(hole, s=padded))
                inverses.append(inverse)
                offset += math.prod(span.stop - span.start for span in corners)
            longest = max(longest, offset)
        self.rows = max(1, -(-longest // (mask.shape[-1] - 1)))
        # the boxes' constants moved to the device at once
        spectra, inverses = (_views(parts, xp) for parts in (spectra, inverses))
        constants = zip(boxes, spectra, inverses, strict=True)
        self.boxes = [_Box(*box, spectrum, inverse) for box, spectrum, inverse in constants]

    def _grown(self, found: tuple[slice, slice]) -> tuple[slice, slice]:
        """A hole's bounding box grown by half a crop, inside the frame."""
        rows, columns = (
            slice(max(0, span.start - self.half), min(length, span.stop + self.half))
            for span, length in zip(found, self.shape[1:], strict=True)
        )
        return rows, columns

    @staticmethod
    def _values(store: Any, box: _Box) -> Any:
        """The box's corner values in its region's ``store`` (a view)."""
        height = box.corners[0].stop - box.corners[0].start
        width = box.corners[1].stop - box.corners[1].start
        flat = store.reshape(-1)[box.offset : box.offset + height * width]
        return flat.reshape(height, width)

    def add(self, store: Any, band: Any, first_row: int) -> None:
        """``store +=`` what the boxes need of the map's rows ``first_row ..`` (``band``,
        ``(regions, n, W - 1)``); ``store``: ``(regions, rows, W - 1)``, contiguous
        per region."""
        first, stop = int(first_row), int(first_row) + int(band.shape[-2])
        for box in self.boxes:
            rows, columns = box.corners
            top, bottom = max(first, rows.start), min(stop, rows.stop)
            if top < bottom:
                values = self._values(store[box.region], box)
                values[top - rows.start : bottom - rows.start] += band[
                    box.region, top - first : bottom - first, columns
                ]

    def lost(self, store: Any, regions: range | None = None) -> Any:
        """``(len(regions), size, size)``, in the coverage's units: for each lag of a
        crop, half the blinking of the pixel pairs' first pixels whose second pixel
        lies in a hole plus half that of their second pixels whose first pixel does
        (the coverage's symmetric count,
        :func:`smlmlp.coverage.coverage_from_edges`), from a group's ``store`` of
        those ``regions`` (all by default)."""
        xp = array_module(store)
        regions = range(self.shape[0]) if regions is None else regions
        lost = xp.zeros((len(regions), self.size, self.size))
        for box in self.boxes:
            if box.region not in regions:
                continue
            where = box.region - regions.start
            blinking = self._pixels(xp, self._values(store[where], box), box)
            transform = xp.fft.rfft2(blinking, s=box.padded)
            # sum_p blinking(p) hole(p + l): the hole's spectrum times the conjugate
            pairs = xp.fft.irfft2(box.hole_spectrum * transform.conj(), s=box.padded)
            (rows, columns), half = box.padded, self.half  # the lags -half .. half, circular
            pairs = xp.concatenate([pairs[rows - half :], pairs[: half + 1]], axis=0)
            pairs = xp.concatenate([pairs[:, columns - half :], pairs[:, : half + 1]], axis=1)
            lost[where] += pairs * self._per_pixel[box.region]
        return 0.5 * (lost + lost[..., ::-1, ::-1])

    def _pixels(self, xp: Any, corners: Any, box: _Box) -> Any:
        """The blinking per unmasked pixel of the box from its corners' values."""
        height = box.rows.stop - box.rows.start
        width = box.columns.stop - box.columns.start
        padded = xp.zeros((height + 1, width + 1))
        # the corners a = first - 1 .. last, b likewise; none above or left of the frame
        top, left = (1 if span.start == 0 else 0 for span in (box.rows, box.columns))
        padded[top : top + corners.shape[0], left : left + corners.shape[1]] = corners
        return _four_corners(padded) * box.inverse


def _merged(boxes: list[tuple[slice, slice]]) -> list[tuple[slice, slice]]:
    """``(rows, columns)`` boxes, those that overlap replaced by the box around them
    until none overlaps: every hole then lies in one box with all the pixels it pairs
    with, and no pixel is stored twice.

    Examples
    --------
    >>> boxes = [(slice(0, 4), slice(0, 4)), (slice(9, 12), slice(0, 3)),
    ...          (slice(2, 10), slice(3, 5))]
    >>> _merged(boxes)
    [(slice(0, 12, None), slice(0, 5, None))]
    """
    boxes = list(boxes)
    merging = True
    while merging:
        merging = False
        for first in range(len(boxes)):
            for second in range(first + 1, len(boxes)):
                a, b = boxes[first], boxes[second]
                if all(x.start < y.stop and y.start < x.stop for x, y in zip(a, b, strict=True)):
                    boxes[first] = tuple(
                        slice(min(x.start, y.start), max(x.stop, y.stop))
                        for x, y in zip(a, b, strict=True)
                    )
                    del boxes[second]
                    merging = True
                    break
            if merging:
                break
    return boxes


def _views(parts: list[np.ndarray], xp: Any) -> list[Any]:
    """``parts`` on ``xp``'s device, moved in one array (views of it)."""
    if not parts:
        return []
    flat = xp.asarray(np.concatenate([part.reshape(-1) for part in parts]))
    stops = np.cumsum([part.size for part in parts]).tolist()
    return [
        flat[stop - part.size : stop].reshape(part.shape)
        for part, stop in zip(parts, stops, strict=True)
    ]


def _pixel_sums(weights: np.ndarray, rows: slice, columns: slice) -> np.ndarray:
    """For each pixel of ``rows, columns``, the sum of ``weights`` (on the corners,
    ``(H - 1, W - 1)``) over its up to four corners."""
    # pixel (i, j) touches the corners (a, b), a in i - 1, i and b in j - 1, j: in the
    # padded weights, corner (a, b) is at (a + 1, b + 1)
    padded = np.pad(weights, 1)
    return _four_corners(padded[rows.start : rows.stop + 1, columns.start : columns.stop + 1])


def _four_corners(corners: Any) -> Any:
    """For each pixel, the sum of its four corners' values, from the corners around
    the pixels (one row and one column more than them)."""
    return corners[:-1, :-1] + corners[:-1, 1:] + corners[1:, :-1] + corners[1:, 1:]
