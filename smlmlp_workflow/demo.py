"""The bundled demo: its experiments, the files it writes, and their simulation."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from smlmlp.atomic import atomic_path
from smlmlp.movie_series import is_tiff_name

from ._common import PathLike, _plain
from .discovery import Experiment, inspect_experiment
from .settings import SETTINGS_FILE, SettingsError

#: The bundled demo: two days of a two-colour setup, the second day a dual-view camera
#: recorded as real acquisitions are: half the emitters bleach by the end, the stage
#: drifts, the laser flickers and out-of-focus haze wanders (smlmlp.artifacts).
DEMO_FRAMES = 1500

DEMO_SHAPE = (64, 64)

DEMO_PIXEL_NM = 100.0

DEMO_EXPOSURE_MS = 20.0

DEMO_SIMULATION = {
    "photons": 2000.0,
    "background": 20.0,
    "on_density_per_um2": 0.5,
    "on_probability": 0.02,
    "on_time_frames": 3.0,
}

DEMO_EXPERIMENTS: dict[str, dict[str, Any]] = {
    "2024-05-13": {
        "channels": {
            "green": {"sigx_nm": 125.0, "sigy_nm": 125.0, "seed": 11},
            "red": {"sigx_nm": 145.0, "sigy_nm": 140.0, "seed": 12},
        },
        "settings": {"pixel_nm": DEMO_PIXEL_NM, "exposure_ms": DEMO_EXPOSURE_MS},
    },
    "2024-05-20": {
        "dualview": "dualview.tif",
        "artifacts": {
            "bleach_lifetime_frames": DEMO_FRAMES / np.log(2.0),
            "drift_px": (0.5, 1.0),
            "flicker": 0.03,
            "haze_photons": 20.0,
        },
        "channels": {
            "green": {"sigx_nm": 130.0, "sigy_nm": 128.0, "seed": 21},
            "red": {"sigx_nm": 158.0, "sigy_nm": 146.0, "seed": 22},
        },
        "settings": {
            "pixel_nm": DEMO_PIXEL_NM,
            "exposure_ms": DEMO_EXPOSURE_MS,
            "split": "horizontal",
            "channels": {
                "green": {"file": "dualview.tif", "half": "left"},
                "red": {"file": "dualview.tif", "half": "right"},
            },
        },
    },
}


def demo_files(experiment: str) -> list[str]:
    """File names the demo writes into one demo experiment folder."""
    spec = DEMO_EXPERIMENTS[experiment]
    movies = [spec["dualview"]] if "dualview" in spec else [f"{c}.tif" for c in spec["channels"]]
    return [*movies, SETTINGS_FILE, "truth.yaml"]


def demo_outputs(experiments_dir: PathLike) -> list[str]:
    """Every file the demo writes (the ``demo`` rule's outputs).

    Examples
    --------
    >>> demo_outputs("demo_data")[:2]
    ['demo_data/2024-05-13/green.tif', 'demo_data/2024-05-13/red.tif']
    """
    return [
        str(Path(experiments_dir) / name / filename)
        for name in DEMO_EXPERIMENTS
        for filename in demo_files(name)
    ]


def demo_experiments(
    experiments_dir: PathLike, config: Mapping[str, Any] | None = None
) -> dict[str, Experiment]:
    """The demo's experiments as they will be on disk once the ``demo`` rule ran.

    Raises
    ------
    SettingsError
        When ``experiments_dir`` holds other folders: the demo never writes among
        a user's experiments.
    """
    root = Path(experiments_dir)
    if root.is_dir():
        others = sorted(
            p.name
            for p in root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and p.name not in DEMO_EXPERIMENTS
        )
        if others:
            raise SettingsError(
                f"experiments_dir {root} holds folders that are not part of the demo "
                f"({', '.join(others[:5])}); set demo: false in the config to analyse them"
            )
    experiments = {}
    for name, spec in DEMO_EXPERIMENTS.items():
        movies = [f for f in demo_files(name) if is_tiff_name(f)]
        experiment = inspect_experiment(
            root / name, movies, spec["settings"], config=config, name=name
        )
        # known before the demo rule writes the movies: the jobs are planned the same way
        # before and after, so a second run has nothing to do
        experiment.channels = {
            key: replace(channel, n_frames=DEMO_FRAMES, frame_shape=DEMO_SHAPE)
            for key, channel in experiment.channels.items()
        }
        experiments[name] = experiment
    return experiments


def write_demo(
    experiments_dir: PathLike,
    *,
    n_frames: int = DEMO_FRAMES,
    logger: logging.Logger | None = None,
) -> list[Path]:
    """Simulate the demo experiments into ``experiments_dir`` (movies, settings, truth).

    Returns
    -------
    list of Path
        Every file written.
    """
    import tifffile
    import yaml

    from smlmlp.simulation import MovieSimulator

    logger = logger or logging.getLogger("smlmlp.demo")
    written = []
    for name, spec in DEMO_EXPERIMENTS.items():
        folder = Path(experiments_dir) / name
        folder.mkdir(parents=True, exist_ok=True)
        truths = {}
        simulators = {}
        for channel, parameters in spec["channels"].items():
            simulators[channel] = MovieSimulator(
                n_frames,
                DEMO_SHAPE,
                pixel_nm=DEMO_PIXEL_NM,
                artifacts=spec.get("artifacts"),
                **DEMO_SIMULATION,
                **parameters,
            )
            truths[channel] = _plain(simulators[channel].truth)
        if "dualview" in spec:
            left, right = (simulators[c] for c in spec["channels"])
            movie = np.concatenate([_whole_movie(left), _whole_movie(right)], axis=2)
            targets = {spec["dualview"]: movie}
        else:
            targets = {f"{c}.tif": _whole_movie(s) for c, s in simulators.items()}
        for filename, movie in targets.items():
            path = folder / filename
            with atomic_path(path, suffix=".tif.part") as part:
                tifffile.imwrite(part, movie, photometric="minisblack")
            logger.info("demo: wrote %s (%d frames of %dx%d)", path, *movie.shape)
            written.append(path)
        settings_text = (
            f"# Settings of the demo experiment {name} (see config/README.md).\n"
            + yaml.safe_dump(spec["settings"], sort_keys=False)
        )
        exposure = float(spec["settings"]["exposure_ms"])
        correlation = [t["correlation_time_frames"] for t in truths.values()]
        summary = {
            "exposure_ms": exposure,
            # every channel blinks alike: the experiment's on-time is theirs
            "correlation_time_frames": float(np.mean(correlation)),
            "on_time_ms": float(np.mean(correlation)) * exposure,
        }
        truth_text = (
            "# What the demo simulated: the PSF widths and the blinking on-time\n"
            "# (correlation_time_frames x exposure_ms) the workflow should find.\n"
            + yaml.safe_dump({**summary, "channels": truths}, sort_keys=False)
        )
        for filename, text in ((SETTINGS_FILE, settings_text), ("truth.yaml", truth_text)):
            with atomic_path(folder / filename) as part:
                part.write_text(text, encoding="utf-8")
            written.append(folder / filename)
    return written


def _whole_movie(simulator: Any) -> np.ndarray:
    """The whole movie of a simulator (chunked generation, one array)."""
    return np.concatenate(list(simulator.chunks(500)))
