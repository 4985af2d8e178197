"""A channel's spline PSF for other software: SMAP's ``_3dcal.mat`` (read by DECODE too).

SMAP (Ries lab) and DECODE (Turaga lab) describe an experimental PSF by cubic-spline
coefficients on a voxel grid, calibrated from z stacks of beads: ``SXY.cspline.coeff``
is a cell holding one array ``N1 x N2 x Nz x 64``. Voxel ``(i, j, k)`` spans one
camera pixel along the first two axes and ``dz`` nm along z, and inside it the PSF is

    sum over a, b, c in 0..3 of  coeff(i, j, k, 16 c + 4 b + a + 1) * u^a * v^b * w^c

with ``u``, ``v``, ``w`` in [0, 1] the position inside the voxel along axes 1, 2 and
3 (MATLAB's indices: axis 1 is an image's rows). ``cspline.x0`` is the 1-based index of
the PSF centre along axes 1 and 2, ``z0`` that of the focal plane, ``dz`` the plane
spacing in nm (SMAP's fitters, DECODE's ``SMAPSplineCoefficient`` read these).

Our PSF is 2-D: one focal plane, measured from the blinking itself. Inside each pixel
cell its spline (:func:`smlmlp.psf.fit_spline`, knots on the pixel grid) is one
bicubic polynomial, so the 16 coefficients of each cell are exact, not a fit: the
exported spline equals ours everywhere in the crop. Along z the coefficients are
constant (:data:`SMAP_Z_PLANES` identical planes ``SMAP_DZ_NM`` apart): there is no
z information in it. It serves 2-D simulation, training and fitting with z held fixed,
with the measured PSF shape; not 3-D fitting (SMAP's spline fitter, which always fits
z, finds a zero z curvature). The PSF is divided by its sum over the crop (SMAP
normalises its calibrations to unit sum), so a fitted intensity is a photon count.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import PathLike, atomic_path
from .infofile import package_version

#: PSF planes of the exported stack (the coefficients span one plane fewer).
SMAP_Z_PLANES = 5
#: Their spacing in nm: the PSF is the same over ``(SMAP_Z_PLANES - 1) * SMAP_DZ_NM``.
SMAP_DZ_NM = 100.0
#: Positions inside a cell at which the spline is sampled to get its polynomial.
_NODES = np.array([0.0, 1.0, 2.0, 3.0]) / 3.0


@dataclass(frozen=True)
class ChannelSpline:
    """A channel's spline as an info file holds it (:func:`read_channel_spline`).

    Attributes
    ----------
    name : str
        Channel name.
    tx, ty, coeffs : ndarray
        Knots along x (columns) and y (rows), nm from the centre, and coefficients
        (:func:`smlmlp.psf.fit_spline`).
    pixel_nm : (float, float)
        ``(y, x)`` pixel size in nm.
    attrs : dict
        The channel's other attributes.
    """

    name: str
    tx: np.ndarray
    ty: np.ndarray
    coeffs: np.ndarray
    pixel_nm: tuple[float, float]
    attrs: dict[str, Any]

    @property
    def size(self) -> int:
        """Side of the crop the spline spans, in pixels (its knots' range + 1)."""
        return int(round((self.tx[-1] - self.tx[0]) / self.pixel_nm[1])) + 1

    def grid_nm(self) -> tuple[np.ndarray, np.ndarray]:
        """``(y, x)``: the offsets of the crop's rows and columns from the centre, nm."""
        offsets = np.arange(self.size, dtype=np.float64) - self.size // 2
        return offsets * self.pixel_nm[0], offsets * self.pixel_nm[1]

    def on_grid(self) -> np.ndarray:
        """The spline on the crop's pixel grid (rows y, columns x)."""
        from .psf import evaluate_spline

        y, x = self.grid_nm()
        return evaluate_spline(self.tx, self.ty, self.coeffs, x, y)


def channel_names(path: PathLike) -> list[str]:
    """The channels of an info file, in file order (ValueError naming a file that is
    not one)."""
    import h5py

    from .infofile import info_channel_names

    try:
        with h5py.File(path, "r") as handle:
            return info_channel_names(handle, path)
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 info file ({error})") from None


class NoPsfFound(ValueError):
    """A channel of an info file without a PSF (QC invalid): its spline would model
    noise, so it is not exported."""


def read_channel_spline(path: PathLike, channel: str) -> ChannelSpline:
    """One channel's spline from an info file, checked.

    Raises
    ------
    ValueError
        One line naming the file and the channel: no such channel (the others are
        listed), no spline in it, or no PSF found (:class:`NoPsfFound`: the spline
        would model noise).
    """
    import h5py

    from .infofile import _scalar

    names = channel_names(path)
    if channel not in names:
        raise ValueError(
            f"{path}: no channel {channel!r} (channels: {', '.join(names) or 'none'})"
        )
    with h5py.File(path, "r") as handle:
        group = handle[channel]
        missing = [name for name in ("tx", "ty", "coeffs") if name not in group]
        if missing:
            raise ValueError(
                f"{path}: channel {channel} holds no spline ({', '.join(missing)} missing)"
            )
        tx, ty, coeffs = (
            np.asarray(group[name][()], dtype=np.float64) for name in ("tx", "ty", "coeffs")
        )
        attrs = {key: _scalar(value) for key, value in group.attrs.items()}
    if "valid" in attrs and not attrs["valid"]:
        raise NoPsfFound(
            f"{path}: channel {channel}: no PSF was found (QC {attrs.get('qc', 'invalid')}); "
            "its spline would model noise, nothing exported"
        )
    pixel = attrs.get("pixel_nm")
    if pixel is None or np.size(pixel) != 2:
        raise ValueError(f"{path}: channel {channel} has no pixel size (attribute pixel_nm)")
    if coeffs.ndim != 2 or coeffs.shape != (ty.size - 4, tx.size - 4) or coeffs.size == 0:
        raise ValueError(
            f"{path}: channel {channel} holds no spline (coefficients of shape "
            f"{coeffs.shape} for {tx.size} and {ty.size} knots)"
        )
    if not np.all(np.isfinite(coeffs)) or not np.any(coeffs):
        raise ValueError(
            f"{path}: channel {channel} holds no spline (its coefficients are "
            f"{'all zero' if np.all(coeffs == 0) else 'not finite'})"
        )
    spline = ChannelSpline(channel, tx, ty, coeffs, (float(pixel[0]), float(pixel[1])), attrs)
    size_y = int(round((ty[-1] - ty[0]) / spline.pixel_nm[0])) + 1
    if spline.size != size_y or spline.size % 2 == 0 or spline.size < 3:
        raise ValueError(
            f"{path}: channel {channel}: the spline's knots span {size_y} x {spline.size} "
            "pixels, not the odd square crop of the PSF"
        )
    return spline


def cell_coefficients(spline: ChannelSpline) -> np.ndarray:
    """The bicubic polynomial of every pixel cell of the crop, in SMAP's order.

    Returns
    -------
    ndarray
        ``(size - 1, size - 1, 16)``: for the cell between rows ``i, i + 1`` and
        columns ``j, j + 1``, entry ``4 b + a`` multiplies ``u^a v^b`` (``u`` the
        fraction of a pixel down the rows, ``v`` across the columns). The spline is
        one polynomial per cell, so four samples per axis give it exactly.

    Examples
    --------
    >>> from smlmlp.ac_model import lag_grid
    >>> from smlmlp.psf import fit_spline
    >>> x, y = lag_grid(7, (100.0, 100.0))
    >>> tx, ty, coeffs = fit_spline(np.exp(-(x**2 + y**2) / 2e4), (100.0, 100.0))
    >>> spline = ChannelSpline("red", tx, ty, coeffs, (100.0, 100.0), {})
    >>> cells = cell_coefficients(spline)
    >>> cells.shape, bool(np.isclose(cells[3, 3, 0], 1.0))  # the centre's value
    ((6, 6, 16), True)
    """
    from .psf import evaluate_spline

    size = spline.size
    steps = (np.arange(3 * (size - 1) + 1, dtype=np.float64) / 3.0) - size // 2
    fine = evaluate_spline(
        spline.tx, spline.ty, spline.coeffs, steps * spline.pixel_nm[1], steps * spline.pixel_nm[0]
    )
    windows = np.lib.stride_tricks.sliding_window_view(fine, (4, 4))[::3, ::3]
    inverse = np.linalg.inv(np.vander(_NODES, 4, increasing=True))  # samples -> powers
    powers = np.einsum("pa,ijab,qb->ijqp", inverse, windows, inverse)  # [.., b, a]
    return powers.reshape(size - 1, size - 1, 16)


def smap_calibration(spline: ChannelSpline, *, source: str = "") -> dict[str, Any]:
    """The variables of a SMAP ``_3dcal.mat`` (``SXY``, ``parameters``) for
    :func:`scipy.io.savemat`.

    ``SXY.cspline.coeff`` holds ``(size - 1) x (size - 1) x (SMAP_Z_PLANES - 1) x 64``
    single-precision coefficients: :func:`cell_coefficients` divided by the PSF's sum
    over the crop, the same in every plane (no z dependence). ``SXY.PSF`` holds the
    normalised PSF stack they interpolate.
    """
    size = spline.size
    on_grid = spline.on_grid()
    total = float(on_grid.sum())
    if not total > 0:
        raise ValueError(f"channel {spline.name}: the PSF sums to {total:g} over the crop")
    cells = cell_coefficients(spline) / total
    planes = SMAP_Z_PLANES - 1
    coeff = np.zeros((size - 1, size - 1, planes, 64), dtype=np.float32)
    coeff[..., :16] = cells[:, :, None, :]  # powers of w: only w^0
    stack = np.repeat((on_grid / total)[:, :, None], SMAP_Z_PLANES, axis=2).astype(np.float32)
    unbounded = np.array([-np.inf, np.inf])
    cspline = {
        "coeff": _cell(coeff),
        "dz": SMAP_DZ_NM,
        "z0": float(math.ceil(SMAP_Z_PLANES / 2)),
        "x0": float((size + 1) // 2),
        "mirror": 0.0,
        "global": {"isglobal": False},
    }
    sxy = {
        "cspline": cspline,
        "PSF": _cell(stack),
        "Xrange": unbounded,
        "Yrange": unbounded,
        "Xrangeall": unbounded,
        "Yrangeall": unbounded,
        "posind": np.array([1.0, 1.0]),
        "EMon": False,
        "gausscal": np.zeros((0, 0)),
        "gauss_zfit": np.zeros((0, 0)),
        "gauss_sx2_sy2": np.zeros((0, 0)),
        "cspline_all": np.zeros((0, 0)),
    }
    parameters = {
        "dz": SMAP_DZ_NM,
        "fminmax": np.array([1.0, float(SMAP_Z_PLANES)]),
        "ROIxy": float(size),
        "ROIz": float(SMAP_Z_PLANES),
        "modality": "2D",
        "smap": True,
        "pixel_nm": np.array(spline.pixel_nm),
        "psf_normalisation": total,
        "channel": spline.name,
        "source": source,
        "software": f"smlmlp {package_version()}",
        "note": (
            "2-D PSF measured from the blinking (smlmlp): the same in every z plane, "
            "axis 1 = image rows (y), axis 2 = columns (x); coefficients = spline / "
            "psf_normalisation"
        ),
    }
    for key in ("sigx_nm", "sigy_nm", "theta_deg", "psf_sigma_nm"):
        value = spline.attrs.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            parameters[key] = float(value)
    return {"SXY": sxy, "parameters": parameters}


def _cell(array: np.ndarray) -> np.ndarray:
    """A MATLAB 1 x 1 cell holding ``array``."""
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = array
    return cell


def default_smap_path(info_path: PathLike, channel: str) -> Path:
    """``{folder}/{info stem}_{channel}_3dcal.mat`` beside the info file (SMAP's file
    dialog lists ``*3dcal.mat``)."""
    info_path = Path(info_path)
    return info_path.with_name(f"{info_path.stem}_{channel}_3dcal.mat")


def write_smap_calibration(info_path: PathLike, channel: str, output: PathLike) -> Path:
    """Write one channel's spline as a SMAP ``_3dcal.mat``, whole or not at all."""
    from scipy.io import savemat

    spline = read_channel_spline(info_path, channel)
    variables = smap_calibration(spline, source=os.path.abspath(info_path))
    output = Path(output)
    with atomic_path(output, suffix=".mat.part") as part, open(part, "wb") as stream:
        savemat(stream, variables, do_compression=True, oned_as="row")
    return output
