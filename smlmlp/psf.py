"""From a fluctuation autocorrelation to a PSF, its Gaussian fit and its spline.

The widths come from the fit of the exact autocorrelation model of a pixelated
rotated Gaussian (:mod:`smlmlp.ac_model`, fitted by :mod:`smlmlp.ac_fit`) to the
crop. The PSF image follows the documented transform, applied to the
autocorrelation less the fitted background:

    PSF = centred real part of IFFT( sqrt| FFT(AC) | )

applied to the autocorrelation whose central row and column have been replaced
by the fitted model (otherwise the zero-lag noise spreads over the whole PSF),
and whose spatial frequencies below the noise level lean on the model (a
Wiener weight; otherwise the square root turns noise into a central spike).
``fit`` is the fitted model passed through the same transform as the PSF image.
The widths follow the angle convention of :mod:`smlmlp.ac_model`: ``theta`` in
(-45, 45] degrees, ``sigx`` the width along the principal axis nearest x.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import interpolate

from .ac_fit import AutocorrelationFit, _off_centre_mask, fit_autocorrelation
from .ac_model import lag_grid, widths_from_covariance

#: Minimum ratio of the fitted AC peak to the residual noise for a PSF to count as found.
MIN_SIGNAL_TO_NOISE = 8.0
#: Smallest width accepted, in pixels; below this the AC holds no usable shape.
MIN_SIGMA_PIX = 0.3
#: The crop must span this many PSF widths (sigma) for the fit to see the PSF's tails.
CROP_SIGMAS = 6.0
#: How the QC note of a channel without a PSF starts; the reason follows.
NO_PSF_NOTE = "no PSF found: "


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
    fiducials, masked_pixels : int
        Fiducial markers found in the movie, and their pixels left out of the sums
        (:mod:`smlmlp.fiducials`).
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
    fiducials: int = 0
    masked_pixels: int = 0
    ac_fit: AutocorrelationFit | None = None
    sections: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def psf_sigma(self) -> float:
        """Effective width ``sqrt(sigx * sigy)`` in nm."""
        return math.sqrt(self.sigx * self.sigy)


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
    elif max(sigx, sigy) > size * min(pixel_nm):  # a slope, not a peak
        reason = (
            f"the fitted width, {max(sigx, sigy):.0f} nm, is wider than the crop: no peak "
            "the size of a PSF (noise, or a PSF far out of focus)"
        )
    elif max(sigx, sigy) > size * min(pixel_nm) / CROP_SIGMAS:
        wanted = math.ceil(CROP_SIGMAS * max(sigx, sigy) / min(pixel_nm)) // 2 * 2 + 1
        reason = (
            f"the fitted width, {max(sigx, sigy):.0f} nm, needs a crop of {CROP_SIGMAS:g} "
            f"times it: raise crop_pix to {wanted} or more"
        )
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
        qc_notes=() if reason is None else (NO_PSF_NOTE + reason,),
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
