"""The exact model of a Gaussian PSF's fluctuation autocorrelation on the pixel grid,
and the geometry of its widths.

Model
-----
A blinking emitter contributes to the mean fluctuation autocorrelation (AC) the
autocorrelation of its pixel-integrated PSF. For a rotated elliptical Gaussian
PSF with covariance ``S`` (nm^2) and pixels of ``py x px`` nm, the expected AC at
the integer lag ``l`` is exactly::

    AC(l) = A * integral tent_x(u) tent_y(v) exp(-(l - w)^T S^-1 (l - w) / 4) du dv + B(l)

with ``w = (u, v)``, ``tent`` the autocorrelation of one pixel (a triangle of
half-width one pixel) and ``B`` a broad background (fitted with it,
:mod:`smlmlp.ac_fit`). The integral is evaluated with Gauss-Legendre nodes on each
half of the triangles.

Angle convention: the Gaussian is evaluated at ``x' = x cos t - y sin t``,
``y' = x sin t + y cos t`` (x the column and y the row offset from the centre)
as ``exp(-x'^2 / (2 sigx^2) - y'^2 / (2 sigy^2))``, with ``t`` in (-45, 45] degrees:
``sigx`` is the width along the principal axis nearest the x (column) axis, so an
axis-aligned PSF wider along y has ``sigy > sigx`` and ``t = 0``.
"""

from __future__ import annotations

import math

import numpy as np

#: Gauss-Legendre nodes and weights on [0, 1] for the pixel-triangle integrals
#: (4 nodes per half triangle: relative error below 2e-5 down to sigma = 0.5 pixel).
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(4)
_NODES = 0.5 * (_NODES + 1.0)
_WEIGHTS = 0.5 * _WEIGHTS
#: The same on both halves of the triangle: nodes (pixels) and weights.
_TRIANGLE_NODES = np.concatenate([_NODES, -_NODES])
_TRIANGLE_WEIGHTS = np.concatenate([(1.0 - _NODES) * _WEIGHTS] * 2)


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


def gaussian_image(
    sigx: float, sigy: float, theta_deg: float, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Rotated Gaussian of the module's convention, peak 1, at offsets ``(x, y)`` nm."""
    c, s = math.cos(math.radians(theta_deg)), math.sin(math.radians(theta_deg))
    xr = x * c - y * s
    yr = x * s + y * c
    return np.exp(-(xr**2) / (2.0 * sigx**2) - yr**2 / (2.0 * sigy**2))
