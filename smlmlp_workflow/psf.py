"""Rule psf: one channel's PSF, Gaussian fit and spline from its summed spectra."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smlmlp import config
from smlmlp.config import resolve_setting
from smlmlp.infofile import ChannelInfo

from ._common import PathLike
from .logs import _warnings_logged
from .settings import no_pixel_size, pixel_and_exposure, pixel_pair


def source_files_relative(
    files: Sequence[PathLike], experiments_dir: PathLike | None
) -> list[str]:
    """The movie's files relative to ``experiments_dir`` ("/"-separated), absolute
    where one lies outside it; as given without ``experiments_dir``.

    The files are named as the step that read them names them (relative to the
    working directory, or absolute), ``experiments_dir`` as configured.

    Examples
    --------
    >>> source_files_relative(["data/e1/red.tif", "/elsewhere/b.tif"], "data")
    ['e1/red.tif', '/elsewhere/b.tif']
    """
    if experiments_dir is None:
        return [os.fspath(file) for file in files]
    root = os.path.abspath(experiments_dir)
    relative = []
    for file in files:
        path = os.path.abspath(file)
        try:
            inside = os.path.commonpath([root, path]) == root
        except ValueError:  # another drive
            inside = False
        if inside:
            relative.append(os.path.relpath(path, root).replace(os.sep, "/"))
        else:
            relative.append(path)
    return relative


def run_psf(
    spectrum_path: PathLike,
    source_path: PathLike,
    output_path: PathLike,
    *,
    channel: str,
    crop_pix: int,
    time_windows: int = 1,
    pixel_nm: Sequence[Sequence[Any]] = (),
    exposure_ms: Sequence[Sequence[Any]] = (),
    pixel_nm_default: Any = None,
    exposure_ms_default: Any = None,
    pixel_nm_from_file: bool = True,
    wavelength_nm: Sequence[Sequence[Any]] = (),
    na: Sequence[Sequence[Any]] = (),
    wavelength_nm_default: Any = None,
    na_default: Any = None,
    experiments_dir: PathLike | None = None,
    logger: logging.Logger | None = None,
) -> ChannelInfo:
    """PSF, Gaussian fit, spline and standard errors of one channel from its block sums.

    ``pixel_nm`` and ``exposure_ms`` are the ``[origin, value]`` candidates set in
    ``experiment.yaml`` (from :func:`inspect_experiment`), ``*_default`` the
    config's; the movie file's own metadata ranks between them when
    ``pixel_nm_from_file`` (:func:`smlmlp.config.resolve_setting`). The emission
    wavelength and the numerical aperture (``wavelength_nm``, ``na``) come from the
    same candidates and defaults, never from the file. The movie's files are stored
    relative to ``experiments_dir`` (:func:`source_files_relative`).
    """
    from smlmlp.channel import estimate_channel
    from smlmlp.sums_io import load_sums

    logger = logger or logging.getLogger("smlmlp.workflow")
    source = json.loads(Path(source_path).read_text(encoding="utf-8"))
    movie = source["files"][0] if source.get("files") else str(spectrum_path)
    metadata = source.get("metadata") or {}
    (value, origin), (exposure, exposure_origin) = pixel_and_exposure(
        pixel_nm,
        exposure_ms,
        metadata,
        pixel_nm_default=pixel_nm_default,
        exposure_ms_default=exposure_ms_default,
        pixel_nm_from_file=pixel_nm_from_file,
    )
    if value is None:
        raise ValueError(no_pixel_size(movie))
    pixel = pixel_pair(value, f"{movie}: pixel size from {origin}")
    wavelength, wavelength_origin = resolve_setting(
        wavelength_nm, None, [["config (wavelength_nm)", wavelength_nm_default]]
    )
    aperture, aperture_origin = resolve_setting(na, None, [["config (na)", na_default]])
    if wavelength is not None:  # checked again: a config edited after the plan
        wavelength = config.wavelength_nm(wavelength, f"wavelength_nm from {wavelength_origin}")
    if aperture is not None:
        aperture = config.numerical_aperture(aperture, f"na from {aperture_origin}")
    if message := config.optics_half_given(wavelength, aperture):
        logger.warning("%s: %s", channel, message)
    logger.info("%s: pixel %g x %g nm (y, x) from %s", channel, *pixel, origin)
    sums = load_sums(spectrum_path)
    with _warnings_logged(logger):
        estimate = estimate_channel(
            sums,
            crop_pix,
            pixel,
            name=f"{source.get('label', channel)} ({movie})",
            time_windows=time_windows,
        )
    info = ChannelInfo.from_estimate(
        channel,
        estimate,
        n_frames=sums.total_frames,
        source_files=source_files_relative(source.get("files", []), experiments_dir),
        source_sizes_bytes=source.get("sizes_bytes", []),
        attrs={
            "source_files_relative_to": (
                None if experiments_dir is None else os.fspath(experiments_dir)
            ),
            "crop_pix": int(estimate.ac.shape[0]),
            "pixel_nm_origin": origin,
            "exposure_ms": exposure,
            "exposure_ms_origin": exposure_origin,
            "wavelength_nm": wavelength,
            "wavelength_nm_origin": wavelength_origin,
            "na": aperture,
            "na_origin": aperture_origin,
            "frame_shape": source.get("frame_shape"),
            "file_channel": source.get("file_channel"),
            "split": source.get("split"),
            "half": source.get("half"),
            "block_frames": sums.block_frames,
            "group_frames": sums.group_frames,
        },
    )
    text = info.formatted()
    logger.info(
        "%s: sigx %s, sigy %s, theta %s, sigma %s; QC %s%s",
        channel,
        text["sigx"],
        text["sigy"],
        text["theta"],
        text["sigma"],
        info.qc,
        f" ({'; '.join(info.qc_notes)})" if info.qc_notes else "",
    )
    info.save(output_path)
    return info
