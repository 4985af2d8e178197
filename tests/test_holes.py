"""The pixel pairs that masked fiducials take from each lag of the coverage crops."""

import numpy as np
import pytest

from smlmlp import coverage
from smlmlp.holes import MapHoles, corner_holes


def _disks(shape: tuple[int, int], centres: list[tuple[int, int]], radius2: float) -> np.ndarray:
    rows, columns = np.mgrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, bool)
    for row, column in centres:
        mask |= (rows - row) ** 2 + (columns - column) ** 2 <= radius2
    return mask


def _lost_by_pairs(density: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """The lost pairs by their definition: each unmasked pixel's blinking (its corners'
    values over their weights), summed over the pairs inside the frame whose other
    pixel is masked, half from each end, in the corners' units."""
    height, width = mask.shape
    weights = 1.0 - corner_holes(mask)
    pixel = np.zeros(mask.shape)
    for i in range(height):
        for j in range(width):
            if mask[i, j]:
                continue
            corners = [(a, b) for a in (i - 1, i) for b in (j - 1, j)
                       if 0 <= a < height - 1 and 0 <= b < width - 1]  # fmt: skip
            spread = sum(weights[a, b] for a, b in corners)
            if spread > 0:
                pixel[i, j] = sum(density[a, b] for a, b in corners) / spread
    half = size // 2
    lost = np.zeros((size, size))
    for i, dy in enumerate(range(-half, half + 1)):
        for j, dx in enumerate(range(-half, half + 1)):
            for sign in (1, -1):
                total = 0.0
                for r in range(height):
                    for c in range(width):
                        r2, c2 = r + sign * dy, c + sign * dx
                        if 0 <= r2 < height and 0 <= c2 < width and mask[r2, c2]:
                            total += pixel[r, c]
                lost[i, j] += 0.5 * total
    return lost * weights.sum() / (~mask).sum()


@pytest.mark.parametrize(
    "shape, size, centres",
    [
        ((24, 30), 9, [(6, 7), (15, 22)]),
        ((20, 20), 11, [(0, 10), (12, 3), (19, 19)]),  # holes on the frame's edges
        ((12, 14), 21, [(6, 7)]),  # a crop larger than the frame
    ],
)
def test_coverage_with_holes_equals_the_definition(shape, size, centres):
    """Added band by band, two regions (the second without holes): each lag keeps the
    pairs inside the frame (the coverage without holes, tests/test_coverage.py) less the
    share of the blinking whose pairs reach into a hole, counted pixel by pixel."""
    rng = np.random.default_rng(sum(shape) + size)
    mask = np.stack([_disks(shape, centres, 5.0), np.zeros(shape, bool)])
    # the map of a blinking that fills the frame, less where the corners lose pixels
    density = rng.uniform(1.0, 3.0, size=(2, shape[0] - 1, shape[1] - 1))
    density *= 1.0 - corner_holes(mask)
    holes = MapHoles(mask, size)
    rows = shape[0] - 1
    edges = np.zeros(coverage.edge_shape(density.shape, size, holes))
    for first in range(0, rows, 5):
        coverage.add_to_edges(edges, density[:, first : first + 5], first, rows, holes)
    got = coverage.coverage_from_edges(edges, rows, size, holes)
    for region in range(2):
        kept = coverage.coverage_crop(density[region], None, size)
        lost = _lost_by_pairs(density[region], mask[region], size)
        expected = kept * (1.0 - lost / kept[size // 2, size // 2])
        np.testing.assert_allclose(got[region], expected, rtol=1e-10, atol=1e-9)
    assert np.any(got[0] < coverage.coverage_crop(density[0], None, size) * (1.0 - 1e-3))
    # the regions of a worker's share give theirs
    part = coverage.coverage_from_edges(edges[1:], rows, size, holes, range(1, 2))
    np.testing.assert_array_equal(part, got[1:])


def test_no_hole_takes_nothing_and_stores_one_row():
    holes = MapHoles(np.zeros((1, 16, 16), bool), 9)
    assert holes.rows == 1 and not holes.boxes
    density = np.random.default_rng(1).uniform(1.0, 2.0, size=(1, 15, 15))
    edges = np.zeros(coverage.edge_shape(density.shape, 9, holes))
    coverage.add_to_edges(edges, density, 0, 15, holes)
    np.testing.assert_array_equal(
        coverage.coverage_from_edges(edges, 15, 9, holes),
        coverage.coverage_crop(density[0], None, 9)[None],
    )


def test_masks_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"\(regions, rows, columns\), got \(16, 16\)"):
        MapHoles(np.zeros((16, 16), bool), 9)


def test_frames_of_one_row_have_no_box():
    holes = MapHoles(np.ones((1, 1, 16), bool), 9)
    assert holes.rows == 1 and not holes.boxes
