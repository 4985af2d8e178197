"""The blinking map's edges, the coverage crops and the pair fractions."""

import numpy as np
import pytest

from smlmlp import coverage


def _coverage_by_pairs(density: np.ndarray, size: int) -> np.ndarray:
    """The coverage crop by its definition: for each lag, half the density over the
    first pixels of the pairs inside the map plus half over their second pixels."""
    rows, columns = density.shape
    half = size // 2
    crop = np.zeros((size, size))
    for i, dy in enumerate(range(-half, half + 1)):
        for j, dx in enumerate(range(-half, half + 1)):
            top, bottom = max(0, -dy), rows - max(0, dy)
            left, right = max(0, -dx), columns - max(0, dx)
            if bottom <= top or right <= left:  # no pair inside the map
                continue
            first = density[top:bottom, left:right].sum()
            second = density[top + dy : bottom + dy, left + dx : right + dx].sum()
            crop[i, j] = 0.5 * (first + second)
    return crop


@pytest.mark.parametrize(
    "shape, size", [((9, 9), 3), ((40, 30), 21), ((12, 50), 21), ((3, 20), 9), ((70, 70), 129)]
)
def test_coverage_from_edges_added_by_bands_equals_the_definition(shape, size):
    """The few edge rows a group keeps, added band by band, give the coverage crop of
    the whole map (its pairs counted one by one)."""
    density = np.random.default_rng(sum(shape) + size).normal(3.0, 1.0, size=shape)
    rows = shape[0]
    edges = np.zeros(coverage.edge_shape(shape, size))
    assert edges.shape[0] <= 2 * (size // 2) + 1
    for first in range(0, rows, 4):
        coverage.add_to_edges(edges, density[first : first + 4], first, rows)
    expected = _coverage_by_pairs(density, size)
    got = coverage.coverage_from_edges(edges, rows, size)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(coverage.coverage_crop(density, None, size), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("change", "measured"),
    [
        (None, True),  # a plausible measurement: coverage / centre
        ((0, 0, 1.2), True),  # 1.2 times the centre is still plausible
        ((0, 0, 1.21), False),  # beyond: the frame taken as filled
        ((0, 1, 0.0), False),  # a lag holding no blinking
        ((1, 1, -1.0), False),  # a negative centre
        ((1, 0, np.nan), False),
        ((0, 2, np.inf), False),
        ((1, 1, np.inf), False),  # an infinite centre
    ],
)
def test_pair_fraction_takes_only_plausible_measurements(change, measured):
    """Each crop of a stack is judged on its own: its coverage over its centre where
    that lies in (0, 1.2] everywhere (all finite), else the fraction of blinking that
    fills the frame."""
    frame_shape = (20, 30)
    centre = 40.0
    good = np.array([[0.5, 0.7, 0.5], [0.8, 1.0, 0.8], [0.5, 0.7, 0.5]]) * centre
    judged = good.copy()
    if change is not None:
        row, column, ratio = change  # the value, in units of the good centre
        judged[row, column] = ratio * centre
    fractions = coverage.pair_fraction(np.stack([good, judged]), frame_shape)
    filled = coverage.pair_fraction(np.zeros((3, 3)), frame_shape)
    np.testing.assert_allclose(fractions[0], good / centre, rtol=1e-15)  # unaffected
    expected = judged / judged[1, 1] if measured else filled
    np.testing.assert_allclose(fractions[1], expected, rtol=1e-15)
