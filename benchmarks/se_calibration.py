"""Are the standard errors honest? Coverage and size of the jackknife errors on simulated truth.

For each condition (a dim, a middle and a bright EMCCD movie of 600 frames of 96^2
pixels, sigma 120 x 150 nm), ``--movies`` movies are simulated with different
seeds and measured with :func:`smlmlp.estimate.estimate_from_sums`. Printed per
condition and number: the fraction of movies whose ``+-1.96 SE`` interval covers
the truth (target 90-98 %), and the mean standard error over the seed-to-seed
standard deviation (target 0.75-1.25).

Run::

    python benchmarks/se_calibration.py               # 40 movies per condition
    python benchmarks/se_calibration.py --movies 80   # tighter
"""

from __future__ import annotations

import argparse
import math
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

#: 600 frames of 96^2 EMCCD pixels, sigma 120 x 150 nm, 100 nm pixels.
CALIBRATION = {"n_frames": 600, "shape": (96, 96), "sigx_nm": 120.0, "sigy_nm": 150.0}
CONDITIONS = {
    "dim": {"photons": 300.0, "background": 100.0},
    "middle": {"photons": 800.0, "background": 60.0},
    "bright": {"photons": 3000.0, "background": 10.0},
}
#: Columns of one run: the three numbers, then their standard errors.
NUMBERS = ("sigx", "sigy", "psf_sigma")
TRUTH = (
    CALIBRATION["sigx_nm"],
    CALIBRATION["sigy_nm"],
    math.sqrt(CALIBRATION["sigx_nm"] * CALIBRATION["sigy_nm"]),
)


def estimate_one(job: tuple[str, int]) -> tuple[float, ...]:
    """``(sigx, sigy, psf_sigma, their three SEs)`` of one simulated movie."""
    from smlmlp.estimate import estimate_from_sums
    from smlmlp.simulation import simulate_movie
    from smlmlp.spectra import accumulate_spectrum

    condition, seed = job
    movie, _ = simulate_movie(
        CALIBRATION["n_frames"],
        CALIBRATION["shape"],
        sigx_nm=CALIBRATION["sigx_nm"],
        sigy_nm=CALIBRATION["sigy_nm"],
        camera="emccd",
        seed=seed,
        **CONDITIONS[condition],
    )
    estimate = estimate_from_sums(accumulate_spectrum(movie), 21, (100.0, 100.0))
    return (
        estimate.sigx,
        estimate.sigy,
        estimate.psf_sigma,
        estimate.sigx_se,
        estimate.sigy_se,
        estimate.psf_sigma_se,
    )


def run(movies: int, workers: int = 2) -> dict[str, np.ndarray]:
    """``{condition: array (movies, 6)}``, seeds ``1000 * index + 0 .. movies - 1``."""
    jobs = {
        condition: [(condition, 1000 * index + seed) for seed in range(movies)]
        for index, condition in enumerate(CONDITIONS)
    }
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return {
            condition: np.array(list(pool.map(estimate_one, seeds)))
            for condition, seeds in jobs.items()
        }


def calibration(runs: np.ndarray) -> dict[str, tuple[float, float]]:
    """``{number: (coverage of +-1.96 SE, mean SE / seed-to-seed SD)}``."""
    out = {}
    for column, (name, truth) in enumerate(zip(NUMBERS, TRUTH, strict=True)):
        value, error = runs[:, column], runs[:, column + 3]
        covered = float(np.mean(np.abs(value - truth) <= 1.96 * error))
        out[name] = (covered, float(error.mean() / value.std(ddof=1)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movies", type=int, default=40, help="movies per condition")
    parser.add_argument("--workers", type=int, default=2, help="processes")
    args = parser.parse_args()
    started = time.perf_counter()
    results = run(args.movies, args.workers)
    print(f"{args.movies} movies per condition, {time.perf_counter() - started:.0f} s")
    header = f"{'condition':>9} | {'number':>9} | {'coverage':>8} | {'SE / SD':>7} | {'SD %':>5}"
    print(header)
    print("-" * len(header))
    for condition, runs in results.items():
        for column, (name, (covered, ratio)) in enumerate(calibration(runs).items()):
            spread = 100 * runs[:, column].std(ddof=1) / TRUTH[column]
            print(
                f"{condition:>9} | {name:>9} | {100 * covered:7.1f}% | {ratio:7.2f} | "
                f"{spread:5.2f}"
            )


if __name__ == "__main__":
    main()
