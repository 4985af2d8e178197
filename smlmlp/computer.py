"""What the machine offers: free memory, GPU presence, free GPU memory, chunk sizes.

The one module that probes the machine (psutil, the process's cgroup files, the
GPU); the science modules take the budgets it gives as arguments.

The heavy pass reads a movie chunk by chunk; the chunk length is chosen here so
that the working memory stays inside a budget whatever the movie length.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil  # imported with the package: not a cost of the first pass over frames

from .backend import cuda_status

#: Working-set budget of one streaming pass on the CPU when nothing else is said.
DEFAULT_CPU_BUDGET_BYTES = 96 * 2**20
#: Same on the GPU (device memory).
DEFAULT_GPU_BUDGET_BYTES = 1024 * 2**20
#: Bytes of working memory per pixel of one frame in a chunk on the CPU: the raw
#: frame (up to 8 bytes), its float32 copy (4), the float32 power (2, half
#: spectrum) and the complex64 half spectrum (4); the CPU holds float32 copies and
#: spectra only for one sub-batch of frames (4 or 16 MiB at most), so this is an
#: upper bound (for frames of a core's cache it also covers the float32 sums and
#: float64 terms, about 20 bytes per pixel, of the few blocks on the workers).
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


#: A cgroup v1 limit at least this large means "no limit" (the kernel shows
#: 2**63 - 1 rounded down to a page, 9223372036854771712 with 4 KiB pages).
CGROUP_V1_NO_LIMIT = 2**62
#: Least CPU budget of :func:`default_budget_bytes`, however little memory is left.
MIN_CPU_BUDGET_BYTES = 8 * 2**20


def system_available_bytes() -> int:
    """Memory the system can still give without swapping (``psutil.virtual_memory()``).

    Examples
    --------
    >>> system_available_bytes() > 0
    True
    """
    return int(psutil.virtual_memory().available)


def _read_bytes(path: Path) -> int | None:
    """A number of bytes from a cgroup file; ``None`` when missing, ``max`` or unreadable."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _stat_bytes(path: Path, key: str) -> int:
    """One entry of a cgroup's ``memory.stat`` (0 when missing)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key:
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


def _own_cgroups(proc_self_cgroup: Path) -> tuple[str | None, str | None]:
    """This process's cgroup path in the v2 hierarchy and in the v1 memory hierarchy.

    Each line of ``/proc/self/cgroup`` is ``id:controllers:path``: ``0::/path`` for
    v2, ``N:memory:/path`` (controllers separated by commas) for v1's memory.
    """
    try:
        lines = proc_self_cgroup.read_text().splitlines()
    except OSError:
        return None, None
    v2 = v1 = None
    for line in lines:
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v2, v1


def _levels(base: Path, path: str) -> list[Path]:
    """``base/path`` and every folder above it up to ``base`` itself."""
    parts = [part for part in path.strip().split("/") if part and part != ".."]
    return [base.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _headroom(
    folders: list[Path], limit_name: str, usage_name: str, inactive_key: str, no_limit: int
) -> int | None:
    """The least memory left under the limits of ``folders`` (``None``: no limit)."""
    left: list[int] = []
    for folder in folders:
        limit = _read_bytes(folder / limit_name)
        if limit is None or limit >= no_limit:
            continue
        usage = _read_bytes(folder / usage_name)
        if usage is None:
            continue
        # the inactive page cache is reclaimed before the limit bites (what a
        # container's "working set" counts too)
        used = max(0, usage - _stat_bytes(folder / "memory.stat", inactive_key))
        left.append(max(0, limit - used))
    return min(left) if left else None


def cgroup_available_bytes(
    proc_self_cgroup: str | os.PathLike[str] = "/proc/self/cgroup",
    cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup",
) -> int | None:
    """Memory left under this process's own cgroup limits (a SLURM job's, a container's).

    The process's cgroups come from ``proc_self_cgroup``. Under cgroup v2 (the
    ``0::/path`` line) each folder from ``cgroup_root/path`` up to ``cgroup_root``
    with a ``memory.max`` other than ``max`` counts; under v1 (the line of the
    ``memory`` controller) each folder from ``cgroup_root/memory/path`` up with a
    ``memory.limit_in_bytes`` below :data:`CGROUP_V1_NO_LIMIT`. What a folder
    leaves is its limit minus its usage (``memory.current``,
    ``memory.usage_in_bytes``) less its inactive page cache (``memory.stat``:
    ``inactive_file``, ``total_inactive_file`` in v1); the smallest wins.

    Parameters
    ----------
    proc_self_cgroup : path-like, optional
        The process's cgroup file.
    cgroup_root : path-like, optional
        Where the cgroup file systems are mounted (v1: one folder per controller).

    Returns
    -------
    int or None
        Bytes left, ``None`` when no limit is found.

    Examples
    --------
    >>> cgroup_available_bytes("/no/such/file") is None  # no cgroup known: no limit
    True
    """
    base = Path(cgroup_root)
    v2, v1 = _own_cgroups(Path(proc_self_cgroup))
    left: list[int] = []
    if v2 is not None:
        v2_left = _headroom(
            _levels(base, v2), "memory.max", "memory.current", "inactive_file", 2**63
        )
        if v2_left is not None:
            left.append(v2_left)
    if v1 is not None:
        v1_left = _headroom(
            _levels(base / "memory", v1),
            "memory.limit_in_bytes",
            "memory.usage_in_bytes",
            "total_inactive_file",
            CGROUP_V1_NO_LIMIT,
        )
        if v1_left is not None:
            left.append(v1_left)
    return min(left) if left else None


def available_ram_bytes(
    proc_self_cgroup: str | os.PathLike[str] = "/proc/self/cgroup",
    cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup",
) -> int:
    """Memory this process may still use, in bytes.

    The smaller of the system's available memory (:func:`system_available_bytes`)
    and what this process's cgroup limits leave (:func:`cgroup_available_bytes`:
    a SLURM job's ``--mem``, a container's limit).

    Examples
    --------
    >>> available_ram_bytes() > 0
    True
    """
    candidates = [system_available_bytes()]
    in_cgroup = cgroup_available_bytes(proc_self_cgroup, cgroup_root)
    if in_cgroup is not None:
        candidates.append(in_cgroup)
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

    96 MiB on the CPU (at most an eighth of :func:`available_ram_bytes`, at least
    :data:`MIN_CPU_BUDGET_BYTES`), 1 GiB on the GPU (at most a quarter of the free
    device memory).

    Examples
    --------
    >>> 0 < default_budget_bytes() <= DEFAULT_CPU_BUDGET_BYTES
    True
    """
    if cuda:
        return int(min(DEFAULT_GPU_BUDGET_BYTES, free_vram_bytes() // 4 or 2**28))
    budget = min(DEFAULT_CPU_BUDGET_BYTES, available_ram_bytes() // 8)
    return int(max(MIN_CPU_BUDGET_BYTES, budget))


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
