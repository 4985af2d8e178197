"""From a fluctuation autocorrelation to a PSF, its Gaussian fit and its spline.

Model
-----
A blinking emitter contributes to the mean fluctuation autocorrelation (AC) the
autocorrelation of its pixel-integrated PSF. For a rotated elliptical Gaussian
PSF with covariance ``S`` (nm^2) and pixels of ``py x px`` nm, the expected AC at
the integer lag ``l`` is exactly::

    AC(l) = A * integral tent_x(u) tent_y(v) exp(-(l - w)^T S^-1 (l - w) / 4) du dv + B(l)

with ``w = (u, v)``, ``tent`` the autocorrelation of one pixel (a triangle of
half-width one pixel) and ``B`` a broad background: an even polynomial of the lag
up to degree 2 (:func:`background_terms`). ``B`` takes up what is broad on the
scale of the crop and changes faster than the blocks of frames remove: laser
flicker on the emitters gives a near constant, out-of-focus haze a smooth bump (a
level shared by the whole frame is left out of the sums, :mod:`smlmlp.block_sums`).
The integral is evaluated with Gauss-Legendre nodes on each half of the triangles.

The zero-lag value carries the white (shot, read, EM-excess) noise and the
central row and column carry row/column-correlated camera noise, so the fit
ignores them. The PSF image follows the documented transform, applied to the
autocorrelation less the fitted background ``B``:

    PSF = centred real part of IFFT( sqrt| FFT(AC) | )

applied to the autocorrelation whose central row and column have been replaced
by the fitted model (otherwise the zero-lag noise spreads over the whole PSF),
and whose spatial frequencies below the noise level lean on the model (a
Wiener weight; otherwise the square root turns noise into a central spike).

The reported widths come from the fit of the autocorrelation, off its central
row and column, with the exact model above: the square root of a noisy or
aliased spectrum, the pixel integration and the crop bias nothing. ``fit`` is
that model passed through the same transform as the PSF image.

Angle convention: the Gaussian is evaluated at ``x' = x cos t - y sin t``,
``y' = x sin t + y cos t`` (x the column and y the row offset from the centre)
as ``exp(-x'^2 / (2 sigx^2) - y'^2 / (2 sigy^2))``, with ``t`` in (-45, 45] degrees:
``sigx`` is the width along the principal axis nearest the x (column) axis, so an
axis-aligned PSF wider along y has ``sigy > sigx`` and ``t = 0``.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import interpolate, optimize

#: Gauss-Legendre nodes and weights on [0, 1] for the pixel-triangle integrals
#: (4 nodes per half triangle: relative error below 2e-5 down to sigma = 0.5 pixel).
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(4)
_NODES = 0.5 * (_NODES + 1.0)
_WEIGHTS = 0.5 * _WEIGHTS
#: The same on both halves of the triangle: nodes (pixels) and weights.
_TRIANGLE_NODES = np.concatenate([_NODES, -_NODES])
_TRIANGLE_WEIGHTS = np.concatenate([(1.0 - _NODES) * _WEIGHTS] * 2)
#: Minimum ratio of the fitted AC peak to the residual noise for a PSF to count as found.
MIN_SIGNAL_TO_NOISE = 8.0
#: Smallest width accepted, in pixels; below this the AC holds no usable shape.
MIN_SIGMA_PIX = 0.3
#: Relative tolerance at which the fits stop (on the cost and on the parameters).
FIT_TOLERANCE = 1e-8
#: Steps of :func:`fit_autocorrelations` before a crop still moving is fitted alone.
LOCKSTEP_STEPS = 30
#: Highest degree of the even polynomial of the lag fitted as a broad background.
#: Degree 2 keeps the jackknife standard errors calibrated: with degree 4,
#: ``benchmarks/se_calibration.py`` finds the estimate more precise but the
#: jackknife overstating its error by about as much. The slow changes themselves
#: are removed by the trends of the blocks of frames (:mod:`smlmlp.block_sums`).
BACKGROUND_DEGREE = 2


@dataclass(frozen=True)
class AutocorrelationFit:
    """The fitted model ``amplitude * AC_model(covariance) + background`` of an AC crop.

    Attributes
    ----------
    covariance : ndarray
        2x2 PSF covariance in nm^2, (x, y) order.
    amplitude, offset : float
        Amplitude of the PSF term and the background at zero lag (ADU^2).
    residual_rms : float
        RMS of the residual on the fitted pixels (ADU^2).
    parameters : ndarray
        Log-Cholesky parameters of ``covariance`` (a start for related fits).
    background : ndarray
        The fitted broad background on the crop (ADU^2).
    model : tuple, optional
        ``(pixel_nm, values, slopes)``: the model crop at the solution and its
        derivatives in the parameters (:func:`crop_autocorrelation_jacobian`), kept
        for :func:`fit_sensitivity`.
    """

    covariance: np.ndarray
    amplitude: float
    offset: float
    residual_rms: float
    parameters: np.ndarray
    background: np.ndarray
    model: tuple | None = field(default=None, repr=False, compare=False)

    def widths(self, near_deg: float = 0.0) -> tuple[float, float, float]:
        """``(sigx, sigy, theta_deg)`` nm, nm, degrees; see :func:`widths_from_covariance`."""
        return widths_from_covariance(self.covariance, near_deg)


@dataclass
class PsfEstimate:
    """The PSF of one channel and everything derived on the way.

    Attributes
    ----------
    ac : ndarray
        Cropped fluctuation autocorrelation (ADU^2), zero lag at the centre.
    psf : ndarray
        PSF image on the crop grid, normalised to a peak of 1.
    fit : ndarray
        Fitted Gaussian model on the crop grid, on the same scale as ``psf``.
    spline : ndarray
        Cubic interpolating spline of ``psf`` evaluated on the crop grid.
    sigx, sigy : float
        Gaussian widths in nm along the rotated x and y axes (NaN when no PSF was
        found).
    theta : float
        Rotation angle in degrees, in (-45, 45]: ``sigx`` is the width along the
        principal axis nearest the x (column) axis.
    tx, ty : ndarray
        Spline knots along x (columns) and y (rows), in nm from the centre.
    coeffs : ndarray
        Spline coefficients, shape ``(len(ty) - 4, len(tx) - 4)``. The images,
        knots and coefficients are None in the estimates of parts of a movie
        (``images=False`` of :func:`estimate_psf`).
    pixel_nm : tuple of float
        ``(y, x)`` pixel size in nm.
    valid : bool
        Whether a PSF was found (False for pure noise).
    sigx_se, sigy_se, theta_se, psf_sigma_se : float
        Standard errors (nm, nm, degrees, nm): delete-one-group jackknife over the
        blocks of frames (:func:`smlmlp.estimate.estimate_from_sums`); NaN when
        not computed (an autocorrelation alone carries no error).
    n_groups : int
        Groups of frames behind the standard errors (0: none).
    qc : str
        ``"valid"``, ``"warn"`` (an estimate, with the reasons in ``qc_notes``)
        or ``"invalid"`` (no PSF found).
    qc_notes : tuple of str
        Why the verdict is not plain ``"valid"``.
    round : bool
        The PSF is round within its errors: theta means nothing.
    ceiling_adu, saturated_fraction : float
        The largest pixel value of the movie's frames searched for clipping, and
        the fraction of their pixel values at it
        (:meth:`smlmlp.block_sums.BlockSums.saturation`); NaN when not searched.
    floor_adu, floor_fraction : float
        The same for the smallest value
        (:meth:`smlmlp.block_sums.BlockSums.floor_clipping`).
    above_floor_fraction : float
        The fraction of those values one above the smallest
        (:meth:`smlmlp.block_sums.BlockSums.above_floor`).
    n_frames : int
        Frames of the movie behind the estimate (0: not said).
    dropped_frames : int
        Of which frames holding one value in every pixel, left out of the sums
        (:mod:`smlmlp.dropped`).
    ac_fit : AutocorrelationFit, optional
        The fit behind the widths.
    sections : dict, optional
        Further results by name, each a dict of arrays: ``"time"`` (the PSF in
        windows of frames, :mod:`smlmlp.time_windows`) and ``"field"`` (in tiles
        of the field, :mod:`smlmlp.field_tiles`) when asked for.
    """

    ac: np.ndarray
    psf: np.ndarray | None
    fit: np.ndarray | None
    spline: np.ndarray | None
    sigx: float
    sigy: float
    theta: float
    tx: np.ndarray | None
    ty: np.ndarray | None
    coeffs: np.ndarray | None
    pixel_nm: tuple[float, float]
    valid: bool
    sigx_se: float = math.nan
    sigy_se: float = math.nan
    theta_se: float = math.nan
    psf_sigma_se: float = math.nan
    n_groups: int = 0
    qc: str = "valid"
    qc_notes: tuple[str, ...] = ()
    round: bool = False
    ceiling_adu: float = math.nan
    saturated_fraction: float = math.nan
    floor_adu: float = math.nan
    floor_fraction: float = math.nan
    above_floor_fraction: float = math.nan
    n_frames: int = 0
    dropped_frames: int = 0
    ac_fit: AutocorrelationFit | None = None
    sections: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def psf_sigma(self) -> float:
        """Effective width ``sqrt(sigx * sigy)`` in nm."""
        return math.sqrt(self.sigx * self.sigy)


# ---------------------------------------------------------------------- geometry
def lag_grid(size: int, pixel_nm: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Column (x) and row (y) offsets in nm of a ``size x size`` grid centred on zero.

    Examples
    --------
    >>> x, y = lag_grid(3, (100.0, 50.0))
    >>> x[0].tolist(), y[:, 0].tolist()
    ([-50.0, 0.0, 50.0], [-100.0, 0.0, 100.0])
    """
    half = size // 2
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    y, x = np.meshgrid(offsets * pixel_nm[0], offsets * pixel_nm[1], indexing="ij")
    return x, y


