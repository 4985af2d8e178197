"""Naive reference: the published spatial-autocorrelation PSF recipe, taken literally.

This is a yardstick for ``benchmarks/accuracy.py``, not product code: it follows
the published description step by step, with none of the corrections that
:func:`smlmlp.blink_spatial_psf` makes, so that the accuracy table can show what
each correction is worth. Steps, for one movie of shape ``(frames, height, width)``:

1. background = per-pixel temporal median of the movie; each frame minus the
   background, clipped at 0;
2. the circular spatial autocorrelation of each frame: ``rfft2``, ``|F|^2``,
   ``irfft2`` *without* the ``s=`` argument (an odd width loses a column), no
   correction for the pixel pairs a lag loses at the edge, the zero-lag spike
   (white noise) kept; the mean over frames;
3. the crop of ``crop_pix`` lags around zero lag;
4. PSF = centred real part of ``IFFT(sqrt|FFT(AC)|)``, divided by its maximum
   outside the centre pixel;
5. a rotated elliptical Gaussian ``A * exp(-x'^2 / (2 sx^2) - y'^2 / (2 sy^2)) + c``
   sampled at the pixel centres is fitted to the pixels off the central row and
   column (``(Y != 0) & (X != 0)``), the amplitude ``A`` bounded to [0.75, 1.25];
   the widths in pixels are converted to nm.

The angle convention is that of :mod:`smlmlp.psf`
(``x' = x cos t - y sin t``, ``y' = x sin t + y cos t``, ``t`` in [0, 90)).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize

from smlmlp.ac_model import covariance_from_widths, widths_from_covariance


def naive_autocorrelation(movie: Any, crop_pix: int = 41, chunk_frames: int = 256) -> np.ndarray:
    """Steps 1-3: mean circular autocorrelation of the median-clipped frames, cropped.

    Parameters
    ----------
    movie : array-like
        ``(frames, height, width)`` stack.
    crop_pix : int, optional
        Crop size, made odd as ``2 * (crop_pix // 2) + 1``.
    chunk_frames : int, optional
        Frames transformed at once (memory only; the result does not depend on it).

    Returns
    -------
    ndarray
        ``(size, size)`` crop, zero lag at the centre.

    Examples
    --------
    >>> movie = np.random.default_rng(0).poisson(5.0, size=(20, 16, 15))
    >>> naive_autocorrelation(movie, 7).shape
    (7, 7)
    """
    frames = np.asarray(movie)
    background = np.median(frames, axis=0)
    total = None
    for first in range(0, frames.shape[0], chunk_frames):
        chunk = np.clip(frames[first : first + chunk_frames] - background, 0.0, None)
        spectrum = np.fft.rfft2(chunk)
        ac = np.fft.irfft2(np.abs(spectrum) ** 2)  # no s=: odd widths lose a column
        part = ac.sum(axis=0)
        total = part if total is None else total + part
    ac = np.fft.fftshift(total / (frames.shape[0] * frames.shape[1] * frames.shape[2]))
    half = crop_pix // 2
    cy, cx = ac.shape[0] // 2, ac.shape[1] // 2
    return ac[cy - half : cy + half + 1, cx - half : cx + half + 1]


def naive_psf(ac: np.ndarray) -> np.ndarray:
    """Step 4: centred real part of ``IFFT(sqrt|FFT(AC)|)``, peak off centre = 1."""
    psf = np.fft.fftshift(np.fft.ifft2(np.sqrt(np.abs(np.fft.fft2(np.fft.ifftshift(ac))))).real)
    centre = psf.shape[0] // 2
    outside = psf.copy()
    outside[centre, centre] = -np.inf
    return psf / outside.max()


def _gaussian(
    coordinates: tuple[np.ndarray, np.ndarray],
    amplitude: float,
    sx: float,
    sy: float,
    theta: float,
    offset: float,
) -> np.ndarray:
    x, y = coordinates
    c, s = math.cos(theta), math.sin(theta)
    xr, yr = x * c - y * s, x * s + y * c
    return amplitude * np.exp(-(xr**2) / (2 * sx**2) - yr**2 / (2 * sy**2)) + offset


def naive_fit(psf: np.ndarray) -> tuple[float, float, float]:
    """Step 5: bounded Gaussian fit off the central cross; ``(sx, sy, theta_deg)`` in pixels."""
    half = psf.shape[0] // 2
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    y, x = np.meshgrid(offsets, offsets, indexing="ij")
    mask = (y != 0) & (x != 0)
    start = [1.0, 1.5, 1.5, 0.0, 0.0]
    lower = [0.75, 0.05, 0.05, -math.pi, -np.inf]
    upper = [1.25, float(half), float(half), math.pi, np.inf]
    parameters, _ = optimize.curve_fit(
        _gaussian, (x[mask], y[mask]), psf[mask], p0=start, bounds=(lower, upper), maxfev=5000
    )
    _, sx, sy, theta, _ = parameters
    return widths_from_covariance(covariance_from_widths(sx, sy, math.degrees(theta)))


def naive_spatial_psf(
    movie: Any, crop_pix: int = 41, pixel_nm: float = 100.0
) -> tuple[float, float, float]:
    """The whole naive recipe: ``(sigx_nm, sigy_nm, theta_deg)`` for one movie.

    Parameters
    ----------
    movie : array-like
        ``(frames, height, width)`` stack.
    crop_pix : int, optional
        Crop size of the autocorrelation.
    pixel_nm : float, optional
        Square pixel size in nm.

    Returns
    -------
    tuple of float
        Widths in nm and the angle in degrees, in [0, 90).

    Examples
    --------
    >>> from smlmlp.simulation import simulate_movie
    >>> movie, _ = simulate_movie(200, (48, 48), sigx_nm=150.0, seed=0)
    >>> sx, sy, theta = naive_spatial_psf(movie, 31)
    >>> 100.0 < sx < 250.0 and 100.0 < sy < 250.0
    True
    """
    sx, sy, theta = naive_fit(naive_psf(naive_autocorrelation(movie, crop_pix)))
    return sx * pixel_nm, sy * pixel_nm, theta
