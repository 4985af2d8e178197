"""The fit of the exact autocorrelation model (:mod:`smlmlp.ac_model`) to an AC crop.

The fitted model is ``A * AC_model(S) + B``: ``B`` a broad background, an even
polynomial of the lag up to degree 2 (:func:`background_terms`). ``B`` takes up what
is broad on the scale of the crop and changes faster than the blocks of frames
remove: laser flicker on the emitters gives a near constant, out-of-focus haze a
smooth bump (a level shared by the whole frame is left out of the sums,
:mod:`smlmlp.block_sums`). ``A`` and ``B`` enter linearly and are solved for at
every step; the covariance ``S`` is fitted in log-Cholesky parameters.

The zero-lag value carries the white (shot, read, EM-excess) noise and the
central row and column carry row/column-correlated camera noise, so the fit
ignores them. The reported widths come from this fit, off the central row and
column, with the exact model: the square root of a noisy or aliased spectrum, the
pixel integration and the crop bias nothing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from .ac_model import (
    _covariance_from_parameters,
    _parameters_from_covariance,
    crop_autocorrelation_jacobian,
    isotropic_autocorrelation,
    lag_grid,
    widths_from_covariance,
)

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
    >>> from smlmlp.ac_model import covariance_from_widths, crop_autocorrelation
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
    >>> from smlmlp.ac_model import covariance_from_widths, crop_autocorrelation
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
    >>> from smlmlp.ac_model import covariance_from_widths, crop_autocorrelation
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
    >>> from smlmlp.ac_model import covariance_from_widths, crop_autocorrelation
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
