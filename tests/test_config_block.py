"""Config normalisation and the @block decorator."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import numpy as np
import pytest

from smlmlp import Config, block
from smlmlp.config import normalise_pixels_nm


@pytest.mark.parametrize(
    ("value", "n", "expected"),
    [
        (100, 2, [(100.0, 100.0)] * 2),
        (np.float32(80), 1, [(80.0, 80.0)]),
        ((120, 100), 3, [(120.0, 100.0)] * 3),
        (np.array([120.0, 100.0]), 1, [(120.0, 100.0)]),
        ([(100, 100), (110, 110)], 2, [(100.0, 100.0), (110.0, 110.0)]),
        ([100, (110, 105), 90], 3, [(100.0, 100.0), (110.0, 105.0), (90.0, 90.0)]),
    ],
)
def test_pixel_sizes_are_normalised(value, n, expected):
    assert normalise_pixels_nm(value, n) == expected
    assert Config(n, channels_pixels_nm=value).pixels_nm == expected


@pytest.mark.parametrize(
    "value",
    [0, -1, float("nan"), float("inf"), "100", None, True, [100, 100, 100], [(1, 2, 3)],
     [(100, -1)], {"y": 100}],
)
def test_bad_pixel_sizes_name_the_argument(value):
    with pytest.raises(ValueError, match="channels_pixels_nm"):
        normalise_pixels_nm(value, 1)


def test_block_priority_explicit_then_config_then_default():
    @block
    def f(data, /, a=1, *, b=2, c=3):
        return data, a, b, c

    assert f(0) == (0, 1, 2, 3)
    assert f(0, config={"a": 10, "b": 20}) == (0, 10, 20, 3)
    assert f(0, 5, b=6, config={"a": 10, "b": 20, "c": 30}) == (0, 5, 6, 30)
    assert f(0, config=SimpleNamespace(c=7)) == (0, 1, 2, 7)
    # positional-only data never comes from the configuration
    assert f(0, config={"data": 99}) == (0, 1, 2, 3)
    assert "config" in inspect.signature(f).parameters


def test_block_refuses_functions_that_already_take_config():
    with pytest.raises(TypeError, match="already has a 'config'"):

        @block
        def g(config=None):
            return config
