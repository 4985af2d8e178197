"""The HDF5 info file: every channel's PSF, its fit and spline, and where it came from.

Layout of one file (one experiment)::

    /                       attrs: smlmlp_version, created (ISO 8601), config (JSON), ...
    /{channel}/ac           autocorrelation crop (ADU^2)
    /{channel}/psf          normalised PSF (peak 1)
    /{channel}/fit          Gaussian fit on the crop grid
    /{channel}/spline       spline evaluated on the crop grid
    /{channel}/tx, ty       spline knots along x and y (nm)
    /{channel}/coeffs       spline coefficients
                            attrs: sigx_nm, sigy_nm, theta_deg, psf_sigma_nm,
                                   pixel_nm (y, x), n_frames, source_files,
                                   source_sizes_bytes, valid, ...

Files are written whole or not at all: into a temporary file next to the
target, renamed over it only once complete. The same module keeps one channel's
result between workflow steps (:meth:`ChannelInfo.save` / :meth:`ChannelInfo.load`,
an ``.npz``) and writes the summary table.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

#: Datasets of every channel group.
ARRAY_NAMES = ("ac", "psf", "fit", "spline", "tx", "ty", "coeffs")
#: Columns of ``summary.tsv``.
SUMMARY_COLUMNS = (
    "experiment",
    "channel",
    "sigx_nm",
    "sigy_nm",
    "theta_deg",
    "psf_sigma_nm",
    "pixel_y_nm",
    "pixel_x_nm",
    "n_frames",
)
#: Channel attributes with a fixed meaning (everything else goes to ``ChannelInfo.attrs``).
_FIXED_ATTRS = (
    "sigx_nm",
    "sigy_nm",
    "theta_deg",
    "psf_sigma_nm",
    "pixel_nm",
    "n_frames",
    "source_files",
    "source_sizes_bytes",
    "valid",
)
_NPZ_FORMAT = 1

PathLike = str | os.PathLike[str]


def package_version() -> str:
    """Version of the installed ``smlmlp`` package ("unknown" when not installed)."""
    try:
        from smlmlp import __version__

        return str(__version__)
    except ImportError:
        pass
    try:
        from importlib.metadata import version

        return version("smlmlp")
    except Exception:  # not installed: metadata missing
        return "unknown"


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` on success.

    Whatever is written to the temporary path replaces ``path`` in one
    ``os.replace`` once the block ends without an exception; on an exception the
    temporary file is removed, so a reader never sees a half-written ``path``.

    Parameters
    ----------
    path : str or path-like
        Final file name. Missing parent folders are created.
    suffix : str, optional
        Suffix of the temporary name (some writers infer the format from it).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as part:
    ...     _ = part.write_text("complete")
    >>> (folder / "a.txt").read_text(), sorted(p.name for p in folder.iterdir())
    ('complete', ['a.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"invalid channel name {name!r}: a non-empty name without '/'")
    return name


def _scalar(value: Any) -> Any:
    """Plain Python value for a NumPy scalar or 0-d array (attributes, JSON)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode()
    return value


