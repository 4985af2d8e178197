"""What the Snakemake workflow needs beyond the science: experiments, settings, logs.

The workflow (``Snakefile``, ``workflow/``) stays a thin layer: it asks this module
which experiments and channels exist, what each step needs, and calls one
function per step. Everything here works on plain values and paths, so it is
tested without Snakemake.

Experiments
-----------
Every subfolder of ``experiments_dir`` is one experiment. By default every TIFF
in it (``*.tif``, ``*.tiff``) is one channel named after its file stem (a
trailing ``.ome`` is dropped); the further files of a multi-file OME /
Micro-Manager series (``name_1.ome.tif``, ... or files listed in the first
file's OME-XML) belong to the movie of their first file. An optional
``experiment.yaml`` in the folder sets:

.. code-block:: yaml

    pixel_nm: 108             # whole experiment: scalar or [y, x]
    exposure_ms: 30
    split: horizontal         # every TIFF holds two camera halves: left | right
                              # (vertical: top / bottom); channels NAME_left, NAME_right
    channels:                 # optional, per channel (names as found, or new names)
      red:
        file: dualview.tif    # give a channel a name: this file ...
        half: right           # ... and this half (left/right, top/bottom, or 0/1)
        pixel_nm: [108, 110]
        exposure_ms: 30

Pixel size precedence (first found wins): the pixel size stored in the movie
file (OME-XML ``PhysicalSizeX/Y``, or ImageJ / Micro-Manager calibration, unless
the config sets ``pixel_nm_from_file: false``), ``experiment.yaml``
``channels: NAME: pixel_nm``, ``experiment.yaml`` ``pixel_nm``, the config's
``pixel_nm``. The exposure time follows the same order.

Blinking on-time
----------------
With ``on_time: true`` (the default) the ``on_time`` step streams every movie of
an experiment twice more (:func:`run_on_time`, :func:`smlmlp.blink_temporal_on`)
and stores the temporal autocorrelation curves and the fitted correlation time
in frames. The info step attaches each channel's exposure (the precedence
above, as resolved by the ``psf`` step) and writes ``on_time_ms`` =
``on_time_frames`` × exposure, NaN when the exposure is unknown.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import sys
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .config import normalise_pixels_nm
from .infofile import (
    ChannelInfo,
    TemporalInfo,
    atomic_path,
    read_info,
    write_info,
    write_summary,
)

PathLike = str | os.PathLike[str]

#: Name of the per-experiment settings file.
SETTINGS_FILE = "experiment.yaml"
#: Suffixes of movie files (case-insensitive).
TIFF_SUFFIXES = (".tif", ".tiff")
#: Names of the two halves of a split frame.
HALF_NAMES = {"horizontal": ("left", "right"), "vertical": ("top", "bottom")}
#: Memory of the Python process of a step besides its working set (MB).
BASELINE_MEM_MB = 512
#: Frame shape assumed for resource estimates when the movie cannot be read (yet).
FALLBACK_FRAME_SHAPE = (512, 512)
#: Frames averaged into the reference image that every frame range of a movie subtracts.
REFERENCE_FRAMES = 64
#: Name of the one frame range of a movie whose length is unknown when the jobs are planned.
WHOLE_MOVIE = "all"
#: PSF sigma (nm) for the on-time's background filter of a channel without PSF.
DEFAULT_ON_TIME_PSF_SIGMA_NM = 130.0
#: Config keys that shape the numbers in the info files (stored in their ``config``).
ANALYSIS_KEYS = (
    "experiments_dir",
    "pixel_nm",
    "pixel_nm_from_file",
    "crop_pix",
    "exposure_ms",
    "min_frames",
    "cuda",
    "on_time",
    "temporal_lags",
    "on_time_psf_sigma_nm",
)

_SETTINGS_KEYS = {"pixel_nm", "exposure_ms", "split", "channels", "description"}
_CHANNEL_KEYS = {"file", "half", "split", "pixel_nm", "exposure_ms"}
_SERIES_CONTINUATION = re.compile(r"^(?P<base>.+)_(?P<index>\d+)(?P<ome>\.ome)?\.tiff?$", re.I)


#: Errors that carry a message for the user (others also log their traceback, as does
#: any error when the environment variable SMLMLP_TRACEBACK is set).
EXPECTED_ERRORS = (ValueError, TypeError, OSError, RuntimeError)


class SettingsError(ValueError):
    """An ``experiment.yaml`` or a config value that cannot be used."""


# =============================================================================== settings
def pixel_pair(value: Any, where: str) -> tuple[float, float]:
    """One ``(y, x)`` pixel size in nm from a scalar or a pair (ValueError naming ``where``).

    Examples
    --------
    >>> pixel_pair(100, "pixel_nm"), pixel_pair([110, 105.5], "pixel_nm")
    ((100.0, 100.0), (110.0, 105.5))
    >>> pixel_pair(-3, "experiment.yaml: pixel_nm")
    Traceback (most recent call last):
    ...
    ValueError: experiment.yaml: pixel_nm: pixel sizes must be positive and finite, got -3
    """
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) != 2:
        raise ValueError(f"{where}: expected a scalar or a [y, x] pair in nm, got {value!r}")
    return normalise_pixels_nm(value, 1, name=where)[0]


def _positive_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{where}: expected a positive number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{where}: expected a positive number, got {value!r}")
    return float(value)


def _half_index(value: Any, split: str, where: str) -> int:
    names = HALF_NAMES[split]
    if isinstance(value, str) and value.lower() in names:
        return names.index(value.lower())
    if value in (0, 1) and not isinstance(value, bool):
        return int(value)
    raise SettingsError(
        f"{where}: expected one of {names[0]}, {names[1]} (or 0, 1) for a {split} split, "
        f"got {value!r}"
    )


def _split_value(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if value not in HALF_NAMES:
        raise SettingsError(
            f"{where}: expected 'horizontal' (left | right halves) or 'vertical' "
            f"(top / bottom halves), got {value!r}"
        )
    return str(value)


def read_settings(path: PathLike) -> dict[str, Any]:
    """Read and check an ``experiment.yaml`` (SettingsError naming the file and key).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "experiment.yaml"
    >>> _ = path.write_text("pixel_nm: [108, 110]\\nsplit: horizontal\\n")
    >>> read_settings(path)["pixel_nm"]
    [108, 110]
    >>> _ = path.write_text("pixelnm: 108\\n")
    >>> read_settings(path)
    Traceback (most recent call last):
    ...
    smlmlp.workflow_support.SettingsError: ...experiment.yaml: unknown key 'pixelnm' ...
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as stream:
            settings = yaml.safe_load(stream)
    except yaml.YAMLError as error:
        raise SettingsError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from error
    except OSError as error:
        raise SettingsError(f"{path}: cannot be read ({error.strerror})") from error
    if settings is None:
        return {}
    check_settings(settings, str(path))
    return settings


