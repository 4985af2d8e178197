"""Settings: ``experiment.yaml`` checks, the config's checks, and which value wins.

Pixel size and exposure precedence: :func:`smlmlp.config.resolve_setting`, the
same for the ``smlmlp psf`` command (``experiment.yaml`` ranks with its
``--pixel-nm``, above the movie file's metadata, above the config's defaults).
The emission wavelength and the numerical aperture (``wavelength_nm``, ``na``)
follow the same order without the file's metadata: ``experiment.yaml``'s channel
entry, its experiment value, the config's.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from smlmlp.config import (
    normalise_pixels_nm,
    numerical_aperture,
    positive_number,
    resolve_setting,
    wavelength_nm,
)
from smlmlp.loading import HALF_NAMES

from ._common import PathLike, _plain

if TYPE_CHECKING:
    from .discovery import Experiment


#: Name of the per-experiment settings file.
SETTINGS_FILE = "experiment.yaml"

#: Config keys that shape the numbers in the info files (stored in their ``config``).
ANALYSIS_KEYS = (
    "experiments_dir",
    "pixel_nm",
    "pixel_nm_from_file",
    "crop_pix",
    "time_windows",
    "field_tiles",
    "fiducials",
    "exposure_ms",
    "min_frames",
    "cuda",
    "on_time",
    "temporal_lags",
    "on_time_psf_sigma_nm",
    "wavelength_nm",
    "na",
)

_SETTINGS_KEYS = {
    "pixel_nm",
    "exposure_ms",
    "wavelength_nm",
    "na",
    "split",
    "channels",
    "description",
}

_CHANNEL_KEYS = {
    "file",
    "file_channel",
    "half",
    "split",
    "pixel_nm",
    "exposure_ms",
    "wavelength_nm",
    "na",
}


class SettingsError(ValueError):
    """An ``experiment.yaml`` or a config value that cannot be used."""


def pixel_pair(value: Any, where: str) -> tuple[float, float]:
    """One ``(y, x)`` pixel size in nm from a scalar or a pair (ValueError naming ``where``).

    Examples
    --------
    >>> pixel_pair(100, "pixel_nm"), pixel_pair([110, 105.5], "pixel_nm")
    ((100.0, 100.0), (110.0, 105.5))
    >>> pixel_pair(-3, "experiment.yaml: pixel_nm")
    Traceback (most recent call last):
    ...
    ValueError: experiment.yaml: pixel_nm: must be positive and finite, got -3
    """
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) != 2:
        raise ValueError(f"{where}: expected a scalar or a [y, x] pair in nm, got {value!r}")
    return normalise_pixels_nm(value, 1, name=where)[0]


def pixel_and_exposure(
    pixel_nm: Sequence[Sequence[Any]],
    exposure_ms: Sequence[Sequence[Any]],
    metadata: Mapping[str, Any],
    *,
    pixel_nm_default: Any = None,
    exposure_ms_default: Any = None,
    pixel_nm_from_file: bool = True,
) -> tuple[tuple[Any, str | None], tuple[Any, str | None]]:
    """``((pixel size, origin), (exposure, origin))`` of a channel: its ``experiment.yaml``
    candidates (:attr:`Channel.pixel_nm`, :attr:`Channel.exposure_ms`), then the movie's
    ``metadata`` (``pixel_nm``, ``exposure_ms``; skipped when ``pixel_nm_from_file`` is
    off), then the config's defaults (:func:`smlmlp.config.resolve_setting`).

    Examples
    --------
    >>> pixel_and_exposure([["experiment.yaml", None]], [], {"pixel_nm": [96.0, 96.0]},
    ...                    pixel_nm_default=100, exposure_ms_default=20)
    (([96.0, 96.0], 'movie file metadata'), (20, 'config (exposure_ms)'))
    """
    from_file = metadata if pixel_nm_from_file else {}
    pixel = resolve_setting(
        pixel_nm, from_file.get("pixel_nm"), [["config (pixel_nm)", pixel_nm_default]]
    )
    exposure = resolve_setting(
        exposure_ms, from_file.get("exposure_ms"), [["config (exposure_ms)", exposure_ms_default]]
    )
    return pixel, exposure


def no_pixel_size(movie: str) -> str:
    """What a channel without any pixel size is told (the psf step, ``snakemake plan``)."""
    return (
        f"{movie}: no pixel size: the file holds none, and neither experiment.yaml nor "
        "the config sets pixel_nm"
    )


def _positive_number(value: Any, where: str) -> float:
    try:
        return positive_number(value, where)
    except ValueError as error:
        raise SettingsError(str(error)) from None


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
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "experiment.yaml"
    >>> _ = path.write_text("pixel_nm: [108, 110]\\nsplit: horizontal\\n")
    >>> read_settings(path)["pixel_nm"]
    [108, 110]
    >>> _ = path.write_text("pixelnm: 108\\n")
    >>> read_settings(path)
    Traceback (most recent call last):
    ...
    smlmlp_workflow.settings.SettingsError: ...experiment.yaml: unknown key 'pixelnm' ...
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


def _check_entry(entry: Mapping[str, Any], known: Any, owner: str, join: str) -> None:
    """Known keys, pixel size and exposure of an experiment's or a channel's settings."""
    for key in entry:
        if key not in known:
            raise SettingsError(
                f"{owner}: unknown key {key!r} (known: {', '.join(sorted(known))})"
            )
    try:
        if entry.get("pixel_nm") is not None:
            pixel_pair(entry["pixel_nm"], f"{owner}{join}pixel_nm")
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if entry.get("exposure_ms") is not None:
        _positive_number(entry["exposure_ms"], f"{owner}{join}exposure_ms")
    for key, check in (("wavelength_nm", wavelength_nm), ("na", numerical_aperture)):
        if entry.get(key) is not None:
            try:
                check(entry[key], f"{owner}{join}{key}")
            except ValueError as error:
                raise SettingsError(str(error)) from None


def check_settings(settings: Any, where: str = SETTINGS_FILE) -> None:
    """Check the content of an ``experiment.yaml`` (SettingsError on the first problem)."""
    if not isinstance(settings, Mapping):
        raise SettingsError(f"{where}: expected a mapping of settings, got {settings!r}")
    _check_entry(settings, _SETTINGS_KEYS, where, ": ")
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
        _check_entry(entry, _CHANNEL_KEYS, here, ".")
        channel_split = _split_value(entry.get("split"), f"{here}.split") or split
        if entry.get("half") is not None:
            if channel_split is None:
                raise SettingsError(f"{here}.half: given without a split of the frames")
            _half_index(entry["half"], channel_split, f"{here}.half")
        elif entry.get("file") is not None and channel_split is not None:
            raise SettingsError(f"{here}: the frames are split; say which half")
        if entry.get("file") is not None and not isinstance(entry["file"], str):
            raise SettingsError(f"{here}.file: expected a file name, got {entry['file']!r}")
        inside = entry.get("file_channel")
        if inside is not None:
            if entry.get("file") is None:
                raise SettingsError(f"{here}.file_channel: given without the file: it is in")
            if isinstance(inside, bool) or not (
                (isinstance(inside, int) and inside >= 0) or (isinstance(inside, str) and inside)
            ):
                raise SettingsError(
                    f"{here}.file_channel: expected the channel's index in the file (0, 1, ...) "
                    f"or its name, got {inside!r}"
                )


def _check_channel_name(name: str, where: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith(".") or name != name.strip():
        raise SettingsError(
            f"{where}: invalid channel name {name!r} (non-empty, no slash, no leading dot "
            "or surrounding spaces)"
        )
    return name


#: Words a YAML user types for booleans (``--config demo=false``), any case.
BOOLEAN_WORDS = {
    "true": True, "yes": True, "on": True, "y": True,
    "false": False, "no": False, "off": False, "n": False,
}  # fmt: skip
#: The bundled demo's folder (``experiments_dir``'s default): the demo runs only there.
DEMO_DIR = "demo_data"


#: The config's folders: a leading ``~`` in them is the user's home folder.
FOLDER_KEYS = ("experiments_dir", "results_dir")


#: The JSON schema type of a value an ``enum`` lists, by its Python type's name.
_JSON_TYPES = {"str": "string", "bool": "boolean", "int": "integer", "float": "number",
               "NoneType": "null"}  # fmt: skip


def _schema_alternatives(spec: Mapping[str, Any], defs: Mapping[str, Any]) -> list[dict]:
    """The plain schemas a value of ``spec`` may match (its ``oneOf`` / ``anyOf``
    alternatives, ``$ref`` to ``$defs`` followed)."""
    if "$ref" in spec:
        return _schema_alternatives(defs[str(spec["$ref"]).rsplit("/", 1)[-1]], defs)
    alternatives = [*spec.get("oneOf", []), *spec.get("anyOf", [])]
    if not alternatives:
        return [dict(spec)]
    return [plain for a in alternatives for plain in _schema_alternatives(a, defs)]


def _typed_value(value: Any, spec: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    """``value`` as the schema ``spec`` wants it, where Snakemake's ``--config`` parser
    left a word for a number, a boolean or null (it reads ``[2, 2]`` as ``['2', '2']``,
    ``null`` and ``false`` as words) or made a number of a folder's name."""
    import yaml

    alternatives = _schema_alternatives(spec, defs)
    kinds: set[str] = set()
    for alternative in alternatives:
        kind = alternative.get("type", [])
        kinds.update([kind] if isinstance(kind, str) else kind)
        kinds.update(_JSON_TYPES[type(v).__name__] for v in alternative.get("enum", []))
    if isinstance(value, list):
        items = [a["items"] for a in alternatives if "items" in a]
        return [_typed_value(v, items[0], defs) for v in value] if items else value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value) if kinds == {"string"} else value  # experiments_dir=2024
    if not isinstance(value, str):
        return value
    enums = [a["enum"] for a in alternatives if "enum" in a]
    if "string" in kinds and (not enums or any(value in e for e in enums)):
        return value
    if "boolean" in kinds and value.lower() in BOOLEAN_WORDS:
        return BOOLEAN_WORDS[value.lower()]
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return value if isinstance(parsed, (str, list, dict)) else parsed


