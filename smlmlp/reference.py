"""Noise-free autocorrelations of known PSFs, the reference of accuracy checks.

What the fluctuation autocorrelation of a movie tends to, for a given PSF, when
noise vanishes: the autocorrelation of the pixel-integrated PSF at integer
lags (averaged over sub-pixel emitter positions, which is what many blinking
emitters give). Feeding it to :func:`smlmlp.psf.estimate_psf` tells what the
method returns on a perfect movie, so a simulated movie can be judged against
that rather than against a Gaussian width that a non-Gaussian PSF does not have.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve
from scipy.special import j1


def airy_intensity(radius_nm: np.ndarray, wavelength_nm: float, numerical_aperture: float):
    """Airy pattern ``(2 J1(v) / v)^2``, ``v = 2 pi NA r / wavelength``, peak 1.

    Examples
    --------
    >>> float(airy_intensity(np.array([0.0]), 670.0, 1.4)[0])
    1.0
    """
    v = 2.0 * np.pi * numerical_aperture * np.asarray(radius_nm, dtype=np.float64) / wavelength_nm
    safe = np.where(v > 0, v, 1.0)
    return np.where(v > 0, (2.0 * j1(safe) / safe) ** 2, 1.0)


def airy_autocorrelation(
    wavelength_nm: float,
    numerical_aperture: float,
    pixel_nm: float | tuple[float, float],
    crop_pix: int,
    *,
    oversample: int = 8,
    margin_pix: int = 12,
) -> np.ndarray:
    """Noise-free fluctuation autocorrelation of a pixel-integrated Airy PSF.

    Parameters
    ----------
    wavelength_nm, numerical_aperture : float
        Emission wavelength and objective NA.
    pixel_nm : float or (float, float)
        Pixel size, square or ``(y, x)``.
    crop_pix : int
        Crop size (made odd as ``2 * (crop_pix // 2) + 1``).
    oversample : int, optional
        Sub-samples per pixel of the fine grid.
    margin_pix : int, optional
        Extent of the PSF beyond the crop, in pixels (the Airy rings decay slowly).

    Returns
    -------
    ndarray
        ``(size, size)`` autocorrelation, zero lag at the centre, arbitrary scale.

    Examples
    --------
    >>> ac = airy_autocorrelation(670.0, 1.4, 100.0, 11)
    >>> ac.shape, bool(ac[5, 5] == ac.max())
    ((11, 11), True)
    """
    py, px = (pixel_nm, pixel_nm) if np.isscalar(pixel_nm) else pixel_nm
    half = crop_pix // 2
    extent = half + margin_pix
    steps = np.arange(-extent * oversample, extent * oversample + 1) / oversample
    y, x = np.meshgrid(steps * py, steps * px, indexing="ij")
    fine = airy_intensity(np.hypot(x, y), wavelength_nm, numerical_aperture)
    box = np.ones((oversample, oversample))
    integrated = fftconvolve(fine, box, mode="same")  # one pixel's signal at each offset
    ac = fftconvolve(integrated, integrated[::-1, ::-1], mode="same")
    centre = ac.shape[0] // 2
    lags = np.arange(-half, half + 1) * oversample + centre
    return ac[np.ix_(lags, lags)]