def check_settings(settings: Any, where: str = SETTINGS_FILE) -> None:
    """Check the content of an ``experiment.yaml`` (SettingsError on the first problem)."""
    if not isinstance(settings, Mapping):
        raise SettingsError(f"{where}: expected a mapping of settings, got {settings!r}")
    for key in settings:
        if key not in _SETTINGS_KEYS:
            raise SettingsError(
                f"{where}: unknown key {key!r} (known: {', '.join(sorted(_SETTINGS_KEYS))})"
            )
    try:
        if settings.get("pixel_nm") is not None:
            pixel_pair(settings["pixel_nm"], f"{where}: pixel_nm")
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if settings.get("exposure_ms") is not None:
        _positive_number(settings["exposure_ms"], f"{where}: exposure_ms")
    split = _split_value(settings.get("split"), f"{where}: split")
    channels = settings.get("channels") or {}
    if not isinstance(channels, Mapping):
        raise SettingsError(
            f"{where}: channels: expected a mapping NAME: {{...}}, got {channels!r}"
        )
    for name, entry in channels.items():
        here = f"{where}: channels.{name}"
        _check_channel_name(str(name), here)
        entry = entry or {}
        if not isinstance(entry, Mapping):
            raise SettingsError(f"{here}: expected a mapping of settings, got {entry!r}")
        for key in entry:
            if key not in _CHANNEL_KEYS:
                raise SettingsError(
                    f"{here}: unknown key {key!r} (known: {', '.join(sorted(_CHANNEL_KEYS))})"
                )
        try:
            if entry.get("pixel_nm") is not None:
                pixel_pair(entry["pixel_nm"], f"{here}.pixel_nm")
        except ValueError as error:
            raise SettingsError(str(error)) from None
        if entry.get("exposure_ms") is not None:
            _positive_number(entry["exposure_ms"], f"{here}.exposure_ms")
        channel_split = _split_value(entry.get("split"), f"{here}.split") or split
        if entry.get("half") is not None:
            if channel_split is None:
                raise SettingsError(f"{here}.half: given without a split of the frames")
            _half_index(entry["half"], channel_split, f"{here}.half")
        elif entry.get("file") is not None and channel_split is not None:
            raise SettingsError(f"{here}: the frames are split; say which half")
        if entry.get("file") is not None and not isinstance(entry["file"], str):
            raise SettingsError(f"{here}.file: expected a file name, got {entry['file']!r}")