def normalise_config(config: dict[str, Any], schema_path: PathLike) -> None:
    """Give the config's values the types its schema declares, and read a leading ``~``
    of the folders (:data:`FOLDER_KEYS`) as the home folder, in place.

    Snakemake's ``--config`` parser reads ``demo=false`` as the word ``"false"``,
    ``field_tiles=[2,2]`` as ``["2", "2"]``, ``exposure_ms=null`` as ``"null"`` and
    ``experiments_dir=2024`` as a number: each becomes what the schema wants (the
    words of :data:`BOOLEAN_WORDS` for booleans, YAML's numbers and ``null`` elsewhere);
    a value the schema's validation must refuse is left as it is. ``experiments_dir:
    ~/data`` in a config file (no shell expands it there) is ``$HOME/data``.

    Examples
    --------
    >>> import os, tempfile, pathlib
    >>> schema = pathlib.Path(tempfile.mkdtemp()) / "s.yaml"
    >>> _ = schema.write_text('''properties:
    ...   demo: {type: boolean}
    ...   cuda: {enum: [false, true, auto]}
    ...   tiles: {oneOf: [{type: "null"}, {type: array, items: {type: integer}}]}
    ...   exposure_ms: {oneOf: [{type: "null"}, {type: number}]}
    ...   experiments_dir: {type: string}''')
    >>> config = {"demo": "false", "cuda": "Yes", "other": "no", "results_dir": "~/out",
    ...           "tiles": ["2", "3"], "exposure_ms": "null", "experiments_dir": 2024}
    >>> normalise_config(config, schema)
    >>> config.pop("results_dir") == os.path.join(os.path.expanduser("~"), "out")
    True
    >>> config  # doctest: +NORMALIZE_WHITESPACE
    {'demo': False, 'cuda': True, 'other': 'no', 'tiles': [2, 3], 'exposure_ms': None,
     'experiments_dir': '2024'}
    >>> normalise_config(config := {"cuda": "auto", "tiles": ["two", "3"]}, schema)
    >>> config
    {'cuda': 'auto', 'tiles': ['two', 3]}
    """
    for key in FOLDER_KEYS:
        if isinstance(config.get(key), str) and config[key].startswith("~"):
            config[key] = os.path.expanduser(config[key])
    import yaml

    with open(schema_path, encoding="utf-8") as stream:
        schema = yaml.safe_load(stream) or {}
    defs = schema.get("$defs", {})
    for key, spec in schema.get("properties", {}).items():
        if key in config:
            config[key] = _typed_value(config[key], spec, defs)