def covariance_from_widths(sigx: float, sigy: float, theta_deg: float) -> np.ndarray:
    """Covariance matrix (x, y order) of the Gaussian of the module's convention.

    Examples
    --------
    >>> (np.round(covariance_from_widths(2.0, 1.0, 90.0), 12) + 0.0).tolist()
    [[1.0, 0.0], [0.0, 4.0]]
    """
    c, s = math.cos(math.radians(theta_deg)), math.sin(math.radians(theta_deg))
    rotation = np.array([[c, -s], [s, c]])
    return rotation.T @ np.diag([sigx**2, sigy**2]) @ rotation


def widths_from_covariance(
    covariance: np.ndarray, near_deg: float = 0.0
) -> tuple[float, float, float]:
    """``(sigx, sigy, theta_deg)`` of a covariance matrix, theta nearest ``near_deg``.

    A Gaussian has four descriptions ``(a, b, t)``, ``(b, a, t +- 90)``, ``(a, b,
    t +- 180)``; the one with theta in ``(near_deg - 45, near_deg + 45]`` is
    returned. With the default, theta is in (-45, 45]: sigx is the width along the
    principal axis nearest the x (column) axis.

    Examples
    --------
    >>> [round(v, 9) for v in widths_from_covariance(covariance_from_widths(3.0, 2.0, 30.0))]
    [3.0, 2.0, 30.0]
    >>> [round(v, 9) for v in widths_from_covariance(covariance_from_widths(2.0, 3.0, 120.0))]
    [3.0, 2.0, 30.0]
    >>> [round(v, 9) for v in widths_from_covariance(covariance_from_widths(1.15, 1.6, 0.0))]
    [1.15, 1.6, 0.0]
    >>> [round(v, 9) for v in widths_from_covariance(covariance_from_widths(3.0, 2.0, 50.0), 60)]
    [3.0, 2.0, 50.0]
    """
    a, b, d = covariance[0, 0], covariance[0, 1], covariance[1, 1]
    mean, spread = 0.5 * (a + d), 0.5 * math.hypot(a - d, 2.0 * b)
    major, minor = math.sqrt(mean + spread), math.sqrt(max(mean - spread, 0.0))
    theta = 0.5 * math.degrees(math.atan2(-2.0 * b, a - d))  # the major axis, (-90, 90]
    # quarter turns to reach (near - 45, near + 45]; each swaps the two widths
    turns = math.ceil((theta - float(near_deg) - 45.0) / 90.0)
    theta -= 90.0 * turns
    if turns % 2:
        major, minor = minor, major
    return major, minor, theta


#: Bounds of the log-Cholesky parameters (log of nm, nm): far outside any PSF, inside
#: what float64 represents, so that a fit wandering on pure noise stays computable.
_LOG_BOUNDS, _OFF_DIAGONAL_BOUND = (-12.0, 14.0), 1e6


def _covariance_from_parameters(parameters: np.ndarray) -> np.ndarray:
    """Log-Cholesky parameters -> covariance (positive definite by construction)."""
    lower, _ = _cholesky_factor(parameters)
    return lower @ lower.T


