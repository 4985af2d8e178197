"""Rule psf: one channel's PSF, Gaussian fit and spline from its summed spectra."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..infofile import ChannelInfo
from ._common import PathLike
from .logs import _warnings_logged
from .settings import pixel_pair, resolve_setting


def run_psf(
    spectrum_path: PathLike,
    source_path: PathLike,
    output_path: PathLike,
    *,
    channel: str,
    crop_pix: int,
    pixel_nm: Sequence[Sequence[Any]] = (),
    exposure_ms: Sequence[Sequence[Any]] = (),
    pixel_nm_from_file: bool = True,
    logger: logging.Logger | None = None,
) -> ChannelInfo:
    """PSF, Gaussian fit and spline of one channel from its summed spectra.

    ``pixel_nm`` and ``exposure_ms`` are ``[origin, value]`` candidates in
    precedence order (from :func:`inspect_experiment`); the movie file's own
    metadata comes first when ``pixel_nm_from_file``.
    """
    from ..psf import estimate_psf
    from ..spectra import SpectrumAccumulator

    logger = logger or logging.getLogger("smlmlp.workflow")
    source = json.loads(Path(source_path).read_text(encoding="utf-8"))
    movie = source["files"][0] if source.get("files") else str(spectrum_path)
    metadata = source.get("metadata") or {}
    file_pixel = metadata.get("pixel_nm") if pixel_nm_from_file else None
    value, origin = resolve_setting(pixel_nm, file_pixel)
    if value is None:
        raise ValueError(
            f"{movie}: no pixel size: the file holds none, and neither experiment.yaml nor "
            "the config sets pixel_nm"
        )
    pixel = pixel_pair(value, f"{movie}: pixel size from {origin}")
    exposure, exposure_origin = resolve_setting(
        exposure_ms, metadata.get("exposure_ms") if pixel_nm_from_file else None
    )
    logger.info("%s: pixel %g x %g nm (y, x) from %s", channel, *pixel, origin)
    accumulator = SpectrumAccumulator.load(spectrum_path)
    ac = accumulator.autocorrelation(crop_pix)
    with _warnings_logged(logger):
        estimate = estimate_psf(ac, pixel, name=f"{source.get('label', channel)} ({movie})")
    info = ChannelInfo.from_estimate(
        channel,
        estimate,
        n_frames=accumulator.n_frames,
        source_files=source.get("files", []),
        source_sizes_bytes=source.get("sizes_bytes", []),
        attrs={
            "crop_pix": int(ac.shape[0]),
            "pixel_nm_origin": origin,
            "exposure_ms": exposure,
            "exposure_ms_origin": exposure_origin,
            "frame_shape": source.get("frame_shape"),
            "split": source.get("split"),
            "half": source.get("half"),
        },
    )
    logger.info(
        "%s: sigx %.1f nm, sigy %.1f nm, theta %.1f deg, sigma %.1f nm%s",
        channel,
        info.sigx_nm,
        info.sigy_nm,
        info.theta_deg,
        info.psf_sigma_nm,
        "" if info.valid else " (no PSF found)",
    )
    info.save(output_path)
    return info