@dataclass
class ChannelInfo:
    """One channel's PSF result with the numbers and provenance the info file keeps.

    Parameters
    ----------
    name : str
        Channel name (the HDF5 group name).
    ac, psf, fit, spline : ndarray
        Autocorrelation crop, PSF, Gaussian fit and spline on the crop grid.
    tx, ty, coeffs : ndarray
        Spline knots (nm) and coefficients.
    sigx_nm, sigy_nm, theta_deg : float
        Gaussian fit: widths in nm, angle in degrees (NaN when no PSF was found).
    pixel_nm : (float, float)
        Pixel size ``(y, x)`` in nm.
    n_frames : int
        Number of frames used.
    source_files : sequence of str, optional
        Movie file(s) the channel was read from.
    source_sizes_bytes : sequence of int, optional
        Their sizes in bytes.
    valid : bool, optional
        Whether a PSF was found.
    attrs : dict, optional
        Further attributes (str, numbers, bools or lists of them), e.g. ``crop_pix``.

    Examples
    --------
    >>> info = ChannelInfo.empty_example()
    >>> round(info.psf_sigma_nm, 3)
    130.0
    >>> info.summary_row("day1")["pixel_x_nm"]
    100.0
    """

    name: str
    ac: np.ndarray
    psf: np.ndarray
    fit: np.ndarray
    spline: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    coeffs: np.ndarray
    sigx_nm: float
    sigy_nm: float
    theta_deg: float
    pixel_nm: tuple[float, float]
    n_frames: int
    source_files: tuple[str, ...] = ()
    source_sizes_bytes: tuple[int, ...] = ()
    valid: bool = True
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name(self.name)
        for array_name in ARRAY_NAMES:
            setattr(self, array_name, np.asarray(getattr(self, array_name), dtype=np.float64))
        self.sigx_nm = float(self.sigx_nm)
        self.sigy_nm = float(self.sigy_nm)
        self.theta_deg = float(self.theta_deg)
        pixel = tuple(float(v) for v in np.ravel(self.pixel_nm))
        if len(pixel) == 1:
            pixel = pixel * 2
        if len(pixel) != 2:
            raise ValueError(f"{self.name}: pixel_nm must be (y, x), got {self.pixel_nm!r}")
        self.pixel_nm = (pixel[0], pixel[1])
        self.n_frames = int(self.n_frames)
        self.source_files = tuple(str(f) for f in self.source_files)
        self.source_sizes_bytes = tuple(int(s) for s in self.source_sizes_bytes)
        self.valid = bool(self.valid)
        self.attrs = {key: _scalar(value) for key, value in dict(self.attrs).items()}

    # ------------------------------------------------------------ derived
    @property
    def psf_sigma_nm(self) -> float:
        """Geometric-mean width ``sqrt(sigx * sigy)`` in nm."""
        return math.sqrt(self.sigx_nm * self.sigy_nm) if self.valid else math.nan

    @property
    def crop_pix(self) -> int:
        """Side of the (square) crop in pixels."""
        return int(self.ac.shape[0])

    def summary_row(self, experiment: str) -> dict[str, Any]:
        """One row of ``summary.tsv`` (keys :data:`SUMMARY_COLUMNS`)."""
        return {
            "experiment": experiment,
            "channel": self.name,
            "sigx_nm": self.sigx_nm,
            "sigy_nm": self.sigy_nm,
            "theta_deg": self.theta_deg,
            "psf_sigma_nm": self.psf_sigma_nm,
            "pixel_y_nm": self.pixel_nm[0],
            "pixel_x_nm": self.pixel_nm[1],
            "n_frames": self.n_frames,
        }

    # ------------------------------------------------------- constructors
    @classmethod
    def from_estimate(
        cls,
        name: str,
        estimate: Any,
        *,
        n_frames: int,
        source_files: Sequence[str] = (),
        source_sizes_bytes: Sequence[int] | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> ChannelInfo:
        """Wrap a :class:`smlmlp.psf.PsfEstimate` with its provenance.

        ``source_sizes_bytes`` defaults to the sizes of ``source_files`` on disk.
        """
        if source_sizes_bytes is None:
            source_sizes_bytes = [
                os.path.getsize(f) if os.path.exists(f) else -1 for f in source_files
            ]
        return cls(
            name=name,
            ac=estimate.ac,
            psf=estimate.psf,
            fit=estimate.fit,
            spline=estimate.spline,
            tx=estimate.tx,
            ty=estimate.ty,
            coeffs=estimate.coeffs,
            sigx_nm=estimate.sigx,
            sigy_nm=estimate.sigy,
            theta_deg=estimate.theta,
            pixel_nm=tuple(estimate.pixel_nm),
            n_frames=n_frames,
            source_files=tuple(source_files),
            source_sizes_bytes=tuple(source_sizes_bytes),
            valid=bool(getattr(estimate, "valid", True)),
            attrs=dict(attrs or {}),
        )

    @classmethod
    def empty_example(cls, name: str = "channel", sigma_nm: float = 130.0) -> ChannelInfo:
        """A small synthetic Gaussian channel (for examples and tests)."""
        pixel = 100.0
        lags = (np.arange(15) - 7) * pixel
        gauss = np.exp(-(lags[None, :] ** 2 + lags[:, None] ** 2) / (2 * sigma_nm**2))
        knots = np.concatenate([[lags[0]] * 3, lags, [lags[-1]] * 3])
        return cls(
            name=name,
            ac=gauss * 50.0,
            psf=gauss,
            fit=gauss,
            spline=gauss,
            tx=knots,
            ty=knots,
            coeffs=np.zeros((len(knots) - 4, len(knots) - 4)),
            sigx_nm=sigma_nm,
            sigy_nm=sigma_nm,
            theta_deg=0.0,
            pixel_nm=(pixel, pixel),
            n_frames=500,
            source_files=(f"{name}.tif",),
            source_sizes_bytes=(4_096_000,),
        )

    # ---------------------------------------------- one channel, as .npz
    def save(self, path: PathLike) -> Path:
        """Write this channel to an ``.npz`` file, whole or not at all."""
        meta = {
            "format": _NPZ_FORMAT,
            "name": self.name,
            "sigx_nm": self.sigx_nm,
            "sigy_nm": self.sigy_nm,
            "theta_deg": self.theta_deg,
            "pixel_nm": list(self.pixel_nm),
            "n_frames": self.n_frames,
            "source_files": list(self.source_files),
            "source_sizes_bytes": list(self.source_sizes_bytes),
            "valid": self.valid,
            "attrs": self.attrs,
        }
        arrays = {name: getattr(self, name) for name in ARRAY_NAMES}
        path = Path(path)
        with atomic_path(path) as part, open(part, "wb") as stream:
            np.savez(stream, meta=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: PathLike) -> ChannelInfo:
        """Read a channel written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                arrays = {name: data[name] for name in ARRAY_NAMES}
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{path}: not a channel PSF file ({error})") from error
        if meta.get("format") != _NPZ_FORMAT:
            raise ValueError(f"{path}: unsupported channel PSF format {meta.get('format')!r}")
        del meta["format"]
        return cls(**meta, **arrays)


# --------------------------------------------------------------------------- HDF5
def _attr_value(value: Any) -> Any:
    """A value h5py can store as an attribute (``None`` is skipped by the caller)."""
    import h5py

    value = _scalar(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            return np.array(value, dtype=h5py.string_dtype())
        if not value:
            return np.array([], dtype=h5py.string_dtype())
        return np.asarray(value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _set_attrs(target: Any, attrs: Mapping[str, Any]) -> None:
    for key, value in attrs.items():
        if value is None:
            continue
        target.attrs[key] = _attr_value(value)


def write_info(
    path: PathLike,
    channels: Sequence[ChannelInfo],
    *,
    config: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write the info file of one experiment, whole or not at all.

    Parameters
    ----------
    path : str or path-like
        Target ``.h5`` file (replaced if it exists).
    channels : sequence of ChannelInfo
        One group per channel, in this order.
    config : mapping, optional
        Settings that produced the file, stored as JSON in the root attribute ``config``.
    attrs : mapping, optional
        Further root attributes (``None`` values are skipped).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "psf_info.h5"
    >>> _ = write_info(target, [ChannelInfo.empty_example("red")], config={"crop_pix": 15})
    >>> info = read_info(target)
    >>> list(info.channels), info.config["crop_pix"], info.channels["red"].sigx_nm
    (['red'], 15, 130.0)
    """
    import h5py

    names = [_check_name(channel.name) for channel in channels]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate channel name(s) {', '.join(duplicates)}")
    root_attrs = {
        "smlmlp_version": package_version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": json.dumps(dict(config or {}), sort_keys=True, default=str),
        "channels": names,
    }
    root_attrs.update(attrs or {})
    path = Path(path)
    with atomic_path(path, suffix=".h5.part") as part:
        with h5py.File(part, "w") as handle:
            _set_attrs(handle, root_attrs)
            for channel in channels:
                group = handle.create_group(channel.name)
                for name in ARRAY_NAMES:
                    group.create_dataset(name, data=getattr(channel, name))
                _set_attrs(
                    group,
                    {
                        "sigx_nm": channel.sigx_nm,
                        "sigy_nm": channel.sigy_nm,
                        "theta_deg": channel.theta_deg,
                        "psf_sigma_nm": channel.psf_sigma_nm,
                        "pixel_nm": np.array(channel.pixel_nm, dtype=np.float64),
                        "n_frames": channel.n_frames,
                        "source_files": list(channel.source_files),
                        "source_sizes_bytes": np.array(channel.source_sizes_bytes, dtype=np.int64),
                        "valid": channel.valid,
                    },
                )
                _set_attrs(group, {k: v for k, v in channel.attrs.items() if k not in _FIXED_ATTRS})
    return path


@dataclass
class InfoFile:
    """Content of an info file as read by :func:`read_info`.

    Attributes
    ----------
    path : Path
    attrs : dict
        Root attributes (``config`` still as its JSON string).
    channels : dict of str to ChannelInfo
        In file order.
    """

    path: Path
    attrs: dict[str, Any]
    channels: dict[str, ChannelInfo]

    @property
    def config(self) -> dict[str, Any]:
        """The ``config`` root attribute, decoded."""
        return json.loads(self.attrs.get("config", "{}"))

    def summary_rows(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """Rows of ``summary.tsv``; ``experiment`` defaults to the file's attribute."""
        experiment = experiment or str(self.attrs.get("experiment", self.path.parent.name))
        return [channel.summary_row(experiment) for channel in self.channels.values()]


def read_info(path: PathLike) -> InfoFile:
    """Read an info file written by :func:`write_info`.

    Raises
    ------
    ValueError
        Naming the file when it is not an info file.
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as handle:
            attrs = {key: _scalar(value) for key, value in handle.attrs.items()}
            order = attrs.get("channels") or list(handle.keys())
            if isinstance(order, str):
                order = [order]
            channels = {}
            for name in order:
                group = handle[name]
                arrays = {key: group[key][()] for key in ARRAY_NAMES}
                group_attrs = {key: _scalar(value) for key, value in group.attrs.items()}
                fixed = {key: group_attrs.pop(key, None) for key in _FIXED_ATTRS}
                group_attrs.pop("psf_sigma_nm", None)
                files = fixed["source_files"] or []
                if isinstance(files, str):
                    files = [files]
                channels[name] = ChannelInfo(
                    name=name,
                    **arrays,
                    sigx_nm=fixed["sigx_nm"],
                    sigy_nm=fixed["sigy_nm"],
                    theta_deg=fixed["theta_deg"],
                    pixel_nm=tuple(fixed["pixel_nm"]),
                    n_frames=fixed["n_frames"],
                    source_files=tuple(files),
                    source_sizes_bytes=tuple(np.ravel(fixed["source_sizes_bytes"] or [])),
                    valid=bool(fixed["valid"]) if fixed["valid"] is not None else True,
                    attrs=group_attrs,
                )
    except (OSError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a readable PSF info file ({error})") from error
    return InfoFile(path=path, attrs=attrs, channels=channels)


# ------------------------------------------------------------------------- summary
def _format_cell(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def write_summary(path: PathLike, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``summary.tsv`` (columns :data:`SUMMARY_COLUMNS`), whole or not at all.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "summary.tsv"
    >>> _ = write_summary(target, [ChannelInfo.empty_example("red").summary_row("day1")])
    >>> print(target.read_text().splitlines()[1])
    day1	red	130.00	130.00	0.00	130.00	100.00	100.00	500
    >>> read_summary(target)[0]["sigx_nm"]
    130.0
    """
    path = Path(path)
    with atomic_path(path) as part, open(part, "w", newline="") as stream:
        writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
        writer.writerow(SUMMARY_COLUMNS)
        for row in rows:
            writer.writerow([_format_cell(row[column]) for column in SUMMARY_COLUMNS])
    return path


def read_summary(path: PathLike) -> list[dict[str, Any]]:
    """Read ``summary.tsv`` back, numbers as floats (``n_frames`` as int)."""
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    for row in rows:
        for column in SUMMARY_COLUMNS[2:]:
            row[column] = int(row[column]) if column == "n_frames" else float(row[column])
    return rows
