"""Cost of the search for fiducial beads against the bare FFT pass, per frame size.

Before the pass, :func:`smlmlp.fiducials.movie_fiducials` reads 16 frames spread
over the movie and works on them and on six images (the whole movie's static image
and its fifths'). This prints its time beside the
time of one bare float32 ``rfft2`` of a frame (single-threaded, the floor's unit),
and the search's cost in frames of that floor: what it adds to a movie of that many
frames' bare pass. Frames are in memory (a uint16 stack; no reading), two beads in
blinking on an EMCCD.

    python benchmarks/bench_fiducials.py [--sides 256 512 1024 2048]
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.fft
from bench_reading import _fastest as fastest

from smlmlp.fiducials import movie_fiducials
from smlmlp.simulation import simulate_movie

FRAMES = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[256, 512, 1024, 2048])
    args = parser.parse_args()
    print(f"{'frame':>10} | {'search ms':>9} | {'rfft2 ms':>8} | search in frames of the floor")
    for side in args.sides:
        small, _ = simulate_movie(
            FRAMES, (64, 64), seed=1, artifacts={"fiducial_count": 2, "fiducial_photons": 5e4}
        )
        movie = np.tile(small, (1, side // 64, side // 64))  # beads and blinking, tiled
        found = movie_fiducials(movie)
        search = fastest(lambda movie=movie: movie_fiducials(movie), 5)
        frame = movie[0].astype(np.float32)
        floor = fastest(lambda frame=frame: scipy.fft.rfft2(frame, workers=1), repeats=9)
        print(
            f"{side:>5}x{side:<4} | {1e3 * search:9.1f} | {1e3 * floor:8.2f} | "
            f"{search / floor:6.1f}   ({len(found.spots)} beads found)"
        )


if __name__ == "__main__":
    main()
