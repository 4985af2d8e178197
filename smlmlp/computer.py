"""What the machine offers: free memory, GPU presence, free GPU memory, chunk sizes.

The heavy pass reads a movie chunk by chunk; the chunk length is chosen here so
that the working memory stays inside a budget whatever the movie length.
"""

from __future__ import annotations

import os
from pathlib import Path

from .backend import cuda_status

#: Working-set budget of one streaming pass on the CPU when nothing else is said.
DEFAULT_CPU_BUDGET_BYTES = 96 * 2**20
#: Same on the GPU (device memory).
DEFAULT_GPU_BUDGET_BYTES = 1024 * 2**20
#: Bytes of working memory per pixel of one frame in a chunk on the CPU: the raw
#: frame (up to 8 bytes), its float32 copy (4), the float32 power (2, half
#: spectrum) and the complex64 half spectrum (4); the CPU holds float32 copies and
#: spectra only for one cache-sized sub-batch of frames (which the workers share by
#: rows), so this is an upper bound.
BYTES_PER_PIXEL_IN_CHUNK = 18
#: The same in GPU memory, which transforms a whole chunk at once: the raw frames
#: (up to 8), the float32 copy (4), the complex64 half spectra (4), cuFFT's work
#: area (up to the size of its output, 4) and the products of the blinking map
#: (float32, 4). The squares of the spectra are taken in place.
GPU_BYTES_PER_PIXEL_IN_CHUNK = 24
#: Host memory per pixel of a chunk on its way to the GPU: the chunk read ahead,
#: the one being copied, and the two page-locked (pinned) copy buffers, of raw
#: frames of up to 8 bytes.
GPU_HOST_BYTES_PER_PIXEL_IN_CHUNK = 32
#: Bytes per pixel of the accumulated sums (complex128 + float64 half spectrum,
#: float32 reference frame).
BYTES_PER_PIXEL_ACCUMULATED = 16
MAX_CHUNK_FRAMES = 512


def _meminfo_available() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _cgroup_available() -> int | None:
    """Memory left under a cgroup v2 limit (SLURM and containers set one)."""
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        usage = int((base / "memory.current").read_text().strip())
        return max(0, int(limit) - usage)
    except (OSError, ValueError):
        return None


def available_ram_bytes() -> int:
    """Memory this process may still use, in bytes.

    The smaller of the system's available memory and what a cgroup limit
    (SLURM job, container) leaves.

    Examples
    --------
    >>> available_ram_bytes() > 0
    True
    """
    candidates = [value for value in (_meminfo_available(), _cgroup_available()) if value]
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            candidates.append(2 * 2**30)
    return int(min(candidates))


def gpu_available() -> bool:
    """Whether CuPy sees a usable CUDA device."""
    return cuda_status()[0]


def free_vram_bytes() -> int:
    """Free memory on the current CUDA device in bytes (0 without a GPU)."""
    if not gpu_available():
        return 0
    import cupy

    free, _total = cupy.cuda.runtime.memGetInfo()
    return int(free)


def default_budget_bytes(cuda: bool = False) -> int:
    """Working-memory budget of one streaming pass, in bytes.

    96 MiB on the CPU (at most an eighth of the available RAM), 1 GiB on the GPU
    (at most a quarter of the free device memory).

    Examples
    --------
    >>> 0 < default_budget_bytes() <= DEFAULT_CPU_BUDGET_BYTES
    True
    """
    if cuda:
        return int(min(DEFAULT_GPU_BUDGET_BYTES, free_vram_bytes() // 4 or 2**28))
    return int(min(DEFAULT_CPU_BUDGET_BYTES, available_ram_bytes() // 8))


def chunk_frames(
    frame_shape: tuple[int, int], *, cuda: bool = False, budget_bytes: int | None = None
) -> int:
    """Number of frames to process at once for frames of ``frame_shape``.

    Parameters
    ----------
    frame_shape : tuple of int
        ``(height, width)`` of one frame.
    cuda : bool, optional
        Size the chunk for GPU memory (:data:`GPU_BYTES_PER_PIXEL_IN_CHUNK`)
        instead of RAM (:data:`BYTES_PER_PIXEL_IN_CHUNK`).
    budget_bytes : int, optional
        Working-memory budget; by default :func:`default_budget_bytes` (on the
        GPU: from the free device memory).

    Returns
    -------
    int
        Between 1 and 512 frames.

    Examples
    --------
    >>> chunk_frames((256, 256), budget_bytes=64 * 2**20)
    56
    """
    height, width = (int(size) for size in frame_shape)
    if height < 1 or width < 1:
        raise ValueError(f"frame_shape must be two positive sizes, got {frame_shape!r}")
    if budget_bytes is None:
        budget_bytes = default_budget_bytes(cuda)
    per_pixel = GPU_BYTES_PER_PIXEL_IN_CHUNK if cuda else BYTES_PER_PIXEL_IN_CHUNK
    return int(max(1, min(MAX_CHUNK_FRAMES, budget_bytes // (per_pixel * height * width))))


def working_memory_bytes(
    frame_shape: tuple[int, int], n_chunk_frames: int, *, cuda: bool = False
) -> int:
    """Host memory of one streaming pass: one chunk plus the accumulated sums.

    With ``cuda`` the chunk's work is in GPU memory; the host holds the raw
    chunks on their way there (:data:`GPU_HOST_BYTES_PER_PIXEL_IN_CHUNK`).

    Examples
    --------
    >>> working_memory_bytes((100, 100), 10)
    1960000
    """
    pixels = int(frame_shape[0]) * int(frame_shape[1])
    per_pixel = GPU_HOST_BYTES_PER_PIXEL_IN_CHUNK if cuda else BYTES_PER_PIXEL_IN_CHUNK
    return pixels * (per_pixel * int(n_chunk_frames) + BYTES_PER_PIXEL_ACCUMULATED)