def demo_enabled(config: Mapping[str, Any]) -> bool:
    """Whether to simulate the bundled demo: ``demo`` on and ``experiments_dir`` the demo's.

    A user who names their own folder means that folder: the demo never writes
    into it, whatever ``demo`` says.

    Examples
    --------
    >>> demo_enabled({"demo": True, "experiments_dir": "demo_data"})
    True
    >>> demo_enabled({"demo": True, "experiments_dir": "/data/2024"})
    False
    """
    from pathlib import Path

    folder = Path(str(config.get("experiments_dir", DEMO_DIR)))
    return bool(config.get("demo")) and folder == Path(DEMO_DIR)


def check_config(
    config: Mapping[str, Any],
    schema_path: PathLike,
    *,
    files: Sequence[PathLike] = (),
    command_line: Mapping[str, Any] | None = None,
) -> None:
    """Check the config against the JSON schema; raise ValueError with one clear line.

    Parameters
    ----------
    config : mapping
        The workflow config.
    schema_path : str or path-like
        ``workflow/schemas/config.schema.yaml``.
    files : sequence of path-like, optional
        The config files read (named first in the message).
    command_line : mapping, optional
        The settings given with ``--config``: a fault in one of them is told as
        ``--config KEY: ...``, not as the files'.

    Raises
    ------
    ValueError
        ``"config: crop_pix: -1 is less than the minimum of 3"`` and the like; a key
        the schema does not know is "not a config key".

    Examples
    --------
    >>> from pathlib import Path
    >>> schema = Path(__file__).parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    >>> check_config({"pixel_size": 100}, schema, files=["config/config.yaml"],
    ...              command_line={"pixel_size": 100})
    Traceback (most recent call last):
        ...
    ValueError: --config pixel_size: not a config key (config/README.md lists them)
    """
    import jsonschema
    import yaml

    with open(schema_path, encoding="utf-8") as stream:
        schema = yaml.safe_load(stream)
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(config)))
    if error is None:
        return
    path = [str(part) for part in error.absolute_path]
    keys = path[:1]  # the top-level key at fault
    message = " ".join(error.message.split())
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        keys = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        path.append(", ".join(keys))
        message = "not a config key (config/README.md lists them)"
    if len(message) > 300:
        message = message[:297] + "..."
    where = ".".join(path) or "(top level)"
    if any(key in (command_line or {}) for key in keys):
        raise ValueError(f"--config {where}: {message}")
    origin = ", ".join(str(file) for file in files)
    raise ValueError(f"{origin + ': ' if origin else ''}config: {where}: {message}")


