"""Rule info: an experiment's channels (and on-time) gathered into its HDF5 info file."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from smlmlp.infofile import ChannelInfo, TemporalInfo, write_info

from ._common import PathLike


def run_info(
    channel_paths: Sequence[PathLike],
    output_path: PathLike,
    *,
    experiment: str,
    config_json: str = "{}",
    problem: str | None = None,
    on_time_path: PathLike | None = None,
    logger: logging.Logger | None = None,
) -> Path:
    """Gather an experiment's channels into its HDF5 info file (or report its problem).

    With ``on_time_path`` (the ``on_time`` step's result) the file also holds the
    temporal curves and the on-time, in ms with each channel's exposure (as the
    ``psf`` step resolved it; NaN when unknown, the on-time stays in frames).
    """
    logger = logger or logging.getLogger("smlmlp.workflow")
    if problem:
        raise ValueError(problem)
    if not channel_paths:
        raise ValueError(f"experiment {experiment}: no channel to write")
    channels = [ChannelInfo.load(path) for path in channel_paths]
    temporal = None
    if on_time_path:
        exposures = {c.name: c.attrs.get("exposure_ms") for c in channels}
        temporal = TemporalInfo.load(on_time_path).with_exposures(exposures)
        _log_on_time(experiment, temporal, exposures, logger)
    path = write_info(
        output_path,
        channels,
        config=json.loads(config_json),
        attrs={"experiment": experiment},
        temporal=temporal,
    )
    logger.info(
        "%s: wrote %s with channel(s) %s", experiment, path, ", ".join(c.name for c in channels)
    )
    return path


def _log_on_time(
    experiment: str,
    temporal: TemporalInfo,
    exposures: Mapping[str, Any],
    logger: logging.Logger,
) -> None:
    """What the info file will say about the on-time, and why it is NaN when it is."""
    average = temporal.average
    if not average.valid:
        logger.warning(
            "%s: no on-time: %s (on_time_ms and on_time_frames are NaN)",
            experiment,
            average.attrs.get("reason") or "no decay found",
        )
        return
    unknown = [name for name, value in exposures.items() if value is None]
    if unknown:
        logger.warning(
            "%s: exposure unknown for channel(s) %s (not in the movie's metadata, "
            "experiment.yaml or the config's exposure_ms): on_time_ms is NaN, the on-time is "
            "%.3f frames (on_time_frames)",
            experiment,
            ", ".join(unknown),
            average.on_time_frames,
        )
    elif not math.isfinite(average.exposure_ms):
        logger.warning(
            "%s: the channels' exposures differ (%s): the experiment's on_time_ms is NaN "
            "(on_time_frames %.3f); each channel's is in /CHANNEL/temporal",
            experiment,
            ", ".join(f"{name} {value:g} ms" for name, value in exposures.items()),
            average.on_time_frames,
        )
    else:
        logger.info(
            "%s: on-time %.2f ms (%.3f frames x %g ms exposure), standard error %.2f ms",
            experiment,
            average.on_time_ms,
            average.on_time_frames,
            average.exposure_ms,
            average.on_time_ms_se,
        )
