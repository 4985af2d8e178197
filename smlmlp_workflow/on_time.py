"""Rule on_time: temporal autocorrelations and blinking on-time of an experiment.

With ``on_time: true`` (the default) the ``on_time`` step streams every movie of
an experiment twice more (:func:`run_on_time`, :func:`smlmlp.blink_temporal_on`)
and stores the temporal autocorrelation curves and the fitted correlation time
in frames. The info step attaches each channel's exposure (the precedence of
:mod:`smlmlp_workflow.settings`, as resolved by the ``psf`` step) and writes
``on_time_ms`` = ``on_time_frames`` × exposure, NaN when the exposure is unknown.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from smlmlp.blink_temporal_on import DEFAULT_TEMPORAL_LAGS, FALLBACK_PSF_SIGMA_NM
from smlmlp.infofile import ChannelInfo, TemporalInfo
from smlmlp.loading import HALF_NAMES

from ._common import PathLike, _display_path
from .discovery import Experiment
from .logs import FrameProgress
from .resources import DEFAULT_MEMORY_BUDGET_MB


def on_time_channels(experiment: Experiment) -> list[list[Any]]:
    """``[name, files, file_channel, split, half]`` of every channel (the on-time
    step's params).

    Examples
    --------
    >>> from smlmlp_workflow.discovery import Channel
    >>> on_time_channels(Experiment("e", "data/e", {"red": Channel("red", ("data/e/r.tif",))}))
    [['red', ['data/e/r.tif'], None, None, None]]
    """
    return [
        [name, list(channel.files), channel.file_channel, channel.split, channel.half]
        for name, channel in experiment.channels.items()
    ]


def run_on_time(
    channels: Sequence[Sequence[Any]],
    psf_paths: Sequence[PathLike],
    output_path: PathLike,
    *,
    label: str,
    temporal_lags: int | None = DEFAULT_TEMPORAL_LAGS,
    fallback_psf_sigma_nm: float = FALLBACK_PSF_SIGMA_NM,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    cuda: bool = False,
    threads: int = 1,
    logger: logging.Logger | None = None,
    fiducials: bool = True,
) -> TemporalInfo:
    """Temporal autocorrelations and blinking on-time (in frames) of an experiment.

    Opens every channel's movie as :func:`run_autocorr` does (the series' first
    file, the channel's channel of a file of several, its half of a split frame) and runs
    :func:`smlmlp.blink_temporal_on` over all channels at once, with each
    channel's PSF sigma and pixel size from its ``psf`` result (``psf_paths``).
    A channel without a PSF (NaN sigma) uses ``fallback_psf_sigma_nm`` for its
    background filter, with a warning in the log. The on-time is computed in
    frames (an exposure of 1); :func:`run_info` attaches the exposures.

    Parameters
    ----------
    channels : sequence of [name, files, file_channel, split, half]
        The experiment's channels (:func:`on_time_channels`).
    psf_paths : sequence of path
        The channels' ``psf`` results (:meth:`ChannelInfo.save`).
    output_path : path
        The :class:`smlmlp.infofile.TemporalInfo` ``.npz``, written whole or not at all.
    label : str
        The experiment's name, in the log.
    temporal_lags : int or None
        Lags of the curves (default
        :data:`~smlmlp.blink_temporal_on.DEFAULT_TEMPORAL_LAGS`, as the config's
        ``temporal_lags``); at most ``n_frames // 2 - 1`` of the shortest movie
        (its value when None).
    fallback_psf_sigma_nm : float
        PSF sigma for channels without a PSF (default
        :data:`~smlmlp.blink_temporal_on.FALLBACK_PSF_SIGMA_NM`).
    memory_budget_mb : float
        Working memory of the computation.
    cuda : bool
        Use the GPU.
    threads : int
        More than 1: FFTs on every core the job may use.
    fiducials : bool
        Leave out fiducial markers' pixels (the config's ``fiducials``), as the
        autocorrelation does.

    Returns
    -------
    TemporalInfo
        As written to ``output_path``.
    """
    from smlmlp.blink_temporal_on import blink_temporal_on
    from smlmlp.loading import open_movie, split_movie

    logger = logger or logging.getLogger("smlmlp.workflow")
    psf = {}
    for path in psf_paths:
        channel_psf = ChannelInfo.load(path)
        psf[channel_psf.name] = channel_psf
    names: list[str] = []
    stacks: list[Any] = []
    sigmas: list[float] = []
    pixels: list[tuple[float, float]] = []
    where: list[str] = []
    channel_attrs: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as opened:
        movies: dict[tuple[str, int | None], Any] = {}
        for name, files, file_channel, split, half in channels:
            name = str(name)
            movie_file = str(files[0])
            key = (movie_file, file_channel)
            if key not in movies:
                movies[key] = opened.enter_context(open_movie(movie_file, channel=file_channel))
            movie = movies[key]
            stack = split_movie(movie, split, name=movie_file)[int(half or 0)] if split else movie
            if name not in psf:
                raise ValueError(f"{label}: no psf result for channel {name} among {psf_paths}")
            sigma, origin = psf[name].psf_sigma_nm, "psf step"
            if not math.isfinite(sigma):
                sigma, origin = float(fallback_psf_sigma_nm), "config (on_time_psf_sigma_nm)"
                logger.warning(
                    "%s/%s: no PSF was found, so its background filter uses the config's "
                    "on_time_psf_sigma_nm = %g nm",
                    label,
                    name,
                    sigma,
                )
            n_frames, height, width = (int(v) for v in stack.shape)
            names.append(name)
            stacks.append(stack)
            sigmas.append(float(sigma))
            pixels.append(psf[name].pixel_nm)
            half_name = f", {HALF_NAMES[split][int(half or 0)]} half" if split else ""
            inside = f", channel {movie.metadata['channel']}" if file_channel is not None else ""
            where.append(f"channel {name} ({_display_path(movie_file)}{inside}{half_name})")
            channel_attrs[name] = {
                "background_psf_sigma_nm": float(sigma),
                "background_psf_sigma_origin": origin,
                "n_frames": n_frames,
            }
            logger.info(
                "%s/%s: %s, %d frames of %dx%d px, pixel %g x %g nm, PSF sigma %.1f nm (%s)",
                label,
                name,
                ", ".join(os.path.basename(p) for p in movie.paths) + inside + half_name,
                n_frames,
                height,
                width,
                *psf[name].pixel_nm,
                sigma,
                origin,
            )
        if not stacks:
            raise ValueError(f"{label}: no channel to measure the on-time of")
        frames = [int(stack.shape[0]) for stack in stacks]
        most = min(frames) // 2 - 1
        if most < 1:
            raise ValueError(
                f"{where[int(np.argmin(frames))]}: {min(frames)} frames are too few for a "
                "temporal autocorrelation"
            )
        crop_fr = most if temporal_lags is None else min(int(temporal_lags), most)
        if temporal_lags is not None and int(temporal_lags) > most:
            logger.info(
                "%s: temporal_lags %d is more than half of the %d frames of the shortest "
                "movie: %d lags",
                label,
                temporal_lags,
                min(frames),
                crop_fr,
            )
        logger.info(
            "%s: %d lags; every frame is read twice (%d frames in all), %s",
            label,
            crop_fr,
            2 * sum(frames),
            "GPU" if cuda else f"CPU, {threads} thread(s)",
        )

        progress = FrameProgress(label, logger)
        with warnings.catch_warnings(record=True) as caught, progress:
            warnings.simplefilter("always")
            on_time, info, errors = blink_temporal_on(
                stacks,
                crop_fr,
                sigmas,
                exposure_ms=1.0,
                channels_pixels_nm=pixels,
                cuda=bool(cuda),
                parallel=int(threads) > 1,
                # on the GPU the budget is the device's (from its free memory)
                memory_bytes=None if cuda else max(1, int(memory_budget_mb * 2**20)),
                progress=progress,
                names=where,
                full_output=True,
                fiducials=fiducials,
            )
        for warning in caught:
            logger.warning("%s", warning.message)
    for name, k, gain in zip(names, errors["bin_pixels"], errors["pair_gain"], strict=True):
        if k > 1:
            logger.info(
                "%s: channel %s summed over %dx%d pixel bins to fit memory_budget_mb; its "
                "curve is divided by the pair gain %.3g (per single pixel again)",
                label,
                name,
                k,
                k,
                gain,
            )
    result = TemporalInfo.from_result(
        names,
        on_time,
        info,
        exposure_ms=1.0,
        channel_attrs=channel_attrs,
        attrs={"temporal_lags": temporal_lags},
        errors=errors,
    )
    logger.info(
        "%s: on-time %s frames (curve averaged over %d channel(s)); per channel: %s",
        label,
        _frames_text(result.on_time_frames),
        len(names),
        ", ".join(f"{n} {_frames_text(c.on_time_frames)}" for n, c in result.channels.items()),
    )
    result.save(output_path)
    return result


def _frames_text(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.3f}"
