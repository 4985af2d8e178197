"""Cost of the search for fiducial beads against the bare FFT pass, per frame size.

Before the pass, :func:`smlmlp.fiducials.movie_fiducials` reads 16 frames spread
over the movie and works on them and on six images (the whole movie's static image
and its fifths'). This prints its time beside the
time of one bare float32 ``rfft2`` of a frame (single-threaded, the floor's unit),
and the search's cost in frames of that floor: what it adds to a movie of that many
frames' bare pass, and the search's peak memory (``tracemalloc``: the arrays it
makes, not the movie), also in frames. Frames are in memory (a uint16 stack; no
reading), two beads in blinking on an EMCCD.

With ``--holes``, a second table: the pass over such a movie (its 64² tile of two
beads tiled: a bead per 32² pixels, far more than a sample holds; 1000 frames, two
workers), keeping crops of 41² (the library's and the command's default) and of 129²
(the workflow's, which make the largest boxes), with the pairs lost to the beads'
holes given back (:mod:`smlmlp.holes`) and without (the boxes emptied), fastest of
5 each, alternated.

    python benchmarks/bench_fiducials.py [--sides 256 512 1024 2048] [--holes]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import scipy.fft
from bench_reading import _fastest as fastest

import smlmlp.spectra
from smlmlp.fiducials import movie_fiducials
from smlmlp.holes import MapHoles
from smlmlp.simulation import simulate_movie
from smlmlp.spectra import accumulate_spectrum

FRAMES = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--holes", action="store_true", help="time the holes' pairs too")
    args = parser.parse_args()
    print(
        f"{'frame':>10} | {'search ms':>9} | {'rfft2 ms':>8} | in floor frames | "
        f"{'peak MB':>7} | in uint16 frames"
    )
    for side in args.sides:
        small, _ = simulate_movie(
            FRAMES, (64, 64), seed=1, artifacts={"fiducial_count": 2, "fiducial_photons": 5e4}
        )
        movie = np.tile(small, (1, side // 64, side // 64))  # beads and blinking, tiled
        found = movie_fiducials(movie)
        search = fastest(lambda movie=movie: movie_fiducials(movie), 5)
        frame = movie[0].astype(np.float32)
        floor = fastest(lambda frame=frame: scipy.fft.rfft2(frame, workers=1), repeats=9)
        tracemalloc.start()
        movie_fiducials(movie)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(
            f"{side:>5}x{side:<4} | {1e3 * search:9.1f} | {1e3 * floor:8.2f} | "
            f"{search / floor:15.1f} | {peak:7.1f} | {peak / (movie[0].nbytes / 2**20):6.1f}"
            f"   ({len(found.spots)} beads found)"
        )
    if args.holes:
        holes_table(args.sides)


def _without_holes(mask: np.ndarray, size: int, xp) -> MapHoles:
    return MapHoles(np.zeros_like(mask), size, xp)


def holes_table(sides: list[int]) -> None:
    """The pass with and without the pairs lost to the holes given back."""
    print(
        f"\n{'frame':>10} | {'crop':>4} | {'beads':>5} | {'with s':>7} | {'without s':>9} | "
        "with / without"
    )
    small, _ = simulate_movie(
        1000, (64, 64), seed=1, artifacts={"fiducial_count": 2, "fiducial_photons": 5e4}
    )
    for side in sides:
        if side > 512:  # 1000 frames of 1024² are 2 GB in memory
            continue
        movie = np.tile(small, (1, side // 64, side // 64))
        beads = len(movie_fiducials(movie).spots)
        for crop in (41, 129):
            _holes_row(movie, side, crop, beads)


def _holes_row(movie: np.ndarray, side: int, crop: int, beads: int) -> None:
    seconds: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(5):
        for case in seconds:
            restore = smlmlp.spectra.MapHoles
            if case == "without":
                smlmlp.spectra.MapHoles = _without_holes
            start = time.perf_counter()
            accumulate_spectrum(movie, workers=2, kept_crop=crop)
            seconds[case].append(time.perf_counter() - start)
            smlmlp.spectra.MapHoles = restore
    best = {case: min(times) for case, times in seconds.items()}
    print(
        f"{side:>5}x{side:<4} | {crop:4d} | {beads:5d} | {best['with']:7.3f} | "
        f"{best['without']:9.3f} | {best['with'] / best['without']:6.2f}"
    )


if __name__ == "__main__":
    main()