def _check_channel_name(name: str, where: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith(".") or name != name.strip():
        raise SettingsError(
            f"{where}: invalid channel name {name!r} (non-empty, no slash, no leading dot "
            "or surrounding spaces)"
        )
    return name


# ============================================================================= discovery
@dataclass(frozen=True)
class Channel:
    """Where one channel's frames are and what ``experiment.yaml`` says about it.

    Attributes
    ----------
    name : str
        Channel name.
    files : tuple of str
        The movie file to open first, then the further files of its series.
    split : str or None
        ``"horizontal"`` or ``"vertical"`` when the frames hold two camera halves.
    half : int or None
        Which half (0: left/top, 1: right/bottom).
    pixel_nm : list of [origin, value]
        Pixel sizes from ``experiment.yaml`` and the config, in precedence order.
    exposure_ms : list of [origin, value]
        Same for the exposure time.
    n_frames : int or None
        Number of frames when known before the movie exists (the demo); None:
        read from the movie when needed.
    frame_shape : tuple of int or None
        ``(height, width)`` of the analysed frames, likewise.
    """

    name: str
    files: tuple[str, ...]
    split: str | None = None
    half: int | None = None
    pixel_nm: tuple[tuple[str, Any], ...] = ()
    exposure_ms: tuple[tuple[str, Any], ...] = ()
    n_frames: int | None = field(default=None, compare=False)
    frame_shape: tuple[int, int] | None = field(default=None, compare=False)

    @property
    def movie(self) -> str:
        """The file to open (the series' first file)."""
        return self.files[0]


@dataclass
class Experiment:
    """One experiment folder: its channels, or the problem that prevents reading it."""

    name: str
    folder: str
    channels: dict[str, Channel] = field(default_factory=dict)
    settings_file: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the folder and its settings are usable."""
        return self.problem is None


def _channel_stem(filename: str) -> str:
    stem = filename
    for suffix in TIFF_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if stem.lower().endswith(".ome"):
        stem = stem[:-4]
    return stem


def is_tiff_name(filename: str) -> bool:
    """Whether a file name has a TIFF suffix (and is not hidden)."""
    return not filename.startswith(".") and filename.lower().endswith(TIFF_SUFFIXES)


def _ome_referenced_files(path: Path) -> set[str]:
    """File names an OME-TIFF's XML lists besides itself (empty when unreadable)."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            xml = tif.pages[0].description if tif.pages else ""
    except Exception:  # the job that reads the movie reports unreadable files
        return set()
    if "<OME" not in xml:
        return set()
    names = set(re.findall(r'FileName\s*=\s*"([^"]+)"', xml))
    names.update(re.findall(r'MetadataFile\s*=\s*"([^"]+)"', xml))
    return {os.path.basename(name) for name in names} - {path.name}


def group_series(folder: PathLike, filenames: Sequence[str]) -> dict[str, list[str]]:
    """Group TIFF file names into movies: first file -> all files of its series.

    A file ``X_N.ome.tif`` (N digits) continues ``X.ome.tif`` when that exists
    (Micro-Manager's naming), and OME-TIFF files listed in another file's OME-XML
    belong to that file's series (the alphabetically first file opens it).

    Examples
    --------
    >>> group_series(".", ["a.tif", "cam_MMStack_Pos0.ome.tif", "cam_MMStack_Pos0_1.ome.tif"])
    {'a.tif': ['a.tif'], 'cam_MMStack_Pos0.ome.tif': ['cam_MMStack_Pos0.ome.tif', \
'cam_MMStack_Pos0_1.ome.tif']}
    """
    names = sorted(filenames)
    present = set(names)
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    def join(a: str, b: str) -> None:
        first, second = sorted((root(a), root(b)))
        parent[second] = first

    for name in names:
        match = _SERIES_CONTINUATION.match(name)
        if match and match["ome"]:
            for suffix in (".ome.tif", ".ome.tiff"):
                if match["base"] + suffix in present:
                    join(match["base"] + suffix, name)
        if ".ome." in name.lower():
            for other in _ome_referenced_files(Path(folder) / name):
                if other in present:
                    join(name, other)
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(root(name), []).append(name)
    return groups


def _candidates(*pairs: tuple[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((origin, value) for origin, value in pairs if value is not None)


def inspect_experiment(
    folder: PathLike,
    filenames: Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Experiment:
    """Channels of one experiment folder; problems are reported, never raised.

    Parameters
    ----------
    folder : str or path-like
        The experiment folder.
    filenames : sequence of str, optional
        TIFF file names in it (default: listed from disk).
    settings : mapping, optional
        Content of its ``experiment.yaml`` (default: read from disk when present).
    config : mapping, optional
        Workflow config (``pixel_nm``, ``exposure_ms`` defaults).
    name : str, optional
        Experiment name (default: the folder name).

    Returns
    -------
    Experiment
        With ``problem`` set (and no channels) when the folder cannot be used.
    """
    folder = Path(folder)
    config = config or {}
    experiment = Experiment(name=name or folder.name, folder=str(folder))
    settings_path = folder / SETTINGS_FILE
    try:
        if settings is None:
            if settings_path.is_file():
                settings = read_settings(settings_path)
                experiment.settings_file = str(settings_path)
            else:
                settings = {}
        else:
            check_settings(settings, str(settings_path))
            experiment.settings_file = str(settings_path)
        experiment.settings = dict(settings)
        if filenames is None:
            filenames = [
                entry.name
                for entry in sorted(folder.iterdir())
                if entry.is_file() and is_tiff_name(entry.name)
            ]
        if not filenames:
            raise SettingsError(f"{folder}: no TIFF file (*.tif, *.tiff) in this experiment folder")
        experiment.channels = _channels(folder, filenames, settings, settings_path, config)
    except (SettingsError, OSError) as error:
        experiment.problem = str(error)
        experiment.channels = {}
    return experiment


def _channels(
    folder: Path,
    filenames: Sequence[str],
    settings: Mapping[str, Any],
    settings_path: Path,
    config: Mapping[str, Any],
) -> dict[str, Channel]:
    where = str(settings_path)
    series = group_series(folder, filenames)
    split = settings.get("split")
    entries = {str(k): dict(v or {}) for k, v in (settings.get("channels") or {}).items()}

    # (file, half) -> name, in file order; explicit files first claim their halves
    sources: dict[tuple[str, int | None], str] = {}
    split_of: dict[tuple[str, int | None], str | None] = {}
    explicit: set[tuple[str, int | None]] = set()
    for head in series:
        if split:
            for half, half_name in enumerate(HALF_NAMES[split]):
                sources[(head, half)] = f"{_channel_stem(head)}_{half_name}"
                split_of[(head, half)] = split
        else:
            sources[(head, None)] = _channel_stem(head)
            split_of[(head, None)] = None
    for channel_name, entry in entries.items():
        if entry.get("file") is None:
            continue
        file = os.path.basename(str(entry["file"]))
        if file not in series:
            member = next((h for h, files in series.items() if file in files), None)
            if member is not None:
                raise SettingsError(
                    f"{where}: channels.{channel_name}.file: {file} is a later file of the "
                    f"series that starts with {member}; name the first file"
                )
            raise SettingsError(
                f"{where}: channels.{channel_name}.file: no TIFF named {file} in {folder}"
            )
        channel_split = entry.get("split") or split
        half = None if channel_split is None else _half_index(entry["half"], channel_split, where)
        if channel_split != split:  # a per-channel split replaces the file's default channels
            for key in [k for k in sources if k[0] == file and k not in explicit]:
                del sources[key]
                split_of.pop(key)
        if (file, half) in explicit:
            raise SettingsError(
                f"{where}: channels.{channel_name} and channels.{sources[(file, half)]} name "
                f"the same movie ({file}{'' if half is None else f', half {half}'})"
            )
        sources[(file, half)] = channel_name
        split_of[(file, half)] = channel_split
        explicit.add((file, half))

    names = list(sources.values())
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SettingsError(
            f"{where}: channel name(s) {', '.join(duplicates)} used for more than one movie"
        )
    for channel_name in entries:
        if channel_name not in names:
            raise SettingsError(
                f"{where}: channels.{channel_name} matches no TIFF in {folder} (give its file:)"
            )
    channels = {}
    for (file, half), channel_name in sources.items():
        _check_channel_name(channel_name, f"{folder / file}")
        entry = entries.get(channel_name, {})
        channels[channel_name] = Channel(
            name=channel_name,
            files=tuple(str(folder / f) for f in series[file]),
            split=split_of[(file, half)],
            half=half,
            pixel_nm=_candidates(
                (f"{where} (channels.{channel_name}.pixel_nm)", entry.get("pixel_nm")),
                (f"{where} (pixel_nm)", settings.get("pixel_nm")),
                ("config (pixel_nm)", config.get("pixel_nm")),
            ),
            exposure_ms=_candidates(
                (f"{where} (channels.{channel_name}.exposure_ms)", entry.get("exposure_ms")),
                (f"{where} (exposure_ms)", settings.get("exposure_ms")),
                ("config (exposure_ms)", config.get("exposure_ms")),
            ),
        )
    return dict(sorted(channels.items()))


def discover_experiments(
    experiments_dir: PathLike, config: Mapping[str, Any] | None = None
) -> dict[str, Experiment]:
    """Every experiment under ``experiments_dir``, in name order.

    A folder that cannot be used becomes an :class:`Experiment` with ``problem``
    set, so one bad experiment never stops the others.

    Raises
    ------
    SettingsError
        When ``experiments_dir`` does not exist or holds no experiment folder.
    """
    root = Path(experiments_dir)
    if not root.is_dir():
        raise SettingsError(
            f"experiments_dir {root}: no such folder (one subfolder per experiment is expected)"
        )
    folders = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        raise SettingsError(
            f"experiments_dir {root}: no experiment subfolder (one subfolder per experiment, "
            "holding its TIFF movies)"
        )
    return {folder.name: inspect_experiment(folder, config=config) for folder in folders}


# ================================================================================== demo
#: The bundled demo: two days of a two-colour setup, the second day a dual-view camera.
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

    from .simulation import MovieSimulator

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


def _plain(value: Any) -> Any:
    """JSON/YAML-safe copy (tuples to lists, NumPy scalars to Python)."""
    return json.loads(json.dumps(value, default=lambda v: getattr(v, "tolist", lambda: str(v))()))


# ============================================================================== config
def check_config(config: Mapping[str, Any], schema_path: PathLike) -> None:
    """Check the config against the JSON schema; raise ValueError with one clear line.

    Parameters
    ----------
    config : mapping
        The workflow config.
    schema_path : str or path-like
        ``workflow/schemas/config.schema.yaml``.

    Raises
    ------
    ValueError
        ``"config: crop_pix: -1 is less than the minimum of 3"`` and the like.
    """
    import jsonschema
    import yaml

    with open(schema_path, encoding="utf-8") as stream:
        schema = yaml.safe_load(stream)
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(config)))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        message = " ".join(error.message.split())
        if len(message) > 300:
            message = message[:297] + "..."
        raise ValueError(f"config: {where}: {message}")


def resolve_cuda(setting: Any) -> bool:
    """``cuda`` config value -> whether to use the GPU (``"auto"``: when CuPy sees one)."""
    if setting == "auto":
        from .computer import gpu_available

        return gpu_available()
    return bool(setting)


def analysis_config(config: Mapping[str, Any], experiment: Experiment | None = None) -> str:
    """JSON of the settings that shape an experiment's numbers (stored in its info file)."""
    chosen: dict[str, Any] = {key: config.get(key) for key in ANALYSIS_KEYS if key in config}
    if experiment is not None:
        chosen["experiment"] = experiment.name
        chosen["experiment_settings"] = experiment.settings
    return json.dumps(_plain(chosen), sort_keys=True)


# =========================================================================== resources
def movie_frame_shape(path: PathLike, split: str | None = None) -> tuple[int, int] | None:
    """``(height, width)`` of one analysed frame from the TIFF header, or None.

    Reads only the header and first page, so it is cheap at scheduling time.
    """
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape = series.get_shape(squeeze=True)
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
    memory_budget_mb: float = 256,
    cuda: bool = False,
) -> int:
    """Frames per chunk for the streaming pass: the config's value or one sized to the budget.

    Examples
    --------
    >>> plan_chunk_frames((256, 256), memory_budget_mb=64)
    56
    >>> plan_chunk_frames((256, 256), chunk_frames=10)
    10
    """
    if chunk_frames:
        return int(chunk_frames)
    from .computer import chunk_frames as computer_chunk_frames

    return computer_chunk_frames(frame_shape, cuda=cuda, budget_bytes=int(memory_budget_mb * 2**20))


def autocorr_mem_mb(
    files: Sequence[PathLike],
    split: str | None = None,
    *,
    chunk_frames: int | None = None,
    memory_budget_mb: float = 256,
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
    from .computer import working_memory_bytes

    chunk = plan_chunk_frames(
        shape, chunk_frames=chunk_frames, memory_budget_mb=memory_budget_mb, cuda=cuda
    )
    raw_read_ahead = chunk * shape[0] * shape[1] * 8  # the next chunk, read while this one runs
    working = working_memory_bytes(shape, chunk) + raw_read_ahead
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


def on_time_mem_mb(memory_budget_mb: float = 256) -> int:
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


def on_time_channels(experiment: Experiment) -> list[list[Any]]:
    """``[name, files, split, half]`` of every channel (the on-time step's params).

    Examples
    --------
    >>> on_time_channels(Experiment("e", "data/e", {"red": Channel("red", ("data/e/r.tif",))}))
    [['red', ['data/e/r.tif'], None, None]]
    """
    return [
        [name, list(channel.files), channel.split, channel.half]
        for name, channel in experiment.channels.items()
    ]


def autocorr_runtime_min(files: Sequence[PathLike], fraction: float = 1.0) -> int:
    """Minutes to request for the streaming pass (generous: 5 min + 5 min per GB).

    ``fraction`` is the part of the movie one job reads (a frame range of it).

    Examples
    --------
    >>> autocorr_runtime_min(["missing.tif"])
    5
    """
    size = sum(os.path.getsize(f) for f in files if os.path.exists(f))
    return int(5 + math.ceil(5 * fraction * size / 1e9))


# ========================================================================= frame ranges
def movie_frame_count(files: Sequence[PathLike]) -> int | None:
    """Number of frames of a movie (its series' first file first), or None when unreadable.

    Reads the TIFF headers only (what the autocorrelation job opens), so it is cheap
    when the jobs are planned.
    """
    from .loading import open_movie

    try:
        with open_movie(str(files[0])) as movie:
            return int(movie.shape[0])
    except Exception:  # unreadable files are reported by the job itself
        return None


def plan_frame_ranges(
    n_frames: int, frames_per_job: int, chunk_frames: int
) -> list[tuple[int, int]]:
    """Frame ranges ``[start, stop)`` of the jobs that share one movie.

    Every range but the last holds a whole number of chunks (``frames_per_job``
    rounded down to a multiple of ``chunk_frames``, at least one chunk), so the
    jobs read and transform exactly the chunks one job over the whole movie
    would: their merged sums equal that job's to float64 rounding.
    ``frames_per_job`` 0 means one range.

    Examples
    --------
    >>> plan_frame_ranges(1000, 400, 64)
    [(0, 384), (384, 768), (768, 1000)]
    >>> plan_frame_ranges(1000, 0, 64)
    [(0, 1000)]
    >>> plan_frame_ranges(100, 10, 64)
    [(0, 64), (64, 100)]
    """
    n_frames, chunk = int(n_frames), max(1, int(chunk_frames))
    if n_frames < 1:
        return []
    if frames_per_job <= 0:
        return [(0, n_frames)]
    per_job = max(chunk, int(frames_per_job) // chunk * chunk)
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


def movie_reference(stack: Any, *, n_frames: int = REFERENCE_FRAMES, block: int = 16) -> np.ndarray:
    """The image every job on one movie subtracts from its frames before the FFTs.

    The mean of the first ``min(n, n_frames)`` frames (float32), summed frame by
    frame in float64, so it is the same in every job and on every machine; reading
    at most ``block`` frames at a time keeps it within the job's memory.

    Examples
    --------
    >>> movie = np.arange(3 * 2 * 2, dtype=np.uint16).reshape(3, 2, 2)
    >>> movie_reference(movie, n_frames=2).tolist()
    [[2.0, 3.0], [4.0, 5.0]]
    """
    count = min(int(stack.shape[0]), int(n_frames))
    total = np.zeros(tuple(int(v) for v in stack.shape[1:]), dtype=np.float64)
    for start in range(0, count, max(1, int(block))):
        frames = np.asarray(stack[start : min(start + block, count)])
        for frame in frames:
            total += frame
    return (total / max(count, 1)).astype(np.float32)


# ================================================================================ logs
class FrameProgress:
    """``progress(done, total)`` callback that logs frames done and frames per second.

    Logs at most every ``interval_s`` seconds, and always the last call.
    """

    def __init__(self, label: str, logger: logging.Logger, interval_s: float = 5.0) -> None:
        self.label = label
        self.logger = logger
        self.interval_s = interval_s
        self.start = time.monotonic()
        self._last = -math.inf

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.interval_s:
            return
        self._last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        remaining = (total - done) / rate if rate > 0 else math.inf
        self.logger.info(
            "%s: %d/%d frames (%.0f %%), %.0f frames/s, %s",
            self.label,
            done,
            total,
            100.0 * done / max(total, 1),
            rate,
            "done" if done >= total else f"about {remaining:.0f} s left",
        )


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text


@contextlib.contextmanager
def rule_log(
    log_path: PathLike | None,
    *,
    step: str,
    subject: Sequence[PathLike] | PathLike | None = None,
) -> Iterator[logging.Logger]:
    """Run a workflow step with its log file; turn a failure into one clear line.

    The block's logger writes to ``log_path``. An exception is written to the log
    and reported on stderr as one line ``ERROR <step>: <file>: <problem>`` (the
    file is added when the message does not name it already), and the process
    exits with status 1. The traceback goes to the log only for unexpected errors
    (not :data:`EXPECTED_ERRORS`) or when ``SMLMLP_TRACEBACK`` is set.

    Parameters
    ----------
    log_path : str or path-like or None
        The rule's log file.
    step : str
        Step name, e.g. ``"autocorr 2024-05-13/red"``.
    subject : path or sequence of paths, optional
        Input file(s) the step reads, named in the error line when the message
        does not already.
    """
    logger = logging.getLogger(f"smlmlp.workflow.{step}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handlers: list[logging.Handler] = []
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    for handler in handlers:
        warnings_logger.addHandler(handler)
    started = time.monotonic()
    logger.info("%s: started", step)
    try:
        yield logger
    except Exception as error:
        message = _one_line(error)
        subjects = (
            []
            if subject is None
            else ([subject] if isinstance(subject, (str, os.PathLike)) else list(subject))
        )
        named = [str(s) for s in subjects if s is not None]
        if named and not any(os.path.basename(n) in message or n in message for n in named):
            message = f"{named[0]}: {message}"
        if not isinstance(error, EXPECTED_ERRORS) or os.environ.get("SMLMLP_TRACEBACK"):
            logger.debug("%s", traceback.format_exc().rstrip())
        logger.error("%s", message)
        print(f"ERROR {step}: {message}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    else:
        logger.info("%s: finished in %.1f s", step, time.monotonic() - started)
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            warnings_logger.removeHandler(handler)
            handler.close()


# ================================================================================ steps
def resolve_setting(
    candidates: Sequence[Sequence[Any]],
    from_file: Any = None,
    *,
    file_origin: str = "movie file metadata",
) -> tuple[Any, str | None]:
    """First value in precedence order: the file's metadata, then ``candidates``.

    Returns
    -------
    (value, origin)
        ``(None, None)`` when nothing sets it.

    Examples
    --------
    >>> resolve_setting([["experiment.yaml", 108], ["config", 100]])
    (108, 'experiment.yaml')
    >>> resolve_setting([["config", 100]], from_file=[96.5, 96.5])
    ([96.5, 96.5], 'movie file metadata')
    """
    if from_file is not None:
        return from_file, file_origin
    for origin, value in candidates:
        if value is not None:
            return value, origin
    return None, None


def run_autocorr(
    files: Sequence[PathLike],
    spectrum_path: PathLike,
    source_path: PathLike,
    *,
    label: str,
    split: str | None = None,
    half: int | None = None,
    min_frames: int = 2,
    chunk_frames: int | None = None,
    memory_budget_mb: float = 256,
    cuda: bool = False,
    threads: int = 1,
    frames: tuple[int, int] | None = None,
    logger: logging.Logger | None = None,
) -> dict[str, Any]:
    """Stream one channel's movie, or frames ``frames = (start, stop)`` of it, into sums.

    Writes the :class:`smlmlp.spectra.SpectrumAccumulator` to ``spectrum_path``
    and what was read (files, sizes, frames, file metadata) as JSON to
    ``source_path``; both whole or not at all. Every job subtracts the same
    :func:`movie_reference` from the frames and starts its chunks at ``start``,
    so the sums of frame ranges cut at multiples of ``chunk_frames`` merge
    (:func:`merge_autocorr`) into exactly those of one job over the movie.

    Returns
    -------
    dict
        The content of ``source_path``.
    """
    from .loading import open_movie, split_movie
    from .spectra import accumulate_spectrum

    logger = logger or logging.getLogger("smlmlp.workflow")
    movie_file = str(files[0])
    started = time.monotonic()
    with open_movie(movie_file) as movie:
        stack: Any = movie
        if split:
            stack = split_movie(movie, split, name=movie_file)[int(half or 0)]
        n_frames, height, width = (int(v) for v in stack.shape)
        if n_frames < min_frames:
            raise ValueError(
                f"{movie_file}: {n_frames} frames, at least {min_frames} are needed for a PSF "
                "(config min_frames)"
            )
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
            ", ".join(os.path.basename(p) for p in movie.paths),
            "" if frames is None else f"frames {start}-{stop} of ",
            n_frames,
            height,
            width,
            movie.dtype,
            chunk,
            "GPU" if cuda else f"CPU, {threads} thread(s)",
        )
        accumulator = accumulate_spectrum(
            stack,
            start=start,
            stop=stop,
            chunk_frames=chunk,
            cuda=cuda,
            reference=movie_reference(stack, block=min(chunk, REFERENCE_FRAMES)),
            workers=max(1, int(threads)),
            progress=FrameProgress(label, logger),
            name=label,
        )
        paths = list(movie.paths)
        metadata = dict(movie.metadata)
    accumulator.save(spectrum_path)
    source = {
        "label": label,
        "files": [_display_path(p) for p in paths],
        "sizes_bytes": [os.path.getsize(p) for p in paths],
        "n_frames": accumulator.n_frames,
        "frame_range": [start, stop],
        "movie_frames": n_frames,
        "frame_shape": [height, width],
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
    "movie_frames",
    "frame_shape",
    "split",
    "half",
    "metadata",
    "chunk_frames",
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
    from .spectra import SpectrumAccumulator

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
    merged = SpectrumAccumulator.load(spectrum_paths[order[0]])
    for index in order[1:]:
        merged.merge(SpectrumAccumulator.load(spectrum_paths[index]))
    if merged.n_frames != first["movie_frames"]:
        raise ValueError(
            f"{label}: the partial sums hold {merged.n_frames} frames, the movie has "
            f"{first['movie_frames']}"
        )
    merged.save(spectrum_path)
    source = dict(first)
    source.update(
        n_frames=merged.n_frames,
        frame_range=[0, merged.n_frames],
        frame_ranges=[records[i]["frame_range"] for i in order],
        seconds=round(sum(float(r.get("seconds", 0.0)) for r in records), 3),
    )
    with atomic_path(source_path) as part:
        part.write_text(json.dumps(source, indent=1), encoding="utf-8")
    logger.info("%s: merged %d frame range(s) into %d frames", label, len(records), merged.n_frames)
    return source


def _display_path(path: PathLike) -> str:
    """A path relative to the working directory when it lies below it."""
    path = os.path.abspath(path)
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


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
    from .psf import estimate_psf
    from .spectra import SpectrumAccumulator

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


def run_on_time(
    channels: Sequence[Sequence[Any]],
    psf_paths: Sequence[PathLike],
    output_path: PathLike,
    *,
    label: str,
    temporal_lags: int | None = None,
    fallback_psf_sigma_nm: float = DEFAULT_ON_TIME_PSF_SIGMA_NM,
    memory_budget_mb: float = 256,
    cuda: bool = False,
    threads: int = 1,
    logger: logging.Logger | None = None,
) -> TemporalInfo:
    """Temporal autocorrelations and blinking on-time (in frames) of an experiment.

    Opens every channel's movie as :func:`run_autocorr` does (the series' first
    file, the channel's half of a split frame) and runs
    :func:`smlmlp.blink_temporal_on` over all channels at once, with each
    channel's PSF sigma and pixel size from its ``psf`` result (``psf_paths``).
    A channel without a PSF (NaN sigma) uses ``fallback_psf_sigma_nm`` for its
    background filter, with a warning in the log. The on-time is computed in
    frames (an exposure of 1); :func:`run_info` attaches the exposures.

    Parameters
    ----------
    channels : sequence of [name, files, split, half]
        The experiment's channels (:func:`on_time_channels`).
    psf_paths : sequence of path
        The channels' ``psf`` results (:meth:`ChannelInfo.save`).
    output_path : path
        The :class:`smlmlp.infofile.TemporalInfo` ``.npz``, written whole or not at all.
    label : str
        The experiment's name, in the log.
    temporal_lags : int or None
        Lags of the curves; at most ``n_frames // 2 - 1`` of the shortest movie
        (its value when None).
    fallback_psf_sigma_nm : float
        PSF sigma for channels without a PSF.
    memory_budget_mb : float
        Working memory of the computation.
    cuda : bool
        Use the GPU.
    threads : int
        More than 1: FFTs on every core the job may use.

    Returns
    -------
    TemporalInfo
        As written to ``output_path``.
    """
    from .blink_temporal_on import blink_temporal_on
    from .loading import open_movie, split_movie

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
        movies: dict[str, Any] = {}
        for name, files, split, half in channels:
            name = str(name)
            movie_file = str(files[0])
            if movie_file not in movies:
                movies[movie_file] = opened.enter_context(open_movie(movie_file))
            movie = movies[movie_file]
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
            where.append(f"channel {name} ({_display_path(movie_file)}{half_name})")
            channel_attrs[name] = {
                "background_psf_sigma_nm": float(sigma),
                "background_psf_sigma_origin": origin,
                "n_frames": n_frames,
            }
            logger.info(
                "%s/%s: %s, %d frames of %dx%d px, pixel %g x %g nm, PSF sigma %.1f nm (%s)",
                label,
                name,
                ", ".join(os.path.basename(p) for p in movie.paths) + half_name,
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

        def named(message: str) -> str:
            """The function's "channel 0" as the channel's name and file."""
            return re.sub(
                r"\bchannel (\d+)\b",
                lambda m: where[int(m[1])] if int(m[1]) < len(where) else m[0],
                message,
            )

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                on_time, info = blink_temporal_on(
                    stacks,
                    crop_fr,
                    sigmas,
                    exposure_ms=1.0,
                    channels_pixels_nm=pixels,
                    cuda=bool(cuda),
                    parallel=int(threads) > 1,
                    memory_bytes=max(1, int(memory_budget_mb * 2**20)),
                    progress=FrameProgress(label, logger),
                )
            except ValueError as error:
                raise ValueError(named(str(error))) from error
            except TypeError as error:
                raise TypeError(named(str(error))) from error
        for warning in caught:
            logger.warning("%s", named(str(warning.message)))
    result = TemporalInfo.from_result(
        names,
        on_time,
        info,
        exposure_ms=1.0,
        channel_attrs=channel_attrs,
        attrs={"temporal_lags": temporal_lags},
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


@contextlib.contextmanager
def _warnings_logged(logger: logging.Logger) -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        logger.warning("%s", warning.message)


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
            "%s: on-time %.2f ms (%.3f frames x %g ms exposure)",
            experiment,
            average.on_time_ms,
            average.on_time_frames,
            average.exposure_ms,
        )


def run_figures(
    info_path: PathLike,
    folder: PathLike,
    *,
    experiment: str,
    logger: logging.Logger | None = None,
) -> list[Path]:
    """One PNG per channel of an info file into ``folder``."""
    from .figures import experiment_figures

    logger = logger or logging.getLogger("smlmlp.workflow")
    written = experiment_figures(info_path, folder, experiment)
    for path in written:
        logger.info("%s: wrote %s", experiment, path)
    return written


def run_summary(
    info_paths: Sequence[PathLike],
    table_path: PathLike,
    figure_path: PathLike,
    *,
    logger: logging.Logger | None = None,
) -> list[dict[str, Any]]:
    """``summary.tsv`` and ``summary.png`` over the info files of all experiments."""
    from .figures import save_figure, summary_figure

    logger = logger or logging.getLogger("smlmlp.workflow")
    rows: list[dict[str, Any]] = []
    for path in info_paths:
        info = read_info(path)
        rows.extend(info.summary_rows(str(info.attrs.get("experiment", Path(path).parent.name))))
    write_summary(table_path, rows)
    save_figure(summary_figure(rows), figure_path)
    logger.info("summary of %d channel(s) in %d experiment(s)", len(rows), len(info_paths))
    return rows


__all__ = [
    "Channel",
    "Experiment",
    "FrameProgress",
    "SettingsError",
    "analysis_config",
    "autocorr_mem_mb",
    "autocorr_runtime_min",
    "check_config",
    "check_settings",
    "demo_experiments",
    "demo_outputs",
    "demo_files",
    "discover_experiments",
    "group_series",
    "frame_range_label",
    "inspect_experiment",
    "merge_autocorr",
    "merge_mem_mb",
    "on_time_channels",
    "on_time_mem_mb",
    "on_time_runtime_min",
    "movie_frame_count",
    "movie_frame_shape",
    "movie_reference",
    "parse_frame_range",
    "plan_frame_ranges",
    "pixel_pair",
    "plan_chunk_frames",
    "read_settings",
    "resolve_cuda",
    "resolve_setting",
    "rule_log",
    "run_autocorr",
    "run_figures",
    "run_info",
    "run_on_time",
    "run_psf",
    "run_summary",
    "write_demo",
]
