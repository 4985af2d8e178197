"""Resources: the memory and time a job asks for, and the chunk length of a pass."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from ._common import PathLike

#: Memory of the Python process of a step besides its working set (MB).
BASELINE_MEM_MB = 512

#: Frame shape assumed for resource estimates when the movie cannot be read (yet).
#: Working memory of one autocorrelation or on-time job besides Python itself (MB),
#: the config's ``memory_budget_mb`` default: with Python, a job stays under 300 MB.
DEFAULT_MEMORY_BUDGET_MB = 192

FALLBACK_FRAME_SHAPE = (512, 512)


def movie_frame_shape(path: PathLike, split: str | None = None) -> tuple[int, int] | None:
    """``(height, width)`` of one analysed frame from the movie's header, or None.

    Reads only the header (the TIFF's first page, the other formats' metadata), so it
    is cheap at scheduling time.
    """
    try:
        from smlmlp.formats import is_other_format

        if is_other_format(path):
            from smlmlp.loading import open_movie

            with open_movie(path, channel=0) as movie:  # every channel's frames alike
                height, width = (int(n) for n in movie.shape[1:])
        else:
            import tifffile

            from smlmlp.loading import tiff_series_layout

            with tifffile.TiffFile(path) as tif:
                _, shape = tiff_series_layout(tif.series[0])
                height, width = int(shape[-2]), int(shape[-1])
    except Exception:  # unreadable files are reported by the job itself
        return None
    if split == "horizontal":
        width //= 2
    elif split == "vertical":
        height //= 2
    return (max(1, height), max(1, width))


def plan_chunk_frames(
    frame_shape: tuple[int, int],
    *,
    chunk_frames: int | None = None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    cuda: bool = False,
) -> int:
    """Frames per chunk for the streaming pass: the config's value or one sized to the budget.

    On the CPU the budget is ``memory_budget_mb``; on the GPU it is the device's
    (:func:`smlmlp.computer.default_budget_bytes`: a quarter of the free GPU
    memory, at most 1 GiB), and the host holds only the raw chunks on their way.

    Examples
    --------
    >>> plan_chunk_frames((256, 256), memory_budget_mb=64)
    56
    >>> plan_chunk_frames((256, 256), chunk_frames=10)
    10
    """
    if chunk_frames:
        return int(chunk_frames)
    from smlmlp.computer import chunk_frames as computer_chunk_frames

    if cuda:
        return computer_chunk_frames(frame_shape, cuda=True)
    return computer_chunk_frames(frame_shape, budget_bytes=int(memory_budget_mb * 2**20))


def autocorr_mem_mb(
    files: Sequence[PathLike],
    split: str | None = None,
    *,
    chunk_frames: int | None = None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    cuda: bool = False,
) -> int:
    """Memory (MB) to request for the streaming pass over one channel.

    From the frame size and the chunk length, not the file size: the pass holds
    two chunks (one being read, one transformed) and the accumulated sums.

    Examples
    --------
    >>> autocorr_mem_mb(["missing.tif"], chunk_frames=64) > BASELINE_MEM_MB
    True
    """
    shape = (movie_frame_shape(files[0], split) if files else None) or FALLBACK_FRAME_SHAPE
    from smlmlp.computer import working_memory_bytes

    chunk = plan_chunk_frames(
        shape, chunk_frames=chunk_frames, memory_budget_mb=memory_budget_mb, cuda=cuda
    )
    raw_read_ahead = chunk * shape[0] * shape[1] * 8  # the next chunk, read while this one runs
    working = working_memory_bytes(shape, chunk, cuda=cuda) + raw_read_ahead
    return int(BASELINE_MEM_MB + math.ceil(1.25 * working / 1e6))


def merge_mem_mb(frame_shape: tuple[int, int]) -> int:
    """Memory (MB) to merge partial sums of frames of ``frame_shape``.

    Two accumulators (the frame sum, the half power spectrum, the reference) and
    the spectra of a reference correction.

    Examples
    --------
    >>> merge_mem_mb((512, 512)) > BASELINE_MEM_MB
    True
    """
    pixels = int(frame_shape[0]) * int(frame_shape[1])
    return int(BASELINE_MEM_MB + math.ceil(64 * pixels / 1e6))


def on_time_mem_mb(memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB) -> int:
    """Memory (MB) to request for the on-time's pass over an experiment's movies.

    :func:`smlmlp.blink_temporal_on` keeps its working set (time buffer, read
    chunk, FFTs) within the budget; a chunk read ahead and the curves come on top.

    Examples
    --------
    >>> on_time_mem_mb(256)
    832
    """
    return int(BASELINE_MEM_MB + math.ceil(1.25 * float(memory_budget_mb)))


def on_time_runtime_min(files: Sequence[PathLike]) -> int:
    """Minutes to request for the on-time's pass: it reads every file twice.

    Examples
    --------
    >>> on_time_runtime_min(["missing.tif"])
    5
    """
    return autocorr_runtime_min(sorted(set(map(str, files))), fraction=2.0)


def autocorr_runtime_min(files: Sequence[PathLike], fraction: float = 1.0) -> int:
    """Minutes to request for the streaming pass (generous: 5 min + 5 min per GB).

    ``fraction`` is the part of the movie one job reads (a frame range of it).

    Examples
    --------
    >>> autocorr_runtime_min(["missing.tif"])
    5
    """
    from smlmlp.formats import path_size

    size = sum(path_size(f) for f in files if os.path.exists(f))
    return int(5 + math.ceil(5 * fraction * size / 1e9))
