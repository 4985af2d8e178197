"""Rules autocorr and autocorr_merge: a movie (or frame range) streamed into summed spectra."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smlmlp.atomic import atomic_path

from ._common import PathLike, _display_path, _plain
from .fingerprints import movie_fingerprint
from .logs import FrameProgress
from .resources import DEFAULT_MEMORY_BUDGET_MB, plan_chunk_frames


def run_autocorr(
    files: Sequence[PathLike],
    spectrum_path: PathLike,
    source_path: PathLike,
    *,
    label: str,
    file_channel: int | None = None,
    split: str | None = None,
    half: int | None = None,
    min_frames: int = 2,
    crop_pix: int = 5,
    time_windows: int = 1,
    field_tiles: Sequence[int] | None = None,
    fiducials: bool = True,
    chunk_frames: int | None = None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    cuda: bool = False,
    threads: int = 1,
    frames: tuple[int, int] | None = None,
    logger: logging.Logger | None = None,
) -> dict[str, Any]:
    """Stream one channel's movie, or frames ``frames = (start, stop)`` of it, into sums.

    The movie is ``files``' first file, its channel ``file_channel`` in a file of
    several (:mod:`smlmlp.file_channels`), the half ``half`` of frames cut by ``split``.

    Writes the :class:`smlmlp.block_sums.BlockSums` to ``spectrum_path``
    and what was read (files, sizes, frames, file metadata) as JSON to
    ``source_path``; both whole or not at all. Every job starts its chunks at
    ``start``, and blocks of frames are aligned on frame numbers, so the sums of frame
    ranges cut at multiples of ``chunk_frames`` and of the block length merge
    (:func:`merge_autocorr`) into exactly those of one job over the movie.

    Returns
    -------
    dict
        The content of ``source_path``.
    """
    from smlmlp.channel import accumulate_channel
    from smlmlp.loading import check_frame_count, open_movie, split_movie
    from smlmlp.sums_io import save_sums

    logger = logger or logging.getLogger("smlmlp.workflow")
    movie_file = str(files[0])
    started = time.monotonic()
    with open_movie(movie_file, channel=file_channel) as movie:
        stack: Any = movie
        if split:
            stack = split_movie(movie, split, name=movie_file)[int(half or 0)]
        n_frames, height, width = (int(v) for v in stack.shape)
        name = f"{label} ({movie_file})"  # as the psf rule names it
        check_frame_count(n_frames, name, min_frames)
        start, stop = (0, n_frames) if frames is None else (int(frames[0]), int(frames[1]))
        if not 0 <= start < stop <= n_frames:
            raise ValueError(
                f"{movie_file}: frames {start}-{stop} asked for, the movie has {n_frames} "
                "(did it change since the jobs were planned? run again)"
            )
        chunk = plan_chunk_frames(
            (height, width),
            chunk_frames=chunk_frames,
            memory_budget_mb=memory_budget_mb,
            cuda=cuda,
        )
        logger.info(
            "%s: %s, %s%d frames of %dx%d px (%s), chunks of %d frames, %s",
            label,
            ", ".join(os.path.basename(p) for p in movie.paths)
            + ("" if file_channel is None else f", channel {movie.metadata.get('channel')}"),
            "" if frames is None else f"frames {start}-{stop} of ",
            n_frames,
            height,
            width,
            movie.dtype,
            chunk,
            "GPU" if cuda else f"CPU, {threads} thread(s)",
        )
        with FrameProgress(label, logger) as progress:
            sums = accumulate_channel(
                stack,
                crop_pix=crop_pix,
                field_tiles=field_tiles,
                time_windows=time_windows,
                fiducials=fiducials,
                start=start,
                stop=stop,
                chunk_frames=chunk,
                cuda=cuda,
                workers=None if cuda else max(1, int(threads)),
                progress=progress,
                name=name,
            )
        paths = list(movie.paths)
        metadata = dict(movie.metadata)
    save_sums(sums, spectrum_path)
    fingerprints = movie_fingerprint(paths)
    source = {
        "label": label,
        "files": [_display_path(p) for p in paths],
        "sizes_bytes": [f["size"] for f in fingerprints],
        "sampled_sha256": [f["sampled_sha256"] for f in fingerprints],
        "n_frames": sums.total_frames,
        "frame_range": [start, stop],
        "movie_frames": n_frames,
        "frame_shape": [height, width],
        "file_channel": metadata.get("channel"),
        "split": split,
        "half": half,
        "metadata": _plain(
            {k: metadata.get(k) for k in ("pixel_nm", "exposure_ms", "axes", "kind")}
        ),
        "chunk_frames": chunk,
        "cuda": bool(cuda),
        "seconds": round(time.monotonic() - started, 3),
    }
    with atomic_path(source_path) as part:
        part.write_text(json.dumps(source, indent=1), encoding="utf-8")
    return source


#: Fields of the source records of a movie's frame ranges that must agree to be merged.
_SAME_IN_EVERY_RANGE = (
    "label",
    "files",
    "sizes_bytes",
    "sampled_sha256",
    "movie_frames",
    "frame_shape",
    "file_channel",
    "split",
    "half",
    "metadata",
    "cuda",
)


def merge_autocorr(
    spectrum_paths: Sequence[PathLike],
    source_paths: Sequence[PathLike],
    spectrum_path: PathLike,
    source_path: PathLike,
    *,
    label: str,
    logger: logging.Logger | None = None,
) -> dict[str, Any]:
    """Merge the sums of a movie's frame ranges into those of the whole movie.

    The ranges must cover the movie once, read from the same files in the same
    way; the result is what :func:`run_autocorr` writes for the whole movie (to
    rounding, and exactly when the ranges are cut at multiples of the chunk
    length), with the source record of one job (``seconds`` summed, the ranges in
    ``frame_ranges``).

    Returns
    -------
    dict
        The content of ``source_path``.
    """
    from smlmlp.block_sums import merge_sums
    from smlmlp.field_tiles import FieldSums, merge_field
    from smlmlp.sums_io import load_sums, save_sums

    logger = logger or logging.getLogger("smlmlp.workflow")
    if not spectrum_paths or len(spectrum_paths) != len(source_paths):
        raise ValueError(f"{label}: expected one source record per partial sum")
    records = [json.loads(Path(p).read_text(encoding="utf-8")) for p in source_paths]
    order = sorted(range(len(records)), key=lambda i: records[i]["frame_range"][0])
    first = records[order[0]]
    for index in order:
        record, where = records[index], source_paths[index]
        for key in _SAME_IN_EVERY_RANGE:
            if record.get(key) != first.get(key):
                raise ValueError(
                    f"{label}: {where}: {key} {record.get(key)!r} differs from "
                    f"{first.get(key)!r} in {source_paths[order[0]]}; the movie changed "
                    "while its frame ranges were processed (run again)"
                )
    expected = 0
    for index in order:
        start, stop = records[index]["frame_range"]
        if start != expected:
            raise ValueError(
                f"{label}: frame ranges do not tile the movie: {source_paths[index]} starts "
                f"at frame {start}, expected {expected}"
            )
        expected = stop
    if expected != first["movie_frames"]:
        raise ValueError(
            f"{label}: frame ranges end at frame {expected}, the movie has {first['movie_frames']}"
        )
    parts = [load_sums(spectrum_paths[index]) for index in order]
    if all(isinstance(part, FieldSums) for part in parts):
        merged = merge_field(parts)
    elif any(isinstance(part, FieldSums) for part in parts):
        raise ValueError(
            f"{label}: some frame ranges were summed per tile of the field and some not "
            "(field_tiles changed between runs?); run again"
        )
    else:
        merged = merge_sums(parts)
    if merged.total_frames != first["movie_frames"]:
        raise ValueError(
            f"{label}: the partial sums hold {merged.total_frames} frames, the movie has "
            f"{first['movie_frames']}"
        )
    save_sums(merged, spectrum_path)
    source = dict(first)
    source.update(
        n_frames=merged.total_frames,
        frame_range=[0, merged.total_frames],
        frame_ranges=[records[i]["frame_range"] for i in order],
        seconds=round(sum(float(r.get("seconds", 0.0)) for r in records), 3),
    )
    with atomic_path(source_path) as part:
        part.write_text(json.dumps(source, indent=1), encoding="utf-8")
    logger.info(
        "%s: merged %d frame range(s) into %d frames", label, len(records), merged.total_frames
    )
    return source
