"""What a run would analyse, before anything is measured (``snakemake plan``).

Every experiment's channels, each with its movie (and channel of the file, camera
half), its frames, and the pixel size and exposure the run would use with where each
comes from (:func:`smlmlp_workflow.settings.pixel_and_exposure`, the precedence of
the ``psf`` step); an experiment that cannot be used, and a movie that cannot be
read, with the one line its job would fail with.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from smlmlp.atomic import atomic_path
from smlmlp.block_sums import check_crop_fits
from smlmlp.loading import HALF_NAMES
from smlmlp.stacks import check_frame_count
from smlmlp.text_table import aligned_lines

from ._common import PathLike
from .discovery import Channel, Experiment, left_out_lines
from .psf import source_files_relative
from .settings import no_pixel_size, pixel_and_exposure

PLAN_COLUMNS = ("experiment", "channel", "movie", "frames", "pixel y x (nm)", "exposure (ms)")


def _movie_facts(channel: Channel) -> tuple[int, tuple[int, int], dict[str, Any]]:
    """``(frames, (height, width), file metadata)`` of the frames a channel analyses
    (one camera half of a split movie); the metadata's ``channel``: the name of the
    channel of a file of several."""
    from smlmlp.loading import open_movie, split_movie

    with open_movie(channel.movie, channel=channel.file_channel) as movie:
        shape = tuple(int(size) for size in movie.shape)
        metadata = dict(movie.metadata)
        if channel.split:
            half = split_movie(movie, channel.split, name=channel.movie)[int(channel.half or 0)]
            shape = tuple(int(size) for size in half.shape)
    return shape[0], (shape[1], shape[2]), metadata


def _value_text(value: Any, origin: str | None) -> str:
    if value is None:
        return "none"
    values = value if isinstance(value, list | tuple) else [value, value]
    if len(values) == 1:
        values = [values[0], values[0]]
    return " ".join(f"{float(v):g}" for v in values) + f" from {origin}"


def channel_plan(
    experiment: str, channel: Channel, config: Mapping[str, Any]
) -> tuple[dict[str, str], str | None]:
    """One channel's row of :data:`PLAN_COLUMNS` (but ``experiment``) and the first
    problem that would stop its jobs, in the words of the job (None when it is ready)."""
    row = {"channel": channel.name, "frames": "?"}
    try:
        if channel.n_frames is not None and not os.path.exists(channel.movie):
            # the demo's movies, simulated by the run: as they will be
            n_frames, (height, width), metadata = channel.n_frames, channel.frame_shape, {}
        else:
            n_frames, (height, width), metadata = _movie_facts(channel)
    except Exception as error:  # the one line the channel's job would fail with
        metadata, problem = {}, str(error)
    else:
        row["frames"] = f"{n_frames} of {height} x {width}"
        problem = None
    movie = source_files_relative([channel.movie], config.get("experiments_dir"))[0]
    parts = []
    if metadata.get("kind") == "tiff-sequence":
        parts.append(f"first of {n_frames} files, one per frame")
    if channel.file_channel is not None:
        parts.append(str(metadata.get("channel") or f"channel {channel.file_channel}"))
    if channel.split:
        parts.append(f"{HALF_NAMES[channel.split][int(channel.half or 0)]} half")
    row["movie"] = movie + (f" [{', '.join(parts)}]" if parts else "")
    (pixel, pixel_origin), (exposure, exposure_origin) = pixel_and_exposure(
        channel.pixel_nm,
        channel.exposure_ms,
        metadata,
        pixel_nm_default=config.get("pixel_nm"),
        exposure_ms_default=config.get("exposure_ms"),
        pixel_nm_from_file=bool(config.get("pixel_nm_from_file", True)),
    )
    row["pixel y x (nm)"] = _value_text(pixel, pixel_origin)
    row["exposure (ms)"] = (
        "none" if exposure is None else f"{float(exposure):g} from {exposure_origin}"
    )
    if problem is None:
        label = f"{experiment}/{channel.name} ({channel.movie})"
        try:  # the autocorr and psf steps' checks, with their name for the channel
            check_frame_count(n_frames, label, int(config.get("min_frames") or 0))
            if config.get("crop_pix") is not None:  # (the schema's default, in a run)
                check_crop_fits((height, width), config["crop_pix"], label)
        except ValueError as error:
            problem = str(error)
    if problem is None and pixel is None:
        problem = no_pixel_size(channel.movie)
    return row, problem


def format_plan(experiments: Mapping[str, Experiment], config: Mapping[str, Any]) -> str:
    """The plan of a run over ``experiments`` (:func:`discover_experiments`) with
    ``config``: a table of every channel, then one line per problem, then one per file
    left out (:func:`left_out_lines`).

    Examples
    --------
    >>> import shutil, tempfile, numpy as np, tifffile
    >>> from pathlib import Path
    >>> from smlmlp_workflow import discover_experiments
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "e1").mkdir(); (root / "e2").mkdir()
    >>> tifffile.imwrite(root / "e1" / "red.tif", np.zeros((30, 16, 20), np.uint16))
    >>> tifffile.imwrite(root / "e1" / "bf.tif", np.zeros((16, 20), np.uint16))
    >>> config = {"experiments_dir": str(root), "pixel_nm": 108, "exposure_ms": None}
    >>> print(format_plan(discover_experiments(root, config), config))
    experiment  channel  movie       frames         pixel y x (nm)                  exposure (ms)
    e1          red      e1/red.tif  30 of 16 x 20  108 108 from config (pixel_nm)  none
    <BLANKLINE>
    1 channel(s) in 1 experiment(s); 1 problem(s):
    e2: ...no movie file...
    <BLANKLINE>
    e1/bf.tif: left out: one image (16 x 20), not a movie
    >>> shutil.rmtree(root)
    """
    rows, problems = [], []
    for name, experiment in experiments.items():
        if experiment.problem:
            problems.append(f"{name}: {experiment.problem}")
            continue
        for channel in experiment.channels.values():
            row, problem = channel_plan(name, channel, config)
            rows.append({"experiment": name, **row})
            if problem:
                problems.append(f"{name}/{channel.name}: {problem}")
    cells = [[row[column] for column in PLAN_COLUMNS] for row in rows]
    lines = aligned_lines(PLAN_COLUMNS, cells)
    used = len({row["experiment"] for row in rows})
    summary = f"{len(rows)} channel(s) in {used} experiment(s); {len(problems)} problem(s)"
    lines += ["", summary + (":" if problems else "")]
    left_out = left_out_lines(experiments)
    return "\n".join([*lines, *problems, *([""] + left_out if left_out else [])])


def print_plan(
    experiments: Mapping[str, Experiment], config: Mapping[str, Any], log_path: PathLike
) -> None:
    """Print :func:`format_plan` and keep it in ``log_path`` (written whole or not at all)."""
    text = format_plan(experiments, config)
    print(text)
    with atomic_path(log_path) as part:
        part.write_text(text + "\n", encoding="utf-8")
