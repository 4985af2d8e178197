"""Backend choice and memory-derived chunk sizes."""

from __future__ import annotations

import numpy as np
import pytest

from smlmlp import computer
from smlmlp.backend import CudaUnavailableError, cpu_workers, cuda_status, get_backend


def test_cpu_backend_round_trips_odd_widths():
    backend = get_backend(parallel=True)
    frames = np.random.default_rng(0).normal(size=(3, 10, 13))
    back = backend.irfft2(backend.rfft2(frames), (10, 13))
    assert np.allclose(back, frames)
    assert backend.workers == cpu_workers(True) >= 1
    assert get_backend().workers == 1


def test_cuda_request_without_gpu_explains_the_fix():
    if cuda_status()[0]:
        pytest.skip("a GPU is available here")
    with pytest.raises(CudaUnavailableError, match=r"pip install \.\[cuda12\]|CUDA") as caught:
        get_backend(cuda=True)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, RuntimeError)


def test_chunk_frames_follow_the_budget():
    small = computer.chunk_frames((512, 512), budget_bytes=64 * 2**20)
    large = computer.chunk_frames((128, 128), budget_bytes=64 * 2**20)
    assert small >= 1 and large > small
    assert computer.working_memory_bytes((512, 512), small) <= 64 * 2**20 + 16 * 512 * 512
    assert computer.chunk_frames((4096, 4096), budget_bytes=1) == 1
    assert computer.chunk_frames((8, 8), budget_bytes=2**40) == computer.MAX_CHUNK_FRAMES
    with pytest.raises(ValueError, match="frame_shape"):
        computer.chunk_frames((0, 10))


def test_default_budget_stays_within_available_memory():
    frames = computer.chunk_frames((256, 256))
    assert computer.working_memory_bytes((256, 256), frames) <= max(
        computer.DEFAULT_CPU_BUDGET_BYTES, computer.available_ram_bytes() // 8
    ) + 16 * 256 * 256
    assert computer.available_ram_bytes() > 0
    assert computer.free_vram_bytes() >= 0


def test_explicit_worker_count_wins_over_parallel():
    assert get_backend(parallel=True, workers=1).workers == 1
    assert get_backend(parallel=False, workers=3).workers == 3
    with pytest.raises(ValueError, match="workers"):
        get_backend(workers=0)
