"""What the Gaussian fit of blink_spatial_psf gives for an Airy PSF, against 0.21 lambda / NA.

For each wavelength, NA and pixel size, the noise-free autocorrelation of the
pixel-integrated Airy PSF (:func:`smlmlp.reference.airy_autocorrelation`) is fed
to the PSF estimator; with ``--movies`` a simulated blinking movie of the same
Airy PSF is analysed too and compared with that noise-free value.

Run::

    python benchmarks/airy_reference.py [--movies]
"""

from __future__ import annotations

import argparse
import warnings

from smlmlp import blink_spatial_psf
from smlmlp.psf import estimate_psf
from smlmlp.reference import airy_autocorrelation
from smlmlp.simulation import simulate_movie

CASES = [
    (wavelength, na, pixel)
    for wavelength in (520.0, 670.0)
    for na in (1.2, 1.4, 1.49)
    for pixel in (65.0, 100.0, 160.0)
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movies", action="store_true", help="also analyse simulated movies")
    args = parser.parse_args()
    header = (
        f"{'lambda nm':>9} {'NA':>5} {'pixel nm':>8} | {'0.21 l/NA':>9} | {'fit nm':>7} | "
        f"{'fit/0.21l/NA':>12}"
    )
    if args.movies:
        header += f" | {'movie nm':>8} | {'movie/fit':>9}"
    print(header)
    print("-" * len(header))
    for wavelength, na, pixel in CASES:
        rule = 0.21 * wavelength / na
        reference = estimate_psf(airy_autocorrelation(wavelength, na, pixel, 41), (pixel, pixel))
        line = (
            f"{wavelength:9.0f} {na:5.2f} {pixel:8.0f} | {rule:9.1f} | "
            f"{reference.psf_sigma:7.1f} | {reference.psf_sigma / rule:12.3f}"
        )
        if args.movies:
            movie, _ = simulate_movie(
                1000, (64, 64), psf="airy", wavelength_nm=wavelength, numerical_aperture=na,
                pixel_nm=pixel, photons=2000.0, background=20.0, seed=2,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sigma, _ = blink_spatial_psf([movie], channels_pixels_nm=pixel)
            line += f" | {sigma[0]:8.1f} | {sigma[0] / reference.psf_sigma:9.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
