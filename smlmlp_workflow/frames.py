"""Frame ranges: a movie cut into the jobs of ``frames_per_job``."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._common import PathLike

#: Name of the one frame range of a movie whose length is unknown when the jobs are planned.
WHOLE_MOVIE = "all"


def movie_frame_count(files: Sequence[PathLike], channel: int | None = None) -> int | None:
    """Number of frames of a movie (its series' first file first; its channel ``channel``
    in a file of several), or None when unreadable.

    Reads the TIFF headers only (what the autocorrelation job opens), so it is cheap
    when the jobs are planned.
    """
    from smlmlp.loading import open_movie

    try:
        with open_movie(str(files[0]), channel=channel) as movie:
            return int(movie.shape[0])
    except Exception:  # unreadable files are reported by the job itself
        return None


def plan_frame_ranges(
    n_frames: int, frames_per_job: int, *, time_windows: int = 1
) -> list[tuple[int, int]]:
    """Frame ranges ``[start, stop)`` of the jobs that share one movie.

    Every range but the last holds a whole number of groups of blocks of frames
    (``frames_per_job`` rounded down to a multiple of
    :func:`smlmlp.block_sums.plan_blocks`' group length, at least one group). A job
    sums each block's frames in the same fixed sub-batches whatever its chunks
    and workers, and no group is cut between jobs, so the merged sums are the
    bits of one job over the whole movie. ``frames_per_job`` 0 means one range.

    Examples
    --------
    >>> plan_frame_ranges(1000, 400)  # groups of 40 frames
    [(0, 400), (400, 800), (800, 1000)]
    >>> plan_frame_ranges(3500, 400)  # groups of 160 frames
    [(0, 320), (320, 640), (640, 960), (960, 1280), (1280, 1600), (1600, 1920), \
(1920, 2240), (2240, 2560), (2560, 2880), (2880, 3200), (3200, 3500)]
    >>> plan_frame_ranges(1000, 0)
    [(0, 1000)]
    >>> plan_frame_ranges(100, 10)  # groups of one block of 20 frames
    [(0, 20), (20, 40), (40, 60), (60, 80), (80, 100)]
    """
    from smlmlp.block_sums import plan_blocks

    n_frames = int(n_frames)
    if n_frames < 1:
        return []
    if frames_per_job <= 0:
        return [(0, n_frames)]
    unit = plan_blocks(n_frames, time_windows)[1]
    per_job = max(unit, int(frames_per_job) // unit * unit)
    return [(start, min(start + per_job, n_frames)) for start in range(0, n_frames, per_job)]


def frame_range_label(frames: tuple[int, int] | None) -> str:
    """Name of a frame range in file names: ``"0-384"``, or ``"all"`` for the whole movie.

    Examples
    --------
    >>> frame_range_label((0, 384)), frame_range_label(None)
    ('0-384', 'all')
    """
    return WHOLE_MOVIE if frames is None else f"{int(frames[0])}-{int(frames[1])}"


def parse_frame_range(label: str) -> tuple[int, int] | None:
    """Inverse of :func:`frame_range_label` (None for the whole movie).

    Examples
    --------
    >>> parse_frame_range("384-768"), parse_frame_range("all")
    ((384, 768), None)
    """
    if label == WHOLE_MOVIE:
        return None
    match = re.fullmatch(r"(\d+)-(\d+)", label)
    if not match or int(match[1]) >= int(match[2]):
        raise ValueError(f"invalid frame range {label!r} (expected START-STOP or {WHOLE_MOVIE})")
    return int(match[1]), int(match[2])
