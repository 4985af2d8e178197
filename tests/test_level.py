"""The fit by the frames' halves' mean levels at the lowest frequencies."""

import numpy as np
import pytest

from smlmlp import level


@pytest.mark.parametrize("frame_shape", [(64, 64), (37, 50), (200, 31)])
def test_level_bins_mirror_rows_taken_of_the_product(frame_shape):
    """The mirrored rows' share of the left halves' spectra, taken of the product with
    the conjugate transform, is the product of the rows taken and conjugated."""
    transforms = level.level_transforms(frame_shape)
    rng = np.random.default_rng(5)
    rows = len(level.level_window(frame_shape)[0])
    shape = (3, 4, 2, rows, transforms.columns)
    moments = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    shared = rng.normal(size=(3, 4))
    bins = level.level_bins(moments, shared, transforms)
    read = transforms.direct.shape[0]
    mirror = np.conj(np.take(moments, transforms.mirror, axis=-2)).reshape(-1, read)
    halves = moments.reshape(-1, read) @ transforms.direct + mirror @ transforms.mirrored
    halves = halves.reshape(3, 4, 2, rows, -1)
    close = {"rtol": 1e-13, "atol": 1e-12}
    np.testing.assert_allclose(bins[..., 2, 1:, :], halves[..., 1, 1:, :], **close)
    left_of_first = moments[..., 0, :, : halves.shape[-1]] - halves[..., 0, :, :]
    np.testing.assert_allclose(bins[..., 3, 1:, :], left_of_first[..., 1:, :], **close)
