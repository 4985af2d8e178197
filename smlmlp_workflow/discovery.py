"""Discovery: the experiments, their channels and the files of each channel's movie.

Every subfolder of ``experiments_dir`` is one experiment. By default every movie
in it is one channel named after its file stem (a trailing ``.ome`` is dropped):
every TIFF (``*.tif``, ``*.tiff``), Zhuang lab ``*.dax`` (its ``.inf`` beside it),
Picasso ``*.raw`` (its ``.yaml`` beside it), Imaris ``*.ims``, OME-Zarr folder
``*.zarr``, Zeiss ``*.czi``, Nikon ``*.nd2``, Andor ``*.sif``, Princeton Instruments
``*.spe`` and HDF5 stacks ``*.h5`` /
``*.hdf5`` (:mod:`smlmlp.formats`). The further files of a
multi-file OME / Micro-Manager TIFF series (``name_1.ome.tif``, ... or files
listed in the first file's OME-XML) and of a Micro-Manager NDTiff dataset (the files
its ``NDTiff.index`` lists) belong to the movie of their first file
(:mod:`smlmlp.movie_series`); a ``.dax`` or ``.raw`` movie's files are the movie and
its sidecar. A TIFF of one image (a snapshot beside the movies) and an HDF5 file
without a dataset of frames (localisations) are left out
(:func:`smlmlp.folder_movies.left_out_files`). An optional
``experiment.yaml`` in the folder sets (a file of several channels is one channel
per channel it holds, ``STEM_NAME``, :func:`file_channels`):

.. code-block:: yaml

    pixel_nm: 108             # whole experiment: scalar or [y, x]
    exposure_ms: 30
    split: horizontal         # every movie holds two camera halves: left | right
                              # (vertical: top / bottom); channels NAME_left, NAME_right
    channels:                 # optional, per channel (names as found, or new names)
      red:
        file: dualview.tif    # give a channel a name: this file ...
        half: right           # ... and this half (left/right, top/bottom, or 0/1)
      far_red:
        file: cell.ome.tif    # a file of several channels ...
        file_channel: Cy5     # ... and this one of them (its name or index)
        pixel_nm: [108, 110]
        exposure_ms: 30
        wavelength_nm: 670    # emission wavelength and numerical aperture: the
        na: 1.4               # diffraction limit 0.21 wavelength / NA (optional)

The values are checked by :mod:`smlmlp_workflow.settings`, which also gives
their precedence.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smlmlp.andor_spool import spool_files
from smlmlp.file_channels import resolve_channel
from smlmlp.folder_movies import folder_series, left_out_files, subfolders_with_movies
from smlmlp.formats import (
    MOVIE_SUFFIXES,
    movie_name,
    sidecar_of,
)
from smlmlp.loading import HALF_NAMES
from smlmlp.movie_series import (
    TIFF_SUFFIXES,
    dataset_index,
    group_series,
)
from smlmlp.tiff_metadata import pco_rec_path

from ._common import PathLike
from .settings import (
    SETTINGS_FILE,
    SettingsError,
    _check_channel_name,
    _half_index,
    check_settings,
    read_settings,
)

#: The movie files an experiment folder may hold, for messages.
MOVIE_PATTERNS = ", ".join(f"*{suffix}" for suffix in (*TIFF_SUFFIXES, *MOVIE_SUFFIXES))



@dataclass(frozen=True)
class Channel:
    """Where one channel's frames are and what ``experiment.yaml`` says about it.

    Attributes
    ----------
    name : str
        Channel name.
    files : tuple of str
        The movie file to open first, then the further files of its series (TIFF) or
        its sidecar (the ``.inf`` of a ``.dax``, the ``.yaml`` of a Picasso ``.raw``).
    file_channel : int or None
        Which channel of a file of several (its index, :mod:`smlmlp.file_channels`);
        None for a file of one movie.
    split : str or None
        ``"horizontal"`` or ``"vertical"`` when the frames hold two camera halves.
    half : int or None
        Which half (0: left/top, 1: right/bottom).
    pixel_nm : list of [origin, value]
        Pixel sizes set in ``experiment.yaml``, in precedence order (the config's
        default comes after the movie file's metadata:
        :func:`smlmlp.config.resolve_setting`).
    exposure_ms : list of [origin, value]
        Same for the exposure time.
    wavelength_nm, na : list of [origin, value]
        Same for the emission wavelength (nm) and the numerical aperture (not read
        from the movie file; the config's value comes last).
    n_frames : int or None
        Number of frames when known before the movie exists (the demo); None:
        read from the movie when needed.
    frame_shape : tuple of int or None
        ``(height, width)`` of the analysed frames, likewise.
    """

    name: str
    files: tuple[str, ...]
    file_channel: int | None = None
    split: str | None = None
    half: int | None = None
    pixel_nm: tuple[tuple[str, Any], ...] = ()
    exposure_ms: tuple[tuple[str, Any], ...] = ()
    wavelength_nm: tuple[tuple[str, Any], ...] = ()
    na: tuple[tuple[str, Any], ...] = ()
    n_frames: int | None = field(default=None, compare=False)
    frame_shape: tuple[int, int] | None = field(default=None, compare=False)

    @property
    def movie(self) -> str:
        """The file to open (the series' first file)."""
        return self.files[0]


@dataclass
class Experiment:
    """One experiment folder: its channels, or the problem that prevents reading it;
    ``left_out``: the files of a movie format in it that are not movies (a snapshot
    beside the movies), each with why (:func:`single_images`)."""

    name: str
    folder: str
    channels: dict[str, Channel] = field(default_factory=dict)
    settings_file: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the folder and its settings are usable."""
        return self.problem is None


def movie_files(folder: PathLike, names: Sequence[str]) -> tuple[str, ...]:
    """The paths of a movie's files: its series, then the sidecar of a ``.dax`` / ``.raw``
    movie when it exists (a missing one is reported by the job that opens the movie),
    the ``NDTiff.index`` of an NDTiff dataset, the ``.rec`` of a pco CamWare recording
    (its exposure), or the layout and frames files of an Andor spooled series.

    Examples
    --------
    >>> movie_files("/data", ["run.tif", "run_1.tif"])
    ('/data/run.tif', '/data/run_1.tif')
    """
    files = [str(Path(folder) / name) for name in names]
    sidecar = sidecar_of(files[0]) or dataset_index(files[0]) or pco_rec_path(files[0])
    if sidecar is not None and os.path.isfile(sidecar):
        files.append(sidecar)
    if files[0].lower().endswith(".sifx"):  # an Andor spooled series: its layout, frames
        files += spool_files(files[0])
    return tuple(files)


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
        Movie file names in it (default: listed from disk, :func:`list_movies`, less
        the single images among them: :attr:`Experiment.left_out`).
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
        if filenames is None:
            os.listdir(folder)  # first, so that a folder nobody may read is named as such
        _check_no_settings_clash(folder, filenames)
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
        listed = filenames is None
        series = folder_series(folder) if listed else group_series(folder, filenames)
        if listed:
            experiment.left_out = left_out_files(folder, series)
            for name in experiment.left_out:
                del series[name]
        if not series:
            deeper = subfolders_with_movies(folder)
            hint = ""
            if experiment.left_out:
                hint = " (" + "; ".join(
                    f"{name}: {why}" for name, why in experiment.left_out.items()
                ) + ")"
            elif deeper:
                which = "subfolders" if len(deeper) > 1 else "subfolder"
                hold = "hold" if len(deeper) > 1 else "holds"
                hint = (
                    f" (its {which} {', '.join(deeper)} {hold} movies: an experiment is a "
                    "folder of movies right under experiments_dir; for them, give "
                    f"experiments_dir={folder})"
                )
            raise SettingsError(
                f"{folder}: no movie file ({MOVIE_PATTERNS}) in this experiment folder{hint}"
            )

        experiment.channels = _channels(
            folder, series, settings, settings_path, config, experiment.left_out
        )
        for channel in experiment.channels.values():
            for file in channel.files:
                if os.path.isfile(file):  # a movie nobody may read stops its experiment only
                    with open(file, "rb"):
                        pass
    except SettingsError as error:
        experiment.problem = str(error)
        experiment.channels = {}
    except OSError as error:
        experiment.problem = os_problem(error, folder)
        experiment.channels = {}
    return experiment


def os_problem(error: OSError, default: PathLike) -> str:
    """One line for a file or folder the system refuses to read, naming it.

    >>> os_problem(PermissionError(13, "Permission denied", "/data/e1"), "/data")
    '/data/e1: no permission to read this folder'
    """
    where = error.filename if error.filename is not None else default
    if isinstance(error, PermissionError):
        kind = "file" if os.path.isfile(where) else "folder"
        return f"{where}: no permission to read this {kind}"
    return f"{where}: cannot be read ({error.strerror or error})"


def _check_no_settings_clash(folder: Path, filenames: Sequence[str] | None) -> None:
    """A Picasso movie ``experiment.raw`` would take the settings file as its metadata."""
    movie = Path(SETTINGS_FILE).stem + ".raw"
    if filenames is None:
        names = [e.name for e in folder.iterdir()] if folder.is_dir() else []
    else:
        names = list(filenames)
    clash = [n for n in names if n.lower() == movie]
    if clash:
        raise SettingsError(
            f"{folder / clash[0]}: a Picasso .raw movie's metadata would be {SETTINGS_FILE}, "
            "the experiment's settings file; rename the movie and its .yaml"
        )


def _channels(
    folder: Path,
    series: Mapping[str, Sequence[str]],
    settings: Mapping[str, Any],
    settings_path: Path,
    config: Mapping[str, Any],
    left_out: Mapping[str, str],
) -> dict[str, Channel]:
    where = str(settings_path)
    split = settings.get("split")
    entries = {str(k): dict(v or {}) for k, v in (settings.get("channels") or {}).items()}
    read = {head: _read_file_channels(folder / head) for head in series}
    inside = {head: channels for head, (channels, _) in read.items()}

    # (file, channel in the file, half) -> name, in file order; explicit entries first
    # claim their movies
    Source = tuple[str, int | None, int | None]
    sources: dict[Source, str] = {}
    split_of: dict[Source, str | None] = {}
    explicit: set[Source] = set()
    for head in series:
        stem = movie_name(folder / head)
        movies = [(i, f"{stem}_{name}") for i, name in enumerate(inside[head])] or [(None, stem)]
        for file_channel, name_of_movie in movies:
            if split:
                for half, half_name in enumerate(HALF_NAMES[split]):
                    sources[(head, file_channel, half)] = f"{name_of_movie}_{half_name}"
                    split_of[(head, file_channel, half)] = split
            else:
                sources[(head, file_channel, None)] = name_of_movie
                split_of[(head, file_channel, None)] = None
    for channel_name, entry in entries.items():
        if entry.get("file") is None:
            continue
        file = _entry_file(entry["file"], series, left_out)
        if file in left_out:
            raise SettingsError(
                f"{where}: channels.{channel_name}.file: {file} is {left_out[file]}"
            )
        if file not in series:
            member = next((h for h, files in series.items() if file in files), None)
            if member is not None:
                raise SettingsError(
                    f"{where}: channels.{channel_name}.file: {file} is a later file of the "
                    f"series that starts with {member}; name the first file"
                )
            raise SettingsError(
                f"{where}: channels.{channel_name}.file: no movie file named {file} in {folder}"
            )
        file_channel = _entry_file_channel(entry, *read[file], f"{where}: channels.{channel_name}")
        channel_split = entry.get("split") or split
        half = None if channel_split is None else _half_index(entry["half"], channel_split, where)
        if channel_split != split:  # a per-channel split replaces the movie's default channels
            for key in [
                k for k in sources if k[:2] == (file, file_channel) and k not in explicit
            ]:
                del sources[key]
                split_of.pop(key)
        key = (file, file_channel, half)
        if key in explicit:
            where_in = "" if file_channel is None else f", channel {inside[file][file_channel]}"
            raise SettingsError(
                f"{where}: channels.{channel_name} and channels.{sources[key]} name "
                f"the same movie ({file}{where_in}{'' if half is None else f', half {half}'})"
            )
        sources[key] = channel_name
        split_of[key] = channel_split
        explicit.add(key)

    names = list(sources.values())
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SettingsError(
            f"{where}: channel name(s) {', '.join(duplicates)} used for more than one movie"
        )
    for channel_name in entries:
        if channel_name not in names:
            raise SettingsError(
                f"{where}: channels.{channel_name} matches no movie file in {folder} (give its "
                "file:)"
            )
    channels = {}
    for (file, file_channel, half), channel_name in sources.items():
        _check_channel_name(channel_name, f"{folder / file}")

        def channel_then_experiment(key: str, name: str = channel_name) -> Any:
            """A setting of this channel's entry, else of the whole experiment."""
            return _candidates(
                (f"{where} (channels.{name}.{key})", entries.get(name, {}).get(key)),
                (f"{where} ({key})", settings.get(key)),
            )

        channels[channel_name] = Channel(
            name=channel_name,
            files=movie_files(folder, series[file]),
            file_channel=file_channel,
            split=split_of[(file, file_channel, half)],
            half=half,
            pixel_nm=channel_then_experiment("pixel_nm"),
            exposure_ms=channel_then_experiment("exposure_ms"),
            wavelength_nm=channel_then_experiment("wavelength_nm"),
            na=channel_then_experiment("na"),
        )
    return dict(sorted(channels.items()))


def _entry_file(
    given: Any, series: Mapping[str, Sequence[str]], left_out: Mapping[str, str]
) -> str:
    """The movie file an ``experiment.yaml`` entry's ``file:`` names, as the experiment's
    series name it: its path in the folder (``Pos0/img_...tif`` in a Micro-Manager
    position folder), else its name alone.

    >>> _entry_file("Pos1/a.tif", {"Pos0/a.tif": [], "Pos1/a.tif": []}, {})
    'Pos1/a.tif'
    >>> _entry_file("/data/e1/red.tif", {"red.tif": ["red.tif"]}, {})
    'red.tif'
    """
    path = str(given).replace("\\", "/")
    known = {name for files in series.values() for name in files} | set(series) | set(left_out)
    return path if path in known else os.path.basename(path)


def _read_file_channels(path: PathLike) -> tuple[tuple[str, ...], str | None]:
    """``(channels, problem)``: the channels of a movie file of several
    (:func:`smlmlp.loading.list_channels`), empty for a file of one movie and for a
    file that cannot be read now (its channel's job says why: ``problem``, the one line
    that tells it; None when it can be read)."""
    from smlmlp.loading import list_channels

    try:
        return list_channels(str(path)), None
    except Exception as error:  # reported by the job that reads the movie
        return (), str(error)


def _entry_file_channel(
    entry: Mapping[str, Any], channels: Sequence[str], problem: str | None, where: str
) -> int | None:
    """The index of the channel of its file an ``experiment.yaml`` entry names
    (``file_channel:``), None for a file of one movie; ``problem``: why the file
    cannot be read (:func:`_read_file_channels`), told when a channel of it is named."""
    file = os.path.basename(str(entry["file"]))
    asked = entry.get("file_channel")
    if asked is None:
        if channels:
            listed = ", ".join(f"{i}: {name}" for i, name in enumerate(channels))
            raise SettingsError(
                f"{where}: {file} holds {len(channels)} channels ({listed}); say which one "
                "with file_channel:"
            )
        return None
    if not channels:
        if str(asked) in ("0", "c0"):
            return None
        if problem is not None:
            raise SettingsError(f"{where}.file_channel: {problem}")
        raise SettingsError(f"{where}.file_channel: {file} holds one channel only")
    try:
        return resolve_channel(file, channels, asked)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{where}.file_channel: {error}") from None


def left_out_lines(experiments: Mapping[str, Experiment]) -> list[str]:
    """One line per file left out of ``experiments`` (:attr:`Experiment.left_out`), for
    the start of a run and its plan.

    >>> left_out_lines({"e1": Experiment("e1", "data/e1", left_out={"bf.tif": "why"})})
    ['e1/bf.tif: left out: why']
    """
    return [
        f"{name}/{file}: left out: {why}"
        for name, experiment in experiments.items()
        for file, why in experiment.left_out.items()
    ]


def discover_experiments(
    experiments_dir: PathLike, config: Mapping[str, Any] | None = None
) -> dict[str, Experiment]:
    """Every experiment under ``experiments_dir``, in name order.

    A folder that cannot be used becomes an :class:`Experiment` with ``problem``
    set, so one bad experiment never stops the others. Hidden folders are skipped, and
    so is the folder of the results when it lies in ``experiments_dir``
    (``config["results_dir"]``, relative to the working folder, or a folder above it).

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
    results = (config or {}).get("results_dir")
    results = Path(results).resolve() if results else None

    def holds_results(folder: Path) -> bool:
        return results is not None and (folder == results or folder in results.parents)

    folders = [
        p
        for p in sorted(root.iterdir())
        if p.is_dir() and not p.name.startswith(".") and not holds_results(p.resolve())
    ]
    if not folders:
        raise SettingsError(
            f"experiments_dir {root}: no experiment subfolder (one subfolder per experiment, "
            "holding its movie files)"
        )
    return {folder.name: inspect_experiment(folder, config=config) for folder in folders}