def check_results_dir(path: PathLike) -> None:
    """Raise :class:`SettingsError` when ``results_dir`` cannot be written.

    Checked before any job, so a read-only share gives one line instead of a job
    failing to create its folder. The folder need not exist yet: its nearest
    existing parent must then be writable.

    Examples
    --------
    >>> import tempfile
    >>> check_results_dir(tempfile.mkdtemp() + "/results")
    """
    folder = os.path.abspath(os.fspath(path))
    existing = folder
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise SettingsError(f"results_dir {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        read_only = False
        with contextlib.suppress(OSError):
            read_only = bool(os.statvfs(existing).f_flag & os.ST_RDONLY)
        cause = "a read-only file system" if read_only else "no permission to write"
        raise SettingsError(
            f"results_dir {path}: cannot write in {existing} ({cause}); choose a writable "
            "results_dir (--config results_dir=...)"
        )


def resolve_cuda(setting: Any) -> bool:
    """``cuda`` config value -> whether to use the GPU (``"auto"``: when CuPy sees one)."""
    if setting == "auto":
        from smlmlp.computer import gpu_available

        return gpu_available()
    return bool(setting)


def analysis_config(config: Mapping[str, Any], experiment: Experiment | None = None) -> str:
    """JSON of the settings that shape an experiment's numbers (stored in its info file)."""
    chosen: dict[str, Any] = {key: config.get(key) for key in ANALYSIS_KEYS if key in config}
    if experiment is not None:
        chosen["experiment"] = experiment.name
        chosen["experiment_settings"] = experiment.settings
    return json.dumps(_plain(chosen), sort_keys=True)
