"""The HDF5 info file: every channel's PSF, its fit and spline, and where it came from.

Layout of one file (one experiment)::

    /                       attrs: smlmlp_version, created (ISO 8601), config (JSON), ...
    /{channel}/ac           autocorrelation crop (ADU^2)
    /{channel}/psf          normalised PSF (peak 1)
    /{channel}/fit          Gaussian fit on the crop grid
    /{channel}/spline       spline evaluated on the crop grid
    /{channel}/x_nm, y_nm   offset of each column / row of those four from the centre
                            (nm): their HDF5 dimension scales
    /{channel}/tx, ty       spline knots along x and y (nm)
    /{channel}/coeffs       spline coefficients
                            attrs: sigx_nm, sigy_nm, theta_deg, psf_sigma_nm,
                                   their standard errors sigx_nm_se, sigy_nm_se,
                                   theta_deg_se, psf_sigma_nm_se (NaN: none),
                                   n_groups (groups of frames behind them),
                                   qc (valid / warn / invalid), qc_notes,
                                   ceiling_adu, saturated_fraction, floor_adu,
                                   floor_fraction, above_floor_fraction
                                   (clipped values),
                                   dropped_frames (left out), fiducials and
                                   masked_pixels (beads, their pixels left out),
                                   pixel_nm (y, x), n_frames, source_files,
                                   source_files_relative_to, source_sizes_bytes,
                                   file_channel (the channel's name in a file of
                                   several), split, half, valid (0 / 1), wavelength_nm, na,
                                   expected_sigma_nm, sigma_over_expected, ...

Every dataset has a ``units`` attribute (:data:`UNITS`); the 2-D images have ``axes``
("yx": rows are y, columns x) and ``element_size_um`` ([y, x], read by Fiji), and
``x_nm`` / ``y_nm`` attached as dimension scales. Booleans are stored as 0 / 1
(``np.uint8``), which MATLAB's ``h5readatt`` reads.

With the blinking on-time (:class:`TemporalInfo`; absent when it was not measured)::

    /                       attrs: on_time_ms, on_time_frames (the experiment's value)
    /{channel}/temporal/lags    lags 1 .. crop_fr (frames)
    /{channel}/temporal/time_ms the same lags in ms (NaN when the exposure is unknown)
    /{channel}/temporal/ac      temporal autocorrelation per pixel (ADU^2)
    /{channel}/temporal/fit     fitted a * exp(-lag / tau) + c (NaN when no decay)
                            attrs: on_time_ms, on_time_frames, exposure_ms (NaN:
                                   unknown), crop_fr, valid, fit_lags, reason, ...
    /temporal_average/...   the same for the curve averaged over the channels

``lags`` and ``time_ms`` are the dimension scales of ``ac`` and ``fit``.

Files are written whole or not at all (:func:`smlmlp.atomic.atomic_path`): into a
temporary file next to the target, renamed over it only once complete. The same
module keeps one channel's result between workflow steps (:meth:`ChannelInfo.save`
/ :meth:`ChannelInfo.load`, an ``.npz``) and writes the summary table.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import PathLike, atomic_path
from .estimate import PART_WIDTHS, is_round

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
    "sigx_nm_se",
    "sigy_nm_se",
    "theta_deg_se",
    "psf_sigma_nm_se",
    "expected_sigma_nm",
    "sigma_over_expected",
    "qc",
    "qc_notes",
    "pixel_y_nm",
    "pixel_x_nm",
    "n_frames",
    "on_time_ms",
    "on_time_ms_se",
    "on_time_frames",
    "on_time_frames_se",
)
#: Columns of ``summary.tsv`` that hold text, not numbers.
SUMMARY_TEXT_COLUMNS = ("experiment", "channel", "qc", "qc_notes")
#: Columns of ``summary.tsv`` left empty when unknown (no wavelength or NA given).
SUMMARY_EMPTY_WHEN_UNKNOWN = ("expected_sigma_nm", "sigma_over_expected")
#: The diffraction-limited PSF sigma is about this times wavelength / NA (the Gaussian
#: approximation of the in-focus Airy disk, Zhang, Zerubia & Olivo-Marin 2007).
EXPECTED_SIGMA_FACTOR = 0.21
#: The HDF5 file format of the info files (``libver``: that of HDF5 1.8, read by every
#: HDF5 library since 2008, MATLAB's since R2011a): it stores attributes larger than
#: 64 KiB, such as the ``source_files`` of an image sequence of thousands of files.
INFO_FILE_FORMAT = ("v108", "v108")
#: Standard-error attributes of a channel, and the number each belongs to.
SE_NAMES = ("sigx_nm_se", "sigy_nm_se", "theta_deg_se", "psf_sigma_nm_se")
#: The root attribute every info file has (the version of smlmLP that wrote it), by
#: which :func:`is_info_file` tells one from other HDF5 files (movies, Imaris files).
INFO_FILE_MARK = "smlmlp_version"
#: QC verdicts of a channel.
QC_VERDICTS = ("valid", "warn", "invalid")
#: Between the QC notes in the ``qc_notes`` attribute (one string).
QC_NOTES_SEPARATOR = "; "
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
    *SE_NAMES,
    "n_groups",
    "qc",
    "qc_notes",
)
#: Channel attributes computed from the others: written for readers of the file, not read
#: back (:class:`ChannelInfo` derives them).
_DERIVED_ATTRS = ("psf_sigma_nm", "expected_sigma_nm", "sigma_over_expected")
_NPZ_FORMAT = 2
_TEMPORAL_FORMAT = 1
#: Name of a channel's temporal group and of the group of the channels' average.
TEMPORAL_GROUP = "temporal"
TEMPORAL_AVERAGE = "temporal_average"
#: Datasets of every temporal group.
TEMPORAL_ARRAYS = ("lags", "time_ms", "ac", "fit")
#: Optional per-channel sections (HDF5 groups ``/{channel}/{section}`` of datasets):
#: the PSF in windows of frames and in tiles of the field.
SECTION_NAMES = ("time", "field")
#: Pixel coordinates of the 2-D images of a channel: the offset of each column (x) and
#: row (y) from the centre in nm, HDF5 dimension scales of ``ac``, ``psf``, ``fit`` and
#: ``spline`` (written, not read back: :func:`smlmlp.ac_model.lag_grid` gives them).
COORDINATE_NAMES = ("x_nm", "y_nm")
#: The 2-D images of a channel on the crop grid (rows y, columns x).
IMAGE_NAMES = ("ac", "psf", "fit", "spline")
#: Order of the axes of every 2-D array, in the attribute ``axes``: rows are y, columns x.
IMAGE_AXES = "yx"
#: Units of every dataset of the info file (the attribute ``units``), the one place that
#: says them: by group kind, then by name; ``section`` datasets (``/{channel}/time``,
#: ``/{channel}/field``) by their whole name or, failing that, its ending (``*_nm``).
#: ``"1"``: dimensionless (the PSF images are normalised to a peak of 1); ``""``: a count
#: or a flag.
UNITS: dict[str, dict[str, str]] = {
    "channel": {
        "ac": "ADU^2",
        "psf": "1",
        "fit": "1",
        "spline": "1",
        "coeffs": "1",
        "tx": "nm",
        "ty": "nm",
        "x_nm": "nm",
        "y_nm": "nm",
    },
    "temporal": {"lags": "frame", "time_ms": "ms", "ac": "ADU^2", "fit": "ADU^2"},
    "section": {
        "*_nm": "nm",
        "*_nm_se": "nm",
        "*_deg": "degree",
        "*_deg_se": "degree",
        "*_px": "pixel",
        "frame_start": "frame",
        "frame_stop": "frame",
        "n_groups": "",
        "valid": "",
    },
}
#: Attributes stored as 0 / 1 (``np.uint8``: MATLAB's ``h5readatt`` cannot read the
#: enum h5py makes of a boolean) and read back as booleans.
BOOLEAN_ATTRS = ("valid",)


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


def format_value(value: float, error: float = math.nan, unit: str = "", digits: int = 1) -> str:
    """``value ± error unit`` as the table, the log and the figures print it.

    Examples
    --------
    >>> format_value(126.24, 0.81, " nm"), format_value(126.24, math.nan, " nm")
    ('126.2 ± 0.8 nm', '126.2 nm')
    >>> format_value(math.nan, 1.0, " nm")
    'n/a'
    """
    if not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    if math.isfinite(error):
        text += f" ± {error:.{digits}f}"
    return text + unit


def format_widths(values: Mapping[str, tuple[float, float]]) -> dict[str, str]:
    """sigx, sigy, theta and sigma, each ``(value, standard error)`` by its name in
    :data:`smlmlp.estimate.PART_WIDTHS`, as the tables print them (:func:`format_value`);
    the angle of a PSF round within its errors (:func:`smlmlp.estimate.is_round`) reads
    ``round``, since it means nothing.

    Examples
    --------
    >>> widths = {"sigx_nm": (130.0, 1.0), "sigy_nm": (129.0, 1.0),
    ...           "theta_deg": (12.0, 30.0), "psf_sigma_nm": (129.5, 0.7)}
    >>> list(format_widths(widths).values())
    ['130.0 ± 1.0', '129.0 ± 1.0', 'round', '129.5 ± 0.7']
    >>> format_widths({**widths, "sigx_nm": (140.0, 1.0)})["theta_deg"]
    '12.0 ± 30.0'
    """
    text = {key: format_value(*values[key]) for key in PART_WIDTHS}
    (sigx, sigx_se), (sigy, sigy_se) = values["sigx_nm"], values["sigy_nm"]
    if is_round(sigx, sigy, sigx_se, sigy_se, values["psf_sigma_nm"][0]):
        text["theta_deg"] = "round"
    return text


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
    sigx_nm_se, sigy_nm_se, theta_deg_se, psf_sigma_nm_se : float, optional
        Standard errors (NaN: not computed).
    n_groups : int, optional
        Groups of frames behind the standard errors.
    qc : str, optional
        Verdict, one of :data:`QC_VERDICTS`; by default "valid" or "invalid"
        from ``valid``.
    qc_notes : sequence of str, optional
        Why the verdict is not plain "valid".
    attrs : dict, optional
        Further attributes (str, numbers, bools or lists of them), e.g. ``crop_pix``.
    sections : dict, optional
        ``{"time": {...}, "field": {...}}``: named arrays of the PSF in windows of
        frames or tiles of the field (:data:`SECTION_NAMES`).

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
    sigx_nm_se: float = math.nan
    sigy_nm_se: float = math.nan
    theta_deg_se: float = math.nan
    psf_sigma_nm_se: float = math.nan
    n_groups: int = 0
    qc: str = ""
    qc_notes: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name(self.name)
        unknown = sorted(set(self.sections) - set(SECTION_NAMES))
        if unknown:
            raise ValueError(f"{self.name}: unknown section(s) {', '.join(unknown)}")
        self.sections = {
            section: {key: np.asarray(value) for key, value in arrays.items()}
            for section, arrays in self.sections.items()
        }
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
        for name in SE_NAMES:
            setattr(self, name, _float(getattr(self, name)))
        self.n_groups = int(self.n_groups or 0)
        self.qc = str(self.qc or ("valid" if self.valid else "invalid"))
        if self.qc not in QC_VERDICTS:
            raise ValueError(f"{self.name}: qc must be one of {QC_VERDICTS}, got {self.qc!r}")
        notes = self.qc_notes
        if isinstance(notes, str):  # as stored in a file: joined by "; "
            notes = [note for note in notes.split(QC_NOTES_SEPARATOR) if note]
        self.qc_notes = tuple(str(note) for note in notes or ())
        self.attrs = {key: _scalar(value) for key, value in dict(self.attrs).items()}

    # ------------------------------------------------------------ derived
    @property
    def round(self) -> bool:
        """The PSF is round within its errors: theta means nothing."""
        return any(note.startswith("near-round") for note in self.qc_notes)

    def formatted(self) -> dict[str, str]:
        """sigx, sigy, theta and sigma as ``value ± error`` text; theta of a round PSF
        reads "round".

        Examples
        --------
        >>> ChannelInfo.empty_example().formatted()["theta"]
        '0.0°'
        """
        theta = format_value(self.theta_deg, self.theta_deg_se, "°")
        return {
            "sigx": format_value(self.sigx_nm, self.sigx_nm_se, " nm"),
            "sigy": format_value(self.sigy_nm, self.sigy_nm_se, " nm"),
            "theta": "round" if self.valid and self.round else theta,
            "sigma": format_value(self.psf_sigma_nm, self.psf_sigma_nm_se, " nm"),
        }

    @property
    def quality(self) -> dict[str, Any]:
        """The standard errors and the verdict, by attribute name."""
        values = {name: getattr(self, name) for name in SE_NAMES}
        values.update(
            n_groups=self.n_groups, qc=self.qc, qc_notes=QC_NOTES_SEPARATOR.join(self.qc_notes)
        )
        return values

    @property
    def psf_sigma_nm(self) -> float:
        """Geometric-mean width ``sqrt(sigx * sigy)`` in nm."""
        return math.sqrt(self.sigx_nm * self.sigy_nm) if self.valid else math.nan

    @property
    def crop_pix(self) -> int:
        """Side of the (square) crop in pixels."""
        return int(self.ac.shape[0])

    @property
    def expected_sigma_nm(self) -> float:
        """Diffraction-limited sigma ``0.21 * wavelength_nm / na`` in nm, from the
        attributes ``wavelength_nm`` and ``na``; NaN when either is unknown.

        Examples
        --------
        >>> info = ChannelInfo.empty_example(sigma_nm=130.0)
        >>> info.attrs.update(wavelength_nm=670.0, na=1.4)
        >>> round(info.expected_sigma_nm, 2), round(info.sigma_over_expected, 4)
        (100.5, 1.2935)
        """
        wavelength, na = _float(self.attrs.get("wavelength_nm")), _float(self.attrs.get("na"))
        if not (wavelength > 0 and na > 0):
            return math.nan
        return EXPECTED_SIGMA_FACTOR * wavelength / na

    @property
    def sigma_over_expected(self) -> float:
        """``psf_sigma_nm / expected_sigma_nm`` (NaN when either is unknown)."""
        expected = self.expected_sigma_nm
        return self.psf_sigma_nm / expected if math.isfinite(expected) else math.nan

    @property
    def source_paths(self) -> tuple[str, ...]:
        """``source_files`` joined to the attribute ``source_files_relative_to`` (the
        folder they are relative to; empty or absent: as stored)."""
        base = str(self.attrs.get("source_files_relative_to") or "")
        return tuple(os.path.join(base, file) if base else file for file in self.source_files)

    def summary_row(
        self,
        experiment: str,
        on_time_ms: float = math.nan,
        on_time_ms_se: float = math.nan,
        on_time_frames: float = math.nan,
        on_time_frames_se: float = math.nan,
    ) -> dict[str, Any]:
        """One row of ``summary.tsv`` (keys :data:`SUMMARY_COLUMNS`).

        ``on_time_ms`` is the experiment's blinking on-time (NaN: not measured, or the
        exposure unknown), ``on_time_ms_se`` its standard error; ``on_time_frames`` and
        ``on_time_frames_se`` the same in frames (known without the exposure).
        """
        return {
            "experiment": experiment,
            "channel": self.name,
            "sigx_nm": self.sigx_nm,
            "sigy_nm": self.sigy_nm,
            "theta_deg": self.theta_deg,
            "psf_sigma_nm": self.psf_sigma_nm,
            **{name: getattr(self, name) for name in SE_NAMES},
            "expected_sigma_nm": self.expected_sigma_nm,
            "sigma_over_expected": self.sigma_over_expected,
            "qc": self.qc,
            "qc_notes": QC_NOTES_SEPARATOR.join(self.qc_notes),
            "pixel_y_nm": self.pixel_nm[0],
            "pixel_x_nm": self.pixel_nm[1],
            "n_frames": self.n_frames,
            "on_time_ms": _float(on_time_ms),
            "on_time_ms_se": _float(on_time_ms_se),
            "on_time_frames": _float(on_time_frames),
            "on_time_frames_se": _float(on_time_frames_se),
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
        # what the pass found in the frames: clipped values, dropped frames
        found = {
            name: float(getattr(estimate, name, math.nan))
            for name in (
                "ceiling_adu",
                "saturated_fraction",
                "floor_adu",
                "floor_fraction",
                "above_floor_fraction",
            )
        }
        found["dropped_frames"] = int(getattr(estimate, "dropped_frames", 0))
        found["fiducials"] = int(getattr(estimate, "fiducials", 0))
        found["masked_pixels"] = int(getattr(estimate, "masked_pixels", 0))
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
            sigx_nm_se=getattr(estimate, "sigx_se", math.nan),
            sigy_nm_se=getattr(estimate, "sigy_se", math.nan),
            theta_deg_se=getattr(estimate, "theta_se", math.nan),
            psf_sigma_nm_se=getattr(estimate, "psf_sigma_se", math.nan),
            n_groups=getattr(estimate, "n_groups", 0),
            qc=getattr(estimate, "qc", ""),
            qc_notes=tuple(getattr(estimate, "qc_notes", ())),
            attrs={**found, **dict(attrs or {})},
            sections=dict(getattr(estimate, "sections", {}) or {}),
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
            **self.quality,
            "attrs": self.attrs,
            "sections": {section: list(arrays) for section, arrays in self.sections.items()},
        }
        arrays = {name: getattr(self, name) for name in ARRAY_NAMES}
        for section, values in self.sections.items():
            arrays.update({f"{section}__{key}": value for key, value in values.items()})
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
                meta["sections"] = {
                    section: {key: data[f"{section}__{key}"] for key in keys}
                    for section, keys in meta.get("sections", {}).items()
                }
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"{path}: not a channel PSF file ({error})") from error
        if meta.get("format") != _NPZ_FORMAT:
            raise ValueError(f"{path}: unsupported channel PSF format {meta.get('format')!r}")
        del meta["format"]
        return cls(**meta, **arrays)


# ------------------------------------------------------------------- blinking on-time
def _float(value: Any) -> float:
    """A float, NaN for None."""
    value = _scalar(value)
    return math.nan if value is None else float(value)


@dataclass
class TemporalCurve:
    """A temporal autocorrelation at lags ``1 .. crop_fr`` and its fitted decay.

    Parameters
    ----------
    ac : ndarray
        Mean temporal autocovariance per pixel (ADU^2) at lags ``1 .. crop_fr``.
    fit : ndarray
        The fitted ``a * exp(-lag / tau) + c`` at the same lags (NaN when no decay
        was found).
    on_time_frames : float
        The fitted correlation time ``tau`` in frames (NaN when no decay was found).
    exposure_ms : float, optional
        Frame time in ms; NaN (or None) when unknown.
    attrs : dict, optional
        Further attributes (``fit_lags``, ``reason``, ...).

    Examples
    --------
    >>> curve = TemporalCurve.example(tau=3.0, exposure_ms=20.0)
    >>> curve.crop_fr, curve.on_time_ms, float(curve.time_ms[1])
    (60, 60.0, 40.0)
    >>> math.isnan(curve.with_exposure(None).on_time_ms)
    True
    """

    ac: np.ndarray
    fit: np.ndarray
    on_time_frames: float
    exposure_ms: float = math.nan
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ac = np.asarray(self.ac, dtype=np.float64).ravel()
        self.fit = np.asarray(self.fit, dtype=np.float64).ravel()
        if self.ac.size < 1 or self.fit.shape != self.ac.shape:
            raise ValueError(
                f"temporal curve: ac and fit must have the same length >= 1, got "
                f"{self.ac.size} and {self.fit.size}"
            )
        self.on_time_frames = _float(self.on_time_frames)
        self.exposure_ms = _float(self.exposure_ms)
        self.attrs = {key: _scalar(value) for key, value in dict(self.attrs).items()}

    @property
    def crop_fr(self) -> int:
        """Number of lags."""
        return int(self.ac.size)

    @property
    def lags(self) -> np.ndarray:
        """Lags in frames, ``1 .. crop_fr``."""
        return np.arange(1, self.crop_fr + 1, dtype=np.int64)

    @property
    def time_ms(self) -> np.ndarray:
        """Lags in ms (NaN when the exposure is unknown)."""
        return self.lags * self.exposure_ms

    @property
    def on_time_ms(self) -> float:
        """``on_time_frames * exposure_ms`` (NaN when either is unknown)."""
        return self.on_time_frames * self.exposure_ms

    @property
    def on_time_frames_se(self) -> float:
        """Standard error of ``on_time_frames`` (attribute ``on_time_frames_se``; NaN:
        none)."""
        return _float(self.attrs.get("on_time_frames_se"))

    @property
    def on_time_ms_se(self) -> float:
        """Standard error of ``on_time_ms`` (NaN when unknown)."""
        return self.on_time_frames_se * self.exposure_ms

    @property
    def valid(self) -> bool:
        """Whether a decay was found."""
        return math.isfinite(self.on_time_frames)

    def with_exposure(self, exposure_ms: float | None) -> TemporalCurve:
        """A copy with another exposure (None: unknown)."""
        return replace(self, exposure_ms=_float(exposure_ms), attrs=dict(self.attrs))

    @classmethod
    def example(
        cls, tau: float = 3.0, exposure_ms: float | None = None, crop_fr: int = 60
    ) -> TemporalCurve:
        """An exact exponential decay (for examples and tests)."""
        lags = np.arange(1, crop_fr + 1, dtype=np.float64)
        curve = 40.0 * np.exp(-lags / tau) + 0.5
        return cls(curve, curve, tau, exposure_ms, {"fit_lags": int(max(12, 10 * tau))})


@dataclass
class TemporalInfo:
    """The blinking on-time of an experiment: one curve per channel and their average.

    The experiment's value is that of the average curve (the channels see the
    same emitters); the channels' own fits are kept to compare them.

    Parameters
    ----------
    channels : dict of str to TemporalCurve
        One curve per channel.
    average : TemporalCurve
        The mean of the channels' curves and its fit.

    Examples
    --------
    >>> info = TemporalInfo.example(["green", "red"], tau=3.0)
    >>> info = info.with_exposures({"green": 20.0, "red": 20.0})
    >>> info.on_time_frames, info.on_time_ms
    (3.0, 60.0)
    >>> math.isnan(info.with_exposures({"green": 20.0, "red": 25.0}).on_time_ms)
    True
    """

    channels: dict[str, TemporalCurve]
    average: TemporalCurve

    def __post_init__(self) -> None:
        self.channels = {_check_name(name): curve for name, curve in self.channels.items()}
        for name, curve in self.channels.items():
            if curve.crop_fr != self.average.crop_fr:
                raise ValueError(
                    f"{name}: {curve.crop_fr} lags, the average has {self.average.crop_fr}"
                )

    @property
    def on_time_frames(self) -> float:
        """The experiment's on-time (correlation time) in frames."""
        return self.average.on_time_frames

    @property
    def on_time_ms(self) -> float:
        """The experiment's on-time in ms (NaN when the exposure is unknown)."""
        return self.average.on_time_ms

    @property
    def on_time_ms_se(self) -> float:
        """Its standard error (jackknife over groups of frames; NaN when unknown)."""
        return self.average.on_time_ms_se

    @property
    def exposure_ms(self) -> float:
        """The exposure shared by every channel (NaN when unknown or not shared)."""
        return self.average.exposure_ms

    @property
    def crop_fr(self) -> int:
        """Number of lags."""
        return self.average.crop_fr

    def with_exposures(self, exposures: Mapping[str, float | None]) -> TemporalInfo:
        """Attach each channel's exposure (ms; None: unknown).

        The average gets the exposure of the channels when every channel has one
        and they agree; otherwise NaN (its on-time stays known in frames).
        """
        values = [_float(exposures.get(name)) for name in self.channels]
        common = math.nan
        if values and all(math.isfinite(v) for v in values):
            if max(values) - min(values) <= 1e-9 * max(values):
                common = values[0]
        return TemporalInfo(
            channels={
                name: curve.with_exposure(value)
                for (name, curve), value in zip(self.channels.items(), values, strict=True)
            },
            average=self.average.with_exposure(common),
        )

    @classmethod
    def from_result(
        cls,
        names: Sequence[str],
        on_time: float,
        info: Mapping[str, Any],
        *,
        exposure_ms: float = 1.0,
        channel_attrs: Mapping[str, Mapping[str, Any]] | None = None,
        attrs: Mapping[str, Any] | None = None,
        errors: Mapping[str, Any] | None = None,
    ) -> TemporalInfo:
        """Wrap what :func:`smlmlp.blink_temporal_on` returned for channels ``names``.

        ``exposure_ms`` is the exposure the function was called with (the on-time
        is stored in frames; :meth:`with_exposures` attaches the real ones). Each
        channel's own decay is fitted to its curve as the function fits the average
        (:func:`smlmlp.temporal.fit_decay`). ``errors`` is the function's third
        value with ``full_output=True``: the standard error in frames goes to the
        average's ``on_time_frames_se`` attribute.
        """
        from .temporal import fit_decay

        curves = list(info["ac"])
        if len(curves) != len(names):
            raise ValueError(f"{len(curves)} temporal curves for {len(names)} channel(s)")
        lags = np.arange(1, len(info["average"]) + 1, dtype=np.float64)
        channel_attrs = {name: dict((channel_attrs or {}).get(name, {})) for name in names}
        for key in ("bin_pixels", "pair_gain"):  # how the curve was normalised
            for name, value in zip(names, (errors or {}).get(key, ()), strict=False):
                channel_attrs[name][key] = value
        channels = {}
        for name, curve in zip(names, curves, strict=True):
            decay = fit_decay(curve)
            channels[name] = TemporalCurve(
                curve,
                decay.model(lags),
                decay.tau,
                attrs={
                    "fit_lags": decay.fit_lags,
                    "reason": decay.reason,
                    **dict(channel_attrs.get(name, {})),
                },
            )
        decay = fit_decay(info["average"])
        average = TemporalCurve(
            info["average"],
            info["fit"],
            float(on_time) / float(exposure_ms),
            attrs={
                "fit_lags": decay.fit_lags,
                "reason": decay.reason,
                "channels": list(names),
                "on_time_frames_se": _float((errors or {}).get("on_time_frames_se")),
                "jackknife_groups": int((errors or {}).get("n_groups", 0)),
                **dict(attrs or {}),
            },
        )
        return cls(channels=channels, average=average)

    @classmethod
    def example(cls, names: Sequence[str] = ("channel",), tau: float = 3.0) -> TemporalInfo:
        """Exact exponential decays (for examples and tests)."""
        curve = TemporalCurve.example(tau)
        return cls(
            channels={name: curve.with_exposure(None) for name in names},
            average=curve.with_exposure(None),
        )

    # -------------------------------------------------------- between workflow steps
    def save(self, path: PathLike) -> Path:
        """Write to an ``.npz`` file, whole or not at all."""
        curves = [self.average, *self.channels.values()]
        meta = {
            "format": _TEMPORAL_FORMAT,
            "names": list(self.channels),
            "curves": [
                {
                    "on_time_frames": c.on_time_frames,
                    "exposure_ms": c.exposure_ms,
                    "attrs": c.attrs,
                }
                for c in curves
            ],
        }
        arrays = {}
        for index, curve in enumerate(curves):
            arrays[f"ac_{index}"] = curve.ac
            arrays[f"fit_{index}"] = curve.fit
        path = Path(path)
        text = json.dumps(meta, default=_scalar)
        with atomic_path(path) as part, open(part, "wb") as stream:
            np.savez(stream, meta=np.array(text), **arrays)
        return path

    @classmethod
    def load(cls, path: PathLike) -> TemporalInfo:
        """Read a file written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != _TEMPORAL_FORMAT:
                    raise ValueError(f"unsupported format {meta.get('format')!r}")
                curves = [
                    TemporalCurve(
                        data[f"ac_{index}"],
                        data[f"fit_{index}"],
                        entry["on_time_frames"],
                        entry["exposure_ms"],
                        entry["attrs"],
                    )
                    for index, entry in enumerate(meta["curves"])
                ]
        except (OSError, KeyError, ValueError, TypeError) as error:
            raise ValueError(f"{path}: not an on-time file ({error})") from error
        return cls(channels=dict(zip(meta["names"], curves[1:], strict=True)), average=curves[0])


# --------------------------------------------------------------------------- HDF5
def _attr_value(value: Any) -> Any:
    """A value h5py can store as an attribute (``None`` is skipped by the caller)."""
    import h5py

    if isinstance(value, np.ndarray) and value.dtype == np.bool_:
        return value.astype(np.uint8)
    value = _scalar(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # 0 / 1: an HDF5 enum would be unreadable in MATLAB
        return np.uint8(value)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            return np.array(value, dtype=h5py.string_dtype())
        if not value:
            return np.array([], dtype=h5py.string_dtype())
        if all(isinstance(v, bool) for v in value):
            return np.array(value, dtype=np.uint8)
        return np.asarray(value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _finite_or_none(**values: float) -> dict[str, float | None]:
    """The values, None (not written) where NaN."""
    return {key: value if math.isfinite(value) else None for key, value in values.items()}


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
    temporal: TemporalInfo | None = None,
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
    temporal : TemporalInfo, optional
        The blinking on-time: ``/{channel}/temporal`` for every channel,
        ``/temporal_average`` and the root attributes ``on_time_ms`` and
        ``on_time_frames`` (NaN when unknown). Its channels must be ``channels``.

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
    if temporal is not None:
        if sorted(temporal.channels) != sorted(names):
            raise ValueError(
                f"{path}: on-time curves of channel(s) {', '.join(temporal.channels) or 'none'}"
                f" for channel(s) {', '.join(names)}"
            )
        if TEMPORAL_AVERAGE in names:
            raise ValueError(
                f"{path}: a channel named {TEMPORAL_AVERAGE!r} clashes with the on-time's "
                "average group; rename it"
            )
    root_attrs = {
        INFO_FILE_MARK: package_version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": json.dumps(dict(config or {}), sort_keys=True, default=str),
        "channels": names,
    }
    if temporal is not None:
        root_attrs["on_time_ms"] = temporal.on_time_ms
        root_attrs["on_time_frames"] = temporal.on_time_frames
        root_attrs["on_time_ms_se"] = temporal.on_time_ms_se
    root_attrs.update(attrs or {})
    path = Path(path)
    # built in memory, then written in one go: a full disk fails that plain write
    # (one clear error, nothing partial) rather than the HDF5 library mid-file
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", libver=INFO_FILE_FORMAT) as handle:
        _set_attrs(handle, root_attrs)
        for channel in channels:
            group = handle.create_group(channel.name)
            _write_channel_arrays(group, channel)
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
                    **channel.quality,
                    **_finite_or_none(
                        expected_sigma_nm=channel.expected_sigma_nm,
                        sigma_over_expected=channel.sigma_over_expected,
                    ),
                },
            )
            _set_attrs(
                group,
                {
                    k: v
                    for k, v in channel.attrs.items()
                    if k not in _FIXED_ATTRS and k not in _DERIVED_ATTRS
                },
            )
            for section, values in channel.sections.items():
                _write_section(group.create_group(section), values)
            if temporal is not None:
                _write_temporal(
                    group.create_group(TEMPORAL_GROUP), temporal.channels[channel.name]
                )
        if temporal is not None:
            _write_temporal(handle.create_group(TEMPORAL_AVERAGE), temporal.average)
    # a copy (a few kilobytes to megabytes), not a view: a failed write's traceback
    # would keep a view, and Python 3.13 then reports the buffer freed under it
    with atomic_path(path, suffix=".h5.part") as part:
        part.write_bytes(buffer.getvalue())
    return path


def dataset_units(name: str, kind: str = "channel") -> str:
    """Units of a dataset of the info file (:data:`UNITS`), from its kind and name.

    ``kind`` is ``"channel"`` (``/{channel}/...``), ``"temporal"``
    (``/{channel}/temporal/...``, ``/temporal_average/...``) or ``"section"``
    (``/{channel}/time/...``, ``/{channel}/field/...``).

    Examples
    --------
    >>> dataset_units("ac"), dataset_units("fit"), dataset_units("fit", "temporal")
    ('ADU^2', '1', 'ADU^2')
    >>> dataset_units("sigx_nm_se", "section"), dataset_units("theta_deg", "section")
    ('nm', 'degree')
    """
    units = UNITS[kind]
    if name in units:
        return units[name]
    endings = sorted((key for key in units if key.startswith("*")), key=len, reverse=True)
    for ending in endings:
        if name.endswith(ending[1:]):
            return units[ending]
    return ""


def section_unit(name: str) -> str:
    """Units of a section's dataset, from its name (:func:`dataset_units`).

    Examples
    --------
    >>> section_unit("sigx_nm_se"), section_unit("theta_deg"), section_unit("frame_start")
    ('nm', 'degree', 'frame')
    """
    return dataset_units(name, "section")


def _dataset(group: Any, name: str, data: Any, kind: str) -> Any:
    """A new dataset with its ``units`` attribute."""
    dataset = group.create_dataset(name, data=np.asarray(data))
    dataset.attrs["units"] = dataset_units(name, kind)
    return dataset


def _attach(dataset: Any, scales: Sequence[tuple[Any, str]]) -> None:
    """Attach one dimension scale (and label) per axis of ``dataset``."""
    for axis, (scale, label) in enumerate(scales):
        dataset.dims[axis].attach_scale(scale)
        dataset.dims[axis].label = label


def _write_channel_arrays(group: Any, channel: ChannelInfo) -> None:
    """The channel's datasets: images with their pixel coordinates as dimension scales.

    ``x_nm`` / ``y_nm`` hold the offset of each column / row from the centre in nm;
    every image carries ``axes`` ("yx": rows are y, columns x) and
    ``element_size_um`` ([y, x] pixel size in µm, read by Fiji's HDF5 plugin).
    """
    from .ac_model import lag_grid

    for name in ARRAY_NAMES:
        _dataset(group, name, getattr(channel, name), "channel")
    size = channel.crop_pix
    x, y = lag_grid(size, channel.pixel_nm)
    scales = {}
    for name, values, label in (("y_nm", y[:, 0], "y"), ("x_nm", x[0], "x")):
        scale = _dataset(group, name, values, "channel")
        scale.make_scale(label)
        scales[label] = scale
    element_size_um = np.array(channel.pixel_nm, dtype=np.float64) / 1000.0
    for name in IMAGE_NAMES:
        dataset = group[name]
        dataset.attrs["axes"] = IMAGE_AXES
        if dataset.shape != (size, size):
            continue
        dataset.attrs["element_size_um"] = element_size_um
        _attach(dataset, [(scales["y"], "y"), (scales["x"], "x")])
    group["coeffs"].attrs["axes"] = IMAGE_AXES  # along ty, tx


def _write_section(group: Any, values: Mapping[str, np.ndarray]) -> None:
    """A section's datasets; the frames or tile centres as their dimension scales."""
    datasets = {key: _dataset(group, key, value, "section") for key, value in values.items()}
    axes = {}
    if "frame_start" in datasets:  # time: one value per window of frames
        axes[1] = [("frame_start", "window")]
    if "row_centre_px" in datasets and "column_centre_px" in datasets:  # field: (NY, NX)
        axes[2] = [("row_centre_px", "y"), ("column_centre_px", "x")]
    for scale_name, label in (*axes.get(1, []), *axes.get(2, [])):
        datasets[scale_name].make_scale(label)
    scale_names = {name for pairs in axes.values() for name, _ in pairs}
    for key, dataset in datasets.items():
        pairs = axes.get(dataset.ndim)
        if key in scale_names or not pairs:
            continue
        if [datasets[name].shape[0] for name, _ in pairs] != list(dataset.shape):
            continue
        if dataset.ndim == 2:
            dataset.attrs["axes"] = IMAGE_AXES
        _attach(dataset, [(datasets[name], label) for name, label in pairs])


#: Attributes of a temporal group with a fixed meaning (the rest is ``TemporalCurve.attrs``).
_TEMPORAL_ATTRS = ("on_time_ms", "on_time_frames", "exposure_ms", "crop_fr", "valid")


def _write_temporal(group: Any, curve: TemporalCurve) -> None:
    lags = _dataset(group, "lags", curve.lags, "temporal")
    time_ms = _dataset(group, "time_ms", curve.time_ms, "temporal")
    lags.make_scale("lag")
    time_ms.make_scale("time")
    for name in ("ac", "fit"):
        dataset = _dataset(group, name, getattr(curve, name), "temporal")
        dataset.dims[0].attach_scale(lags)
        dataset.dims[0].attach_scale(time_ms)
        dataset.dims[0].label = "lag"
    _set_attrs(
        group,
        {
            "on_time_ms": curve.on_time_ms,
            "on_time_frames": curve.on_time_frames,
            "exposure_ms": curve.exposure_ms,
            "crop_fr": curve.crop_fr,
            "valid": curve.valid,
        },
    )
    _set_attrs(group, {k: v for k, v in curve.attrs.items() if k not in _TEMPORAL_ATTRS})


def _read_attrs(target: Any) -> dict[str, Any]:
    """The attributes of a group as plain values (:data:`BOOLEAN_ATTRS` as booleans)."""
    attrs = {key: _scalar(value) for key, value in target.attrs.items()}
    for key in BOOLEAN_ATTRS:
        if key in attrs:
            attrs[key] = bool(attrs[key])
    return attrs


def _read_temporal(group: Any) -> TemporalCurve:
    attrs = _read_attrs(group)
    fixed = {key: attrs.pop(key, None) for key in _TEMPORAL_ATTRS}
    return TemporalCurve(
        group["ac"][()], group["fit"][()], fixed["on_time_frames"], fixed["exposure_ms"], attrs
    )


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
    temporal : TemporalInfo or None
        The blinking on-time, when the file holds it.
    """

    path: Path
    attrs: dict[str, Any]
    channels: dict[str, ChannelInfo]
    temporal: TemporalInfo | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The ``config`` root attribute, decoded."""
        return json.loads(self.attrs.get("config", "{}"))

    @property
    def on_time_ms(self) -> float:
        """The experiment's blinking on-time in ms (NaN: unknown or not measured)."""
        return math.nan if self.temporal is None else self.temporal.on_time_ms

    @property
    def on_time_ms_se(self) -> float:
        """Its standard error in ms (NaN: unknown or not measured)."""
        return math.nan if self.temporal is None else self.temporal.on_time_ms_se

    def summary_rows(self, experiment: str | None = None) -> list[dict[str, Any]]:
        """Rows of ``summary.tsv``; ``experiment`` defaults to the file's attribute."""
        experiment = experiment or str(self.attrs.get("experiment", self.path.parent.name))
        average = None if self.temporal is None else self.temporal.average
        frames = (math.nan, math.nan) if average is None else (
            average.on_time_frames, average.on_time_frames_se
        )
        return [
            channel.summary_row(experiment, self.on_time_ms, self.on_time_ms_se, *frames)
            for channel in self.channels.values()
        ]


def info_channel_names(handle: Any, path: PathLike) -> list[str]:
    """The channels of an open info file (an ``h5py.File``), in file order: its
    ``channels`` attribute, else its groups; ValueError naming ``path`` when it is not
    an info file (no channel, or a name that is not a group)."""
    import h5py

    order = _scalar(handle.attrs.get("channels"))
    if order is None:
        order = [key for key in handle if key != TEMPORAL_AVERAGE]
    order = [order] if isinstance(order, str) else [str(name) for name in order]
    missing = next((name for name in order if not isinstance(handle.get(name), h5py.Group)), None)
    if not order or missing is not None:
        why = "no channel in it" if not order else f"no channel group {missing!r}"
        raise ValueError(
            f"{path}: not a PSF info file ({why}; smlmlp psf and the workflow write them)"
        )
    return order


def is_info_file(path: PathLike) -> bool:
    """Whether ``path`` is an info file (:func:`write_info`'s: ``smlmlp psf``'s, the
    workflow's ``psf_info.h5``), not another HDF5 file (a movie, an Imaris file) or no
    HDF5 file at all.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> path = write_info(folder / "psf_info.h5", [ChannelInfo.empty_example()])
    >>> is_info_file(path), is_info_file(folder / "missing.h5"), is_info_file(folder)
    (True, False, False)
    """
    import h5py

    try:
        if not os.path.isfile(path) or not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as handle:
            return INFO_FILE_MARK in handle.attrs
    except OSError:  # unreadable: whoever opens it next says why
        return False


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
            order = info_channel_names(handle, path)
            channels = {}
            temporal = None
            if TEMPORAL_AVERAGE in handle:
                temporal = TemporalInfo(
                    channels={name: _read_temporal(handle[name][TEMPORAL_GROUP]) for name in order},
                    average=_read_temporal(handle[TEMPORAL_AVERAGE]),
                )
            for name in order:
                group = handle[name]
                arrays = {key: group[key][()] for key in ARRAY_NAMES}
                group_attrs = _read_attrs(group)
                fixed = {key: group_attrs.pop(key, None) for key in _FIXED_ATTRS}
                for key in _DERIVED_ATTRS:
                    group_attrs.pop(key, None)
                sections = {
                    section: {key: group[section][key][()] for key in group[section]}
                    for section in SECTION_NAMES
                    if section in group
                }
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
                    **{key: fixed[key] for key in (*SE_NAMES, "n_groups", "qc", "qc_notes")},
                    attrs=group_attrs,
                    sections=sections,
                )
    except (OSError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a readable PSF info file ({error})") from error
    return InfoFile(path=path, attrs=attrs, channels=channels, temporal=temporal)


# ------------------------------------------------------------------------- summary
def format_cell(value: Any, column: str = "") -> str:
    """A value as ``summary.tsv`` writes it in ``column`` (floats with two decimals,
    ``nan``; empty for an unknown expected width).

    >>> format_cell(126.04), format_cell(float("nan")), format_cell("valid")
    ('126.04', 'nan', 'valid')
    """
    if isinstance(value, float):
        if math.isnan(value):
            return "" if column in SUMMARY_EMPTY_WHEN_UNKNOWN else "nan"
        return f"{value:.3f}" if column == "sigma_over_expected" else f"{value:.2f}"
    return str(value)


def write_summary(path: PathLike, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``summary.tsv`` (columns :data:`SUMMARY_COLUMNS`), whole or not at all.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "summary.tsv"
    >>> _ = write_summary(target, [ChannelInfo.empty_example("red").summary_row("day1")])
    >>> header, line = target.read_text().splitlines()
    >>> cells = dict(zip(header.split("\\t"), line.split("\\t")))
    >>> cells["sigx_nm"], cells["sigx_nm_se"], cells["expected_sigma_nm"], cells["qc"]
    ('130.00', 'nan', '', 'valid')
    >>> read_summary(target)[0]["sigx_nm"]
    130.0
    """
    path = Path(path)
    with atomic_path(path) as part, open(part, "w", newline="") as stream:
        writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
        writer.writerow(SUMMARY_COLUMNS)
        for row in rows:
            writer.writerow([format_cell(row[column], column) for column in SUMMARY_COLUMNS])
    return path


def read_summary(path: PathLike) -> list[dict[str, Any]]:
    """Read ``summary.tsv`` back, numbers as floats (``n_frames`` as int; an empty cell
    as NaN)."""
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    for row in rows:
        for column in SUMMARY_COLUMNS:
            if column in SUMMARY_TEXT_COLUMNS:
                row[column] = row.get(column) or ""  # older tables lack qc_notes
                continue
            value = row.get(column)  # older tables lack the newer columns
            if column == "n_frames":
                row[column] = int(value)
            else:
                row[column] = float(value) if value not in (None, "") else math.nan
    return rows