def _cholesky_factor(parameters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_cholesky_factors` of one set of parameters: ``(2, 2)`` and ``(3, 2, 2)``."""
    lower, slopes = _cholesky_factors(np.asarray(parameters, dtype=np.float64)[None])
    return lower[0], slopes[0]


def _cholesky_factors(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lower Cholesky factors ``L`` ``(n, 2, 2)`` of log-Cholesky parameters
    ``(n, 3)``, clipped to their bounds, and their derivatives in them
    ``(n, 3, 2, 2)`` (zero at a bound)."""
    low, high = _LOG_BOUNDS
    bounds = np.array([[low, -_OFF_DIAGONAL_BOUND, low], [high, _OFF_DIAGONAL_BOUND, high]])
    clipped = np.clip(points, bounds[0], bounds[1])
    inside = (points > bounds[0]) & (points < bounds[1])
    first, middle, last = np.exp(clipped[:, 0]), clipped[:, 1], np.exp(clipped[:, 2])
    lower = np.zeros((len(points), 2, 2))
    lower[:, 0, 0], lower[:, 1, 0], lower[:, 1, 1] = first, middle, last
    slopes = np.zeros((len(points), 3, 2, 2))
    slopes[:, 0, 0, 0] = first * inside[:, 0]
    slopes[:, 1, 1, 0] = 1.0 * inside[:, 1]
    slopes[:, 2, 1, 1] = last * inside[:, 2]
    return lower, slopes


def _parameters_from_covariance(covariance: np.ndarray) -> np.ndarray:
    lower = np.linalg.cholesky(covariance)
    return np.array([math.log(lower[0, 0]), lower[1, 0], math.log(lower[1, 1])])


# ------------------------------------------------------------------------ models
def gaussian_autocorrelation(
    covariance: np.ndarray, x: np.ndarray, y: np.ndarray, pixel_nm: tuple[float, float]
) -> np.ndarray:
    """Autocorrelation of a pixel-integrated Gaussian PSF at the lags ``(x, y)``.

    Unit amplitude: the value tends to 1 at zero lag for PSFs much wider than a
    pixel.

    Parameters
    ----------
    covariance : ndarray
        2x2 covariance of the PSF in nm^2, (x, y) order.
    x, y : ndarray
        Lags in nm (columns, rows).
    pixel_nm : tuple of float
        ``(y, x)`` pixel size in nm.

    Returns
    -------
    ndarray
        Same shape as ``x``.
    """
    precision = np.linalg.inv(covariance) / 4.0
    _, _, integrand = _node_integrand(precision, np.asarray(x), np.asarray(y), pixel_nm)
    return integrand.sum(axis=(-2, -1))


def _node_integrand(
    precision: np.ndarray, x: np.ndarray, y: np.ndarray, pixel_nm: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets ``dx``, ``dy`` of the lags ``(x, y)`` (broadcast together) from every
    pair of quadrature nodes, and the weighted Gaussian there, ``(..., nodes, nodes)``."""
    dx = x[..., None, None] - (_TRIANGLE_NODES * pixel_nm[1])[:, None]
    dy = y[..., None, None] - (_TRIANGLE_NODES * pixel_nm[0])[None, :]
    exponent = precision[0, 0] * dx**2 + 2.0 * precision[0, 1] * dx * dy + precision[1, 1] * dy**2
    weights = _TRIANGLE_WEIGHTS[:, None] * _TRIANGLE_WEIGHTS[None, :]
    return dx, dy, np.exp(-exponent) * weights


def crop_autocorrelation(
    covariance: np.ndarray, size: int, pixel_nm: tuple[float, float]
) -> np.ndarray:
    """:func:`gaussian_autocorrelation` on the odd ``size x size`` crop of :func:`lag_grid`.

    The model is point-symmetric, ``AC(-l) = AC(l)``: the rows up to zero lag are
    computed and mirrored, half the work of the whole grid.

    Examples
    --------
    >>> covariance = covariance_from_widths(150.0, 110.0, 25.0)
    >>> x, y = lag_grid(11, (100.0, 90.0))
    >>> full = gaussian_autocorrelation(covariance, x, y, (100.0, 90.0))
    >>> bool(np.allclose(crop_autocorrelation(covariance, 11, (100.0, 90.0)), full))
    True
    """
    offsets = np.arange(-(size // 2), size // 2 + 1, dtype=np.float64)
    upper = grid_autocorrelation(
        covariance, offsets * pixel_nm[1], offsets[: size // 2 + 1] * pixel_nm[0], pixel_nm
    )
    return _mirrored(upper)


def _mirrored(upper: np.ndarray) -> np.ndarray:
    """The whole odd crop from its rows up to zero lag (last two axes), by point symmetry."""
    return np.concatenate([upper, upper[..., -2::-1, ::-1]], axis=-2)


def crop_autocorrelation_jacobian(
    parameters: np.ndarray, size: int, pixel_nm: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`crop_autocorrelation` of log-Cholesky ``parameters`` and its derivatives
    in them: ``(size, size)`` and ``(3, size, size)``; for a stack of parameters
    ``(n, 3)``, ``(n, size, size)`` and ``(n, 3, size, size)`` in whole-array
    operations (the fits of the parts of a movie in lock step).

    With ``C = L L^T`` and ``P = C^-1 / 4``, ``dP = -4 P dC P``, chained with
    :func:`grid_autocorrelation_derivatives`. A parameter held at its bound has no
    derivative.

    Examples
    --------
    >>> parameters = np.array([math.log(140.0), 30.0, math.log(110.0)])
    >>> values, jacobian = crop_autocorrelation_jacobian(parameters, 9, (100.0, 100.0))
    >>> step = np.array([0.0, 1e-4, 0.0])
    >>> def model(p):
    ...     return crop_autocorrelation(_covariance_from_parameters(p), 9, (100.0, 100.0))
    >>> central = (model(parameters + step) - model(parameters - step)) / 2e-4
    >>> bool(np.allclose(central, jacobian[1], rtol=0, atol=1e-8))
    True
    >>> stack = np.array([parameters, [5.0, -2.0, 4.5]])
    >>> values, jacobians = crop_autocorrelation_jacobian(stack, 9, (100.0, 100.0))
    >>> alone = crop_autocorrelation_jacobian(stack[1], 9, (100.0, 100.0))
    >>> values.shape, bool(np.allclose(values[1], alone[0], rtol=1e-12, atol=0))
    ((2, 9, 9), True)
    """
    points = np.asarray(parameters, dtype=np.float64)
    lower, lower_slopes = _cholesky_factors(np.atleast_2d(points))
    covariance = lower @ lower.transpose(0, 2, 1)
    precision = np.linalg.inv(covariance) / 4.0
    offsets = np.arange(-(size // 2), size // 2 + 1, dtype=np.float64)
    values, slopes = _series_models(
        precision,
        offsets * pixel_nm[1],
        offsets[: size // 2 + 1] * pixel_nm[0],
        pixel_nm,
        derivatives=True,
    )
    covariance_slopes = lower_slopes @ lower.transpose(0, 2, 1)[:, None] + lower[
        :, None
    ] @ lower_slopes.transpose(0, 1, 3, 2)
    precision_slopes = -4.0 * precision[:, None] @ covariance_slopes @ precision[:, None]
    chain = precision_slopes[:, :, [0, 0, 1], [0, 1, 1]]  # (point, parameter, (xx, xy, yy))
    jacobian = np.einsum("npq,nqyx->npyx", chain, slopes)
    values, jacobian = _mirrored(values), _mirrored(jacobian)
    return (values[0], jacobian[0]) if points.ndim == 1 else (values, jacobian)


#: Most terms of the separable series of :func:`grid_autocorrelation` (beyond, for
#: PSFs so elongated and tilted that the series converges slowly, the direct sum).
MAX_SERIES_TERMS = 256


def series_terms(correlation: float, tolerance: float = 1e-17) -> int | None:
    """Terms of the series of :func:`grid_autocorrelation` for a PSF whose axes have
    the correlation ``r`` (the n-th term is below ``|r|**n``); None beyond
    :data:`MAX_SERIES_TERMS`.

    Examples
    --------
    >>> series_terms(0.0), series_terms(0.5), series_terms(0.99)
    (1, 59, None)
    """
    r = abs(float(correlation))
    if r < tolerance:
        return 1
    if r >= 1.0:
        return None
    terms = math.ceil(math.log(tolerance) / math.log(r)) + 2
    return terms if terms <= MAX_SERIES_TERMS else None


def grid_autocorrelation(
    covariance: np.ndarray, x: np.ndarray, y: np.ndarray, pixel_nm: tuple[float, float]
) -> np.ndarray:
    """:func:`gaussian_autocorrelation` on the grid of lags ``y`` (rows) by ``x``
    (columns), 1-D in nm, by a separable series: the same values to about 1e-16.

    With the precision ``P = C^-1 / 4``, ``s = sqrt(P_xx) dx`` and
    ``t = sqrt(P_yy) dy``, the Gaussian is ``exp(-s^2) exp(-t^2) exp(-2 r s t)``,
    ``r = P_xy / sqrt(P_xx P_yy)`` (``|r| < 1``). Expanding the last factor,
    ``sum_n (-2 r)^n (s^n / sqrt(n!)) (t^n / sqrt(n!))``, makes the sum over the
    pixel quadrature nodes a product of two small matrices, with a few hundred
    exponentials instead of one per lag and node pair. Each term is below
    ``|r|^n`` whatever the lag, so :func:`series_terms` terms are exact to 1e-17.

    Examples
    --------
    >>> covariance = covariance_from_widths(150.0, 110.0, 25.0)
    >>> x, y = lag_grid(9, (100.0, 90.0))
    >>> direct = gaussian_autocorrelation(covariance, x, y, (100.0, 90.0))
    >>> series = grid_autocorrelation(covariance, x[0], y[:, 0], (100.0, 90.0))
    >>> bool(np.abs(series - direct).max() < 1e-14)
    True
    """
    values, _ = _series_model(covariance, x, y, pixel_nm, derivatives=False)
    return values


def grid_autocorrelation_derivatives(
    covariance: np.ndarray, x: np.ndarray, y: np.ndarray, pixel_nm: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grid_autocorrelation` and its derivatives in the precision ``P = C^-1 / 4``.

    The exponent is ``P_xx dx^2 + 2 P_xy dx dy + P_yy dy^2``, so the derivatives
    are the model's integrals with the extra factors ``-dx^2``, ``-2 dx dy`` and
    ``-dy^2``: in the series, the same moments one or two orders higher.

    Returns
    -------
    tuple of ndarray
        The model ``(len(y), len(x))`` and ``(3, len(y), len(x))``: its derivatives
        in ``P_xx``, ``P_xy`` (the off-diagonal value, counted once) and ``P_yy``.

    Examples
    --------
    >>> covariance = covariance_from_widths(150.0, 110.0, 25.0)
    >>> x, y = np.arange(-4, 5) * 100.0, np.arange(-4, 5) * 90.0
    >>> values, slopes = grid_autocorrelation_derivatives(covariance, x, y, (90.0, 100.0))
    >>> step = np.zeros((2, 2)); step[0, 1] = step[1, 0] = 1e-9
    >>> precision = np.linalg.inv(covariance) / 4.0
    >>> moved = grid_autocorrelation(np.linalg.inv(4.0 * (precision + step)), x, y, (90.0, 100.0))
    >>> bool(np.abs((moved - values) / 1e-9 - slopes[1]).max() < 1e-4 * np.abs(slopes[1]).max())
    True
    """
    return _series_model(covariance, x, y, pixel_nm, derivatives=True)


def _moments(scaled: np.ndarray, orders: int) -> np.ndarray:
    """``sum_k w_k exp(-z_k^2) z_k^n / sqrt(n!)``, ``n < orders``, per lag (row of
    ``scaled``; leading axes are a stack of them)."""
    powers = np.empty((*scaled.shape, orders))
    powers[..., 0] = 1.0
    powers[..., 1:] = scaled[..., None] / np.sqrt(np.arange(1, orders))
    np.cumprod(powers, axis=-1, out=powers)
    return np.einsum("...kn,...k->...n", powers, _TRIANGLE_WEIGHTS * np.exp(-(scaled**2)))


def _series_model(
    covariance: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    pixel_nm: tuple[float, float],
    *,
    derivatives: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The series of :func:`grid_autocorrelation` (the direct sum where it converges
    slowly), with the derivatives of :func:`grid_autocorrelation_derivatives`."""
    precision = np.linalg.inv(covariance) / 4.0
    values, slopes = _series_models(precision[None], x, y, pixel_nm, derivatives=derivatives)
    return values[0], None if slopes is None else slopes[0]


def _series_models(
    precision: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    pixel_nm: tuple[float, float],
    *,
    derivatives: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`_series_model` for a stack of precisions ``P = C^-1 / 4`` ``(n, 2, 2)``:
    ``(n, len(y), len(x))`` and ``(n, 3, len(y), len(x))``. The series of every one
    takes the terms the most correlated needs (the others' extra terms are below
    1e-17); those whose series converges slowly take the direct sum, one at a time."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    scale_x, scale_y = np.sqrt(precision[:, 0, 0]), np.sqrt(precision[:, 1, 1])
    correlation = precision[:, 0, 1] / (scale_x * scale_y)
    terms = [series_terms(r) for r in correlation]
    series = np.array([n is not None for n in terms])
    values = np.empty((len(precision), len(y), len(x)))
    slopes = np.empty((len(precision), 3, len(y), len(x))) if derivatives else None
    for index in np.flatnonzero(~series):
        direct = _direct_model(precision[index], x, y, pixel_nm, derivatives=derivatives)
        values[index] = direct[0]
        if derivatives:
            slopes[index] = direct[1]
    if not series.any():
        return values, slopes
    chosen = np.flatnonzero(series)
    n_terms = max(n for n in terms if n is not None)
    orders = n_terms + 2 if derivatives else n_terms
    sx, sy, r = scale_x[chosen], scale_y[chosen], correlation[chosen]
    along_x = _moments(sx[:, None, None] * (x[:, None] - _TRIANGLE_NODES * pixel_nm[1]), orders)
    along_y = _moments(sy[:, None, None] * (y[:, None] - _TRIANGLE_NODES * pixel_nm[0]), orders)
    order = np.arange(n_terms)
    coefficients = (-2.0 * r[:, None]) ** order
    weighted_y = along_y[..., :n_terms] * coefficients[:, None, :]
    head_x = along_x[..., :n_terms].transpose(0, 2, 1)
    values[chosen] = weighted_y @ head_x
    if not derivatives:
        return values, None
    # z^(n+2) / sqrt(n!) = sqrt((n+1)(n+2)) z^(n+2) / sqrt((n+2)!), and dx = s / scale_x
    raised = np.sqrt((order + 1.0) * (order + 2.0))
    d_xx = -(weighted_y @ (along_x[..., 2:] * raised).transpose(0, 2, 1))
    d_yy = -((along_y[..., 2:] * raised * coefficients[:, None, :]) @ head_x)
    d_xy = (along_y[..., 1:-1] * (coefficients * (order + 1.0))[:, None, :]) @ along_x[
        ..., 1:-1
    ].transpose(0, 2, 1)
    slopes[chosen, 0] = d_xx / precision[chosen, 0, 0][:, None, None]
    slopes[chosen, 1] = -2.0 * d_xy / (sx * sy)[:, None, None]
    slopes[chosen, 2] = d_yy / precision[chosen, 1, 1][:, None, None]
    return values, slopes


def _direct_model(
    precision: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    pixel_nm: tuple[float, float],
    *,
    derivatives: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The model on the grid summed node by node (a PSF so elongated and tilted that
    the series converges slowly)."""
    dx, dy, integrand = _node_integrand(precision, x[None, :], y[:, None], pixel_nm)
    values = integrand.sum(axis=(-2, -1))
    if not derivatives:
        return values, None
    slopes = [-(dx**2 * integrand), -2.0 * dx * dy * integrand, -(dy**2 * integrand)]
    return values, np.stack([slope.sum(axis=(-2, -1)) for slope in slopes])


def _axis_autocorrelation(variance: float, lags: np.ndarray, pixel: float) -> np.ndarray:
    """One axis of the model for an axis-aligned Gaussian (the model is separable then)."""
    nodes = _TRIANGLE_NODES * pixel
    return np.exp(-((lags[:, None] - nodes) ** 2) / (4.0 * variance)) @ _TRIANGLE_WEIGHTS


def isotropic_autocorrelation(
    sigma: float, x: np.ndarray, y: np.ndarray, pixel_nm: tuple[float, float]
) -> np.ndarray:
    """:func:`gaussian_autocorrelation` for an isotropic Gaussian, computed separably.

    Examples
    --------
    >>> x, y = lag_grid(9, (100.0, 90.0))
    >>> full = gaussian_autocorrelation(np.eye(2) * 120.0**2, x, y, (100.0, 90.0))
    >>> bool(np.allclose(isotropic_autocorrelation(120.0, x, y, (100.0, 90.0)), full))
    True
    """
    along_x = _axis_autocorrelation(sigma**2, x[0], pixel_nm[1])
    along_y = _axis_autocorrelation(sigma**2, y[:, 0], pixel_nm[0])
    return np.outer(along_y, along_x)


def psf_from_autocorrelation(
    ac: np.ndarray, model: np.ndarray | None = None, noise_rms: float = 0.0
) -> np.ndarray:
    """Centred real part of ``IFFT(sqrt|FFT(AC)|)`` for an odd square crop.

    Parameters
    ----------
    ac : ndarray
        Autocorrelation crop, zero lag at the centre.
    model : ndarray, optional
        Fitted model of ``ac``. With ``noise_rms > 0``, each spatial frequency of
        ``ac`` is blended with the model's by the Wiener weight
        ``|M|^2 / (|M|^2 + (noise_rms * size)^2)``: where the PSF's spectrum has
        sunk below the noise, the square root would turn noise into a spike at
        the PSF centre.
    noise_rms : float, optional
        Noise per autocorrelation value (the fit residual).

    Examples
    --------
    >>> x, y = lag_grid(21, (1.0, 1.0))
    >>> psf = psf_from_autocorrelation(np.exp(-(x**2 + y**2) / 8.0))
    >>> int(np.argmax(psf)) == 21 * 10 + 10
    True
    """
    spectrum = np.fft.fft2(np.fft.ifftshift(ac))
    if model is not None and noise_rms > 0:
        model_spectrum = np.fft.fft2(np.fft.ifftshift(model))
        signal = np.abs(model_spectrum) ** 2
        weight = signal / (signal + (noise_rms * ac.shape[0]) ** 2)
        spectrum = weight * spectrum + (1.0 - weight) * model_spectrum
    return np.fft.fftshift(np.fft.ifft2(np.sqrt(np.abs(spectrum))).real)


def gaussian_image(
    sigx: float, sigy: float, theta_deg: float, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Rotated Gaussian of the module's convention, peak 1, at offsets ``(x, y)`` nm."""
    c, s = math.cos(math.radians(theta_deg)), math.sin(math.radians(theta_deg))
    xr = x * c - y * s
    yr = x * s + y * c
    return np.exp(-(xr**2) / (2.0 * sigx**2) - yr**2 / (2.0 * sigy**2))


# ---------------------------------------------------------------------- fitting
def _off_centre_mask(size: int) -> np.ndarray:
    """The documented fit mask ``(Y != 0) & (X != 0)``."""
    offsets = np.arange(size) - size // 2
    return (offsets[:, None] != 0) & (offsets[None, :] != 0)


def background_terms(size: int, degree: int = BACKGROUND_DEGREE) -> np.ndarray:
    """Even polynomials of the lag, ``(size, size, terms)``: the broad background's basis.

    All monomials ``u^i v^j`` with ``i + j`` even and at most ``degree``, of the
    lags ``u`` (columns) and ``v`` (rows) scaled to [-1, 1] over the crop. An
    autocorrelation is point-symmetric, so odd terms have no place in it.

    Examples
    --------
    >>> background_terms(5).shape, background_terms(5, degree=4).shape
    ((5, 5, 4), (5, 5, 9))
    """
    half = max(size // 2, 1)
    lags = (np.arange(size) - size // 2) / half
    v, u = np.meshgrid(lags, lags, indexing="ij")
    terms = [u**i * v ** (total - i) for total in range(0, degree + 1, 2) for i in range(total + 1)]
    return np.stack(terms, axis=-1)


@functools.lru_cache(maxsize=8)
def _fit_layout(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mask, terms, basis)`` of the fits of crops of ``size``: the fitted pixels
    (:func:`_off_centre_mask`), the background terms (:func:`background_terms`) and
    an orthonormal basis of their span on the mask; made once per size, read-only."""
    mask = _off_centre_mask(size)
    terms = background_terms(size)
    basis = np.linalg.qr(terms[mask])[0]
    for array in (mask, terms, basis):
        array.flags.writeable = False
    return mask, terms, basis


class _LinearPart:
    """Least squares of the linear parameters: ``data ~ amplitude * shape + terms @ c``.

    The background terms are fixed, so the data and every shape are projected on
    the complement of their span once (a QR factorisation, or ``basis``, an
    orthonormal basis of that span, where it is known), and the amplitude is then
    a one-column fit: the variable projection of the Gaussian fit.
    """

    def __init__(
        self, terms: np.ndarray, data: np.ndarray, basis: np.ndarray | None = None
    ) -> None:
        self.terms = terms
        self.basis = np.linalg.qr(terms)[0] if basis is None else basis
        self.data = data
        self.data_rest = self.project_out(data)

    def project_out(self, values: np.ndarray) -> np.ndarray:
        return values - self.basis @ (self.basis.T @ values)

    def fit(self, shape: np.ndarray) -> tuple[float, np.ndarray]:
        """``(amplitude, residual)`` for a model shape."""
        projected = self._projected(shape)
        if projected is None:
            return 0.0, self.data_rest
        shape_rest, _, amplitude = projected
        return amplitude, self.data_rest - amplitude * shape_rest

    def residual_jacobian(self, shape: np.ndarray, slopes: np.ndarray) -> np.ndarray:
        """Derivatives ``(pixels, k)`` of the residual of :meth:`fit` when the shape
        moves by ``slopes`` ``(pixels, k)`` per parameter (the amplitude following).

        The residual is ``d - a s`` (both off the background's span), with
        ``a = <s, d> / <s, s>``, so ``dr = -da s - a ds``,
        ``da = (<ds, d> - 2 a <ds, s>) / <s, s>``.
        """
        projected = self._projected(shape)
        if projected is None:
            return np.zeros_like(slopes)
        shape_rest, spread, amplitude = projected
        slopes_rest = self.project_out(slopes)
        amplitude_slopes = (
            slopes_rest.T @ self.data_rest - 2.0 * amplitude * (slopes_rest.T @ shape_rest)
        ) / spread
        return -(np.outer(shape_rest, amplitude_slopes) + amplitude * slopes_rest)

    def _projected(self, shape: np.ndarray) -> tuple[np.ndarray, float, float] | None:
        """The shape off the background's span, its squared norm and the amplitude;
        None for a shape (nearly) in that span, which has no amplitude of its own."""
        shape_rest = self.project_out(shape)
        spread = float(shape_rest @ shape_rest)
        if not spread > 1e-12 * float(shape @ shape):
            return None
        return shape_rest, spread, float(shape_rest @ self.data_rest) / spread

    def coefficients(self, shape: np.ndarray, amplitude: float) -> np.ndarray:
        """Background coefficients for the fitted amplitude."""
        rest = self.data - amplitude * shape
        return np.linalg.lstsq(self.terms, rest, rcond=None)[0]


def _fit_profile(
    data: np.ndarray,
    pixel_nm: tuple[float, float],
    mask: np.ndarray,
    start: np.ndarray,
    terms: np.ndarray,
    basis: np.ndarray | None = None,
) -> AutocorrelationFit:
    """Fit ``amplitude * crop_autocorrelation(covariance) + background`` on ``mask``
    (variable projection, with the residual's exact Jacobian).

    The parameters are log-Cholesky, clipped to bounds that keep every model
    computable, so a fit wandering on pure noise ends without an exception.
    """
    size = data.shape[0]
    linear = _LinearPart(terms[mask], data[mask], basis)
    model_at, residual, jacobian = _residual_and_jacobian(linear, mask, size, pixel_nm)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        # MINPACK's Levenberg-Marquardt, each parameter scaled by its Jacobian column
        # (least_squares(method="lm", x_scale="jac") without its wrapping and checks)
        solution, *_ = optimize.leastsq(
            residual,
            start,
            Dfun=jacobian,
            full_output=True,
            ftol=FIT_TOLERANCE,
            xtol=FIT_TOLERANCE,
            gtol=FIT_TOLERANCE,
            maxfev=400,
        )
        covariance = _covariance_from_parameters(solution)
        model = model_at(solution)
        shape = model[0][mask]
        amplitude, rest = linear.fit(shape)
        coefficients = linear.coefficients(shape, amplitude)
    background = terms @ coefficients
    rms = float(np.sqrt(np.mean(rest**2)))
    return AutocorrelationFit(
        covariance,
        float(amplitude),
        float(background[size // 2, size // 2]),
        rms,
        solution,
        background,
        ((float(pixel_nm[0]), float(pixel_nm[1])), *model),
    )


def _stacked_residuals(
    shapes: np.ndarray, slopes: np.ndarray, data_rest: np.ndarray, basis: np.ndarray
) -> tuple[np.ndarray, ...]:
    """The variable projection of :class:`_LinearPart` for a stack of crops at once:
    model ``shapes`` ``(n, M)`` and their ``slopes`` ``(n, 3, M)`` on the fitted
    pixels, the data off the background's span ``data_rest`` ``(n, M)`` and that
    span's orthonormal ``basis``. Returns the residuals ``(n, M)``, their Jacobians
    ``(n, 3, M)`` (:meth:`_LinearPart.residual_jacobian`), whether each shape has an
    amplitude of its own, the amplitudes, and the shapes off the span."""
    shapes_rest = shapes - (shapes @ basis) @ basis.T
    slopes_rest = slopes - (slopes @ basis) @ basis.T
    spread = np.einsum("nm,nm->n", shapes_rest, shapes_rest)
    usable = spread > 1e-12 * np.einsum("nm,nm->n", shapes, shapes)
    spread = np.where(usable, spread, 1.0)
    amplitude = np.einsum("nm,nm->n", shapes_rest, data_rest) / spread
    residual = data_rest - amplitude[:, None] * shapes_rest
    amplitude_slopes = (
        np.einsum("npm,nm->np", slopes_rest, data_rest)
        - 2.0 * amplitude[:, None] * np.einsum("npm,nm->np", slopes_rest, shapes_rest)
    ) / spread[:, None]
    jacobian = -(
        shapes_rest[:, None, :] * amplitude_slopes[:, :, None]
        + amplitude[:, None, None] * slopes_rest
    )
    return residual, jacobian, usable, amplitude, shapes_rest


def fit_autocorrelations(
    acs: list[np.ndarray], pixel_nm: tuple[float, float], start: np.ndarray
) -> list[AutocorrelationFit]:
    """:func:`fit_autocorrelation` of several crops of one size from one ``start``, in
    lock step: the parts of a movie (windows of frames, tiles of the field), all near
    the whole movie's solution.

    The same model, variable projection and exact Jacobian, and Levenberg-Marquardt
    steps scaled by the Jacobian's columns, stopped at the same relative tolerance
    (:data:`FIT_TOLERANCE`): each step evaluates every crop's model at its own point,
    then takes the projections off the background and solves the steps' small systems
    for all the crops in single calls, where separate fits spend most of their time in
    the overhead of many small calls. The solutions agree with the separate fits to
    about the tolerance. A crop whose fit has not settled after :data:`LOCKSTEP_STEPS`
    steps, or whose model lies in the background's span, is fitted alone.

    Examples
    --------
    >>> start = np.array([math.log(130.0), 0.0, math.log(130.0)])
    >>> acs = [
    ...     crop_autocorrelation(covariance_from_widths(w, 120.0, 10.0), 21, (100.0, 100.0))
    ...     + 0.1 for w in (140.0, 150.0)
    ... ]
    >>> [[round(v, 3) for v in fit.widths()] for fit in fit_autocorrelations(
    ...     acs, (100.0, 100.0), start)]
    [[140.0, 120.0, 10.0], [150.0, 120.0, 10.0]]
    """
    if not acs:
        return []
    acs = [np.asarray(ac, dtype=np.float64) for ac in acs]
    size = acs[0].shape[0]
    pixel_nm = (float(pixel_nm[0]), float(pixel_nm[1]))
    mask, terms, basis = _fit_layout(size)
    data = np.stack([ac[mask] for ac in acs])
    data_rest = data - (data @ basis) @ basis.T
    parameters = np.tile(np.asarray(start, dtype=np.float64), (len(acs), 1))

    def residuals(rows: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, ...]:
        """Residuals ``(n, M)``, Jacobians ``(n, 3, M)``, whether each model has an
        amplitude of its own (see :meth:`_LinearPart.residual_jacobian`), the
        amplitudes and the models (:func:`crop_autocorrelation_jacobian`)."""
        values, derivatives = crop_autocorrelation_jacobian(points, size, pixel_nm)
        residual, jacobian, usable, amplitude, _ = _stacked_residuals(
            values[:, mask], derivatives[:, :, mask], data_rest[rows], basis
        )
        finite = np.isfinite(residual).all(axis=1) & np.isfinite(jacobian).all(axis=(1, 2))
        return residual, jacobian, usable & finite, amplitude, values, derivatives

    every = np.arange(len(acs))
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        residual, jacobian, usable, amplitude, values, derivatives = residuals(every, parameters)
        cost = np.einsum("nm,nm->n", residual, residual)
        damping = np.full(len(acs), 1e-3)
        settled = np.zeros(len(acs), dtype=bool)
        for _ in range(LOCKSTEP_STEPS):
            rows = np.flatnonzero(usable & ~settled)
            if not rows.size:
                break
            normal = jacobian[rows] @ jacobian[rows].transpose(0, 2, 1)
            gradient = np.einsum("npm,nm->np", jacobian[rows], residual[rows])
            scale = np.diagonal(normal, axis1=1, axis2=2)
            scale = np.where(scale > 0.0, scale, 1.0)  # a parameter held at its bound
            damped = normal + damping[rows, None, None] * (scale[:, :, None] * np.eye(3))
            step = -np.linalg.solve(damped, gradient[:, :, None])[:, :, 0]
            trial = parameters[rows] + step
            trial_residual, trial_jacobian, trial_usable, *trial_rest = residuals(rows, trial)
            trial_cost = np.einsum("nm,nm->n", trial_residual, trial_residual)
            better = trial_usable & (trial_cost <= cost[rows])
            size_of = np.sqrt(scale)  # the step measured as MINPACK does, column-scaled
            small_step = np.linalg.norm(size_of * step, axis=1) <= FIT_TOLERANCE * (
                np.linalg.norm(size_of * parameters[rows], axis=1) + FIT_TOLERANCE
            )
            small_gain = cost[rows] - trial_cost <= FIT_TOLERANCE * cost[rows]
            moved = rows[better]
            parameters[moved] = trial[better]
            residual[moved], jacobian[moved] = trial_residual[better], trial_jacobian[better]
            for kept, new in zip((amplitude, values, derivatives), trial_rest, strict=True):
                kept[moved] = new[better]
            settled[rows[(better & (small_gain | small_step)) | (~better & small_step)]] = True
            cost[moved] = trial_cost[better]
            damping[rows] = np.where(better, damping[rows] / 3.0, damping[rows] * 4.0)
        # the background's coefficients as lstsq gives them (its terms have full rank)
        coefficients = (data - amplitude[:, None] * values[:, mask]) @ np.linalg.pinv(
            terms[mask]
        ).T
        backgrounds = np.einsum("yxt,nt->nyx", terms, coefficients)
        rms = np.sqrt(np.mean(residual**2, axis=1))
    centre = size // 2
    return [
        AutocorrelationFit(
            _covariance_from_parameters(parameters[index]),
            float(amplitude[index]),
            float(backgrounds[index, centre, centre]),
            float(rms[index]),
            parameters[index].copy(),
            backgrounds[index],
            (pixel_nm, values[index], derivatives[index]),
        )
        if settled[index]
        else fit_autocorrelation(ac, pixel_nm, start=start)
        for index, ac in enumerate(acs)
    ]


@functools.lru_cache(maxsize=32)
def _model_at(
    parameters: bytes, size: int, pixel_nm: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`crop_autocorrelation_jacobian` of the float64 ``parameters`` (their
    bytes), remembered: the fits of the parts of a movie (windows, tiles) all start
    at the whole movie's solution, so they share their first model. Read-only."""
    values, slopes = crop_autocorrelation_jacobian(np.frombuffer(parameters), size, pixel_nm)
    values.flags.writeable = False
    slopes.flags.writeable = False
    return values, slopes


def _residual_and_jacobian(linear: _LinearPart, mask: np.ndarray, size: int, pixel_nm):
    """``(model, residual, jacobian)``: the model crop and its slopes
    (:func:`crop_autocorrelation_jacobian`), the fit's residual and its Jacobian, as
    functions of the parameters, sharing one model evaluation per point (the
    optimiser asks for both at each point)."""
    last: dict[str, Any] = {}

    def model(parameters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = np.asarray(parameters, np.float64).tobytes()
        if last.get("key") != key:
            values, slopes = _model_at(key, size, (float(pixel_nm[0]), float(pixel_nm[1])))
            last.update(
                key=key, full=(values, slopes), shape=values[mask], slopes=slopes[:, mask].T
            )
        return last["full"]

    def evaluate(parameters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model(parameters)
        return last["shape"], last["slopes"]

    def residual(parameters: np.ndarray) -> np.ndarray:
        return linear.fit(evaluate(parameters)[0])[1]

    def jacobian(parameters: np.ndarray) -> np.ndarray:
        return linear.residual_jacobian(*evaluate(parameters))

    return model, residual, jacobian


def _isotropic_start(model, linear: _LinearPart, mask: np.ndarray, pixel: float, size: int):
    """Best isotropic width on a coarse grid, as log-Cholesky parameters.

    ``model(sigma)`` gives the isotropic model image.
    """
    best, best_cost = None, np.inf
    for sigma in np.geomspace(0.25 * pixel, 0.25 * size * pixel, 40):
        amplitude, rest = linear.fit(model(sigma)[mask])
        cost = float(rest @ rest)
        if amplitude > 0 and cost < best_cost:
            best, best_cost = sigma, cost
    sigma = best if best is not None else pixel
    return _parameters_from_covariance(np.eye(2) * sigma**2)


def fit_autocorrelation(
    ac: np.ndarray, pixel_nm: tuple[float, float], *, start: np.ndarray | None = None
) -> AutocorrelationFit:
    """Fit the exact pixel-integrated Gaussian model to an AC crop, off its central cross.

    Parameters
    ----------
    ac : ndarray
        Square autocorrelation crop of odd size, zero lag at the centre.
    pixel_nm : tuple of float
        ``(y, x)`` pixel size in nm.
    start : ndarray, optional
        Log-Cholesky start (:attr:`AutocorrelationFit.parameters` of a related
        fit); by default the best isotropic width on a coarse grid.

    Returns
    -------
    AutocorrelationFit

    Examples
    --------
    >>> covariance = covariance_from_widths(150.0, 110.0, 20.0)
    >>> ac = 5.0 * crop_autocorrelation(covariance, 21, (100.0, 100.0)) + 0.1
    >>> [round(v, 3) for v in fit_autocorrelation(ac, (100.0, 100.0)).widths()]
    [150.0, 110.0, 20.0]
    """
    ac = np.asarray(ac, dtype=np.float64)
    size = ac.shape[0]
    pixel_nm = (float(pixel_nm[0]), float(pixel_nm[1]))
    mask, terms, basis = _fit_layout(size)

    if start is None:
        x, y = lag_grid(size, pixel_nm)

        def isotropic_model(sigma: float) -> np.ndarray:
            return isotropic_autocorrelation(sigma, x, y, pixel_nm)

        pixel = math.sqrt(pixel_nm[0] * pixel_nm[1])
        linear = _LinearPart(terms[mask], ac[mask], basis)
        start = _isotropic_start(isotropic_model, linear, mask, pixel, size)
    return _fit_profile(ac, pixel_nm, mask, np.asarray(start, dtype=np.float64), terms, basis)


def fit_sensitivity(
    ac: np.ndarray, pixel_nm: tuple[float, float], fit: AutocorrelationFit
) -> np.ndarray:
    """How the fitted log-Cholesky parameters move with the autocorrelation.

    The linear response of :func:`fit_autocorrelation` at its solution: a small
    change ``d`` of the crop moves the parameters by ``M @ d.ravel()``. The
    residual of the fit is ``P(p) ac`` off the central cross, ``P(p)`` the
    projection off the span of the PSF term and the background, so by the implicit
    function theorem (Gauss-Newton) ``M = -(J^T J)^-1 (P J)^T`` restricted to the
    fitted pixels, ``J`` the exact Jacobian of the residual in the parameters
    (:meth:`_LinearPart.residual_jacobian`). It turns a delete-one-group jackknife
    into matrix products.

    Returns
    -------
    ndarray
        ``(3, size * size)`` (zero columns for the central cross).

    Examples
    --------
    >>> covariance = covariance_from_widths(150.0, 110.0, 20.0)
    >>> ac = 5.0 * crop_autocorrelation(covariance, 15, (100.0, 100.0)) + 0.1
    >>> fit = fit_autocorrelation(ac, (100.0, 100.0))
    >>> change = 0.01 * crop_autocorrelation(covariance_from_widths(160.0, 110.0, 20.0),
    ...                                      15, (100.0, 100.0))
    >>> moved = fit_autocorrelation(ac + change, (100.0, 100.0), start=fit.parameters)
    >>> predicted = fit.parameters + fit_sensitivity(ac, (100.0, 100.0), fit) @ change.ravel()
    >>> bool(np.allclose(predicted, moved.parameters, atol=1e-5))
    True
    """
    return fit_sensitivities([ac], pixel_nm, [fit])[0]


def fit_sensitivities(
    acs: Sequence[np.ndarray], pixel_nm: tuple[float, float], fits: Sequence[AutocorrelationFit]
) -> np.ndarray:
    """:func:`fit_sensitivity` of several crops of one size and their fits, in
    whole-array operations (the parts of a movie): ``(n, 3, size * size)``.

    Examples
    --------
    >>> covariance = covariance_from_widths(150.0, 110.0, 20.0)
    >>> acs = [w * crop_autocorrelation(covariance, 15, (100.0, 100.0)) + 0.1 for w in (3, 5)]
    >>> fits = [fit_autocorrelation(ac, (100.0, 100.0)) for ac in acs]
    >>> both = fit_sensitivities(acs, (100.0, 100.0), fits)
    >>> bool(np.allclose(both[1], fit_sensitivity(acs[1], (100.0, 100.0), fits[1])))
    True
    """
    acs = np.stack([np.asarray(ac, dtype=np.float64) for ac in acs])
    count, size = acs.shape[0], acs.shape[-1]
    mask, _, basis = _fit_layout(size)
    pixel_nm = (float(pixel_nm[0]), float(pixel_nm[1]))
    parameters = np.stack([np.asarray(fit.parameters, dtype=np.float64) for fit in fits])
    if all(
        fit.model is not None and fit.model[0] == pixel_nm and fit.model[1].shape[0] == size
        for fit in fits
    ):
        values = np.stack([fit.model[1] for fit in fits])
        slopes = np.stack([fit.model[2] for fit in fits])
    else:
        values, slopes = crop_autocorrelation_jacobian(parameters, size, pixel_nm)

    def project_out(array: np.ndarray) -> np.ndarray:  # off the background's span
        return array - (array @ basis) @ basis.T

    # the residual's Jacobian; zero where the shape lies in the background's span (no
    # amplitude of its own)
    _, jacobian, usable, _, shape_rest = _stacked_residuals(
        values[:, mask], slopes[:, :, mask], project_out(acs[:, mask]), basis
    )
    jacobian *= usable[:, None, None]
    # off the span of the shape and the background terms: off the terms' orthonormal
    # basis, then off the unit shape left over (the two are orthogonal; no QR)
    projected = project_out(jacobian)
    norm = np.sqrt(np.einsum("nm,nm->n", shape_rest, shape_rest))
    unit = np.divide(shape_rest, norm[:, None], out=np.zeros_like(shape_rest),
                     where=norm[:, None] > 0.0)  # fmt: skip
    projected -= np.einsum("npm,nm->np", projected, unit)[:, :, None] * unit[:, None, :]
    normal = jacobian @ jacobian.transpose(0, 2, 1)
    response = np.zeros((count, parameters.shape[1], size * size))
    # each 3 x 3 system solved once, applied to every pixel by a matrix product
    response[:, :, mask.ravel()] = -np.linalg.solve(normal, projected)
    return response


def _invalid(reason: str, name: str) -> None:
    warnings.warn(f"{name}: no PSF found ({reason}); widths are NaN", RuntimeWarning, stacklevel=3)


# ---------------------------------------------------------------------- spline
def fit_spline(psf: np.ndarray, pixel_nm: tuple[float, float]):
    """Cubic interpolating spline of ``psf`` in nm coordinates.

    Returns
    -------
    tuple
        ``(tx, ty, coeffs)`` with ``coeffs`` of shape ``(len(ty) - 4, len(tx) - 4)``.
    """
    x, y = lag_grid(psf.shape[0], pixel_nm)
    spline = interpolate.RectBivariateSpline(y[:, 0], x[0], psf, kx=3, ky=3, s=0)
    ty, tx = spline.get_knots()
    coeffs = spline.get_coeffs().reshape(len(ty) - 4, len(tx) - 4)
    return tx, ty, coeffs


def evaluate_spline(
    tx: np.ndarray, ty: np.ndarray, coeffs: np.ndarray, x_nm: np.ndarray, y_nm: np.ndarray
) -> np.ndarray:
    """Evaluate a spline from :func:`fit_spline` on the grid ``y_nm x x_nm``.

    Parameters
    ----------
    tx, ty : ndarray
        Knots along x (columns) and y (rows), nm.
    coeffs : ndarray
        Coefficients, shape ``(len(ty) - 4, len(tx) - 4)``.
    x_nm, y_nm : ndarray
        Increasing 1-D coordinates in nm.

    Returns
    -------
    ndarray
        Shape ``(len(y_nm), len(x_nm))``.
    """
    tck = [np.asarray(ty), np.asarray(tx), np.asarray(coeffs).ravel(), 3, 3]
    y_nm = np.atleast_1d(np.asarray(y_nm, dtype=np.float64))
    x_nm = np.atleast_1d(np.asarray(x_nm, dtype=np.float64))
    return np.asarray(interpolate.bisplev(y_nm, x_nm, tck)).reshape(len(y_nm), len(x_nm))


# --------------------------------------------------------------------- estimate
def estimate_psf(
    ac: np.ndarray,
    pixel_nm: tuple[float, float] = (100.0, 100.0),
    *,
    name: str = "channel 0",
    start: np.ndarray | None = None,
    images: bool = True,
    fit: AutocorrelationFit | None = None,
) -> PsfEstimate:
    """PSF, Gaussian fit and spline from a cropped fluctuation autocorrelation.

    Parameters
    ----------
    ac : ndarray
        Square autocorrelation crop of odd size, zero lag at the centre (from
        :meth:`smlmlp.block_sums.BlockSums.autocorrelation`).
    pixel_nm : tuple of float, optional
        ``(y, x)`` pixel size in nm.
    name : str, optional
        Channel name for warnings.
    start : ndarray, optional
        Start of the fit (:func:`fit_autocorrelation`): the parameters of a related
        fit, e.g. the whole movie's for a window of its frames or a tile of its
        field; by default the best isotropic width on a coarse grid.
    images : bool, optional
        Make the PSF image, the fitted model's image and the spline. Without
        them (``psf``, ``fit``, ``spline``, ``tx``, ``ty`` and ``coeffs`` are
        None) only the widths and the verdict are wanted: parts of a movie.
    fit : AutocorrelationFit, optional
        The fit of ``ac`` when it is made already (:func:`fit_autocorrelations`, for
        the parts of a movie); ``start`` is then not used.

    Returns
    -------
    PsfEstimate
        With NaN widths and a ``RuntimeWarning`` when the autocorrelation holds
        no significant PSF (pure noise).
    """
    ac = np.asarray(ac, dtype=np.float64)
    size = ac.shape[0]
    if ac.ndim != 2 or ac.shape[1] != size or size % 2 == 0:
        raise ValueError(f"{name}: the autocorrelation crop must be square and odd, got {ac.shape}")
    pixel_nm = (float(pixel_nm[0]), float(pixel_nm[1]))
    ac_fit = fit_autocorrelation(ac, pixel_nm, start=start) if fit is None else fit
    model_shape = ac_fit.model[1]  # the fit's own model at its solution
    converged = bool(np.all(np.isfinite(model_shape))) and math.isfinite(ac_fit.amplitude)
    if not converged:
        model_shape = np.zeros_like(ac)
    psf_model_image = ac_fit.amplitude * model_shape
    peak = ac_fit.amplitude * float(model_shape.max())
    signal_to_noise = peak / ac_fit.residual_rms if ac_fit.residual_rms > 0 else np.inf
    sigx, sigy, theta = widths_from_covariance(ac_fit.covariance)

    reason = None
    if not converged:
        reason = "the fit did not converge"
    elif not ac_fit.amplitude > 0:
        reason = "the autocorrelation has no positive peak"
    elif signal_to_noise < MIN_SIGNAL_TO_NOISE:
        reason = f"autocorrelation peak only {signal_to_noise:.1f} times its noise"
    elif min(sigx, sigy) < MIN_SIGMA_PIX * min(pixel_nm):
        reason = "the fitted width is far below one pixel"
    elif max(sigx, sigy) > size * min(pixel_nm) / 6.0:
        reason = "the fitted width does not fit in the crop (raise crop_pix)"
    if reason is not None:
        _invalid(reason, name)
        sigx = sigy = theta = float("nan")

    if images:
        background = ac_fit.background if converged else np.zeros_like(ac)
        pictures = _psf_images(ac, background, psf_model_image, ac_fit, pixel_nm)
    else:
        pictures = dict.fromkeys(("psf", "fit", "spline", "tx", "ty", "coeffs"))
    return PsfEstimate(
        ac=ac,
        **pictures,
        sigx=float(sigx),
        sigy=float(sigy),
        theta=float(theta),
        pixel_nm=pixel_nm,
        valid=reason is None,
        ac_fit=ac_fit,
        qc="valid" if reason is None else "invalid",
        qc_notes=() if reason is None else (f"no PSF found: {reason}",),
    )


def _psf_images(
    ac: np.ndarray,
    background: np.ndarray,
    model_image: np.ndarray,
    ac_fit: AutocorrelationFit,
    pixel_nm: tuple[float, float],
) -> dict[str, np.ndarray]:
    """The PSF image, the fitted model's image (both peak 1) and the spline of the PSF."""
    # the PSF's own autocorrelation: the data less the broad background, the
    # central cross (camera noise) from the model
    cleaned = np.where(_off_centre_mask(ac.shape[0]), ac - background, model_image)
    psf = psf_from_autocorrelation(cleaned, model_image, ac_fit.residual_rms)
    fit = psf_from_autocorrelation(model_image)
    scale = float(fit.max()) if ac_fit.amplitude > 0 else float(psf.max())
    if scale > 0:
        psf, fit = psf / scale, fit / scale
    tx, ty, coeffs = fit_spline(psf, pixel_nm)
    x, y = lag_grid(ac.shape[0], pixel_nm)
    spline = evaluate_spline(tx, ty, coeffs, x[0], y[:, 0])
    return {"psf": psf, "fit": fit, "spline": spline, "tx": tx, "ty": ty, "coeffs": coeffs}
