"""GPU path against the CPU path (skipped without CUDA)."""

from __future__ import annotations

import numpy as np
import pytest

from smlmlp import blink_spatial_psf
from smlmlp.backend import cuda_status
from smlmlp.simulation import simulate_movie

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not cuda_status()[0], reason=f"no usable GPU: {cuda_status()[1]}"),
]


def test_gpu_equals_cpu():
    movie, _ = simulate_movie(600, (96, 80), sigx_nm=140.0, sigy_nm=110.0, theta_deg=20.0, seed=4)
    cpu_sigma, cpu = blink_spatial_psf([movie])
    gpu_sigma, gpu = blink_spatial_psf([movie], cuda=True, chunk_frames=64)
    for key in ("sigx", "sigy"):
        assert gpu[key][0] == pytest.approx(cpu[key][0], rel=1e-5)
    assert gpu_sigma[0] == pytest.approx(cpu_sigma[0], rel=1e-5)
    scale = np.abs(cpu["ac"][0]).max()
    assert np.abs(gpu["ac"][0] - cpu["ac"][0]).max() < 1e-4 * scale
