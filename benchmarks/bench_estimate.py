"""Cost of the estimate stage alone: fits, standard errors, windows and tiles.

The pass over the frames (:mod:`benchmarks.bench_spatial_psf`) is timed with the
file reading and the threads, which makes the cost of the fits hard to see on a
busy machine. This benchmark times only :func:`smlmlp.channel.estimate_channel`
on block sums already in memory (one simulated movie, summed once per case):

- ``plain``: the whole movie's fit, no standard errors;
- ``errors``: the same with the jackknife standard errors (the baseline: what
  the command and the workflow compute);
- ``windows``: ``errors`` plus the PSF in 6 windows of frames;
- ``tiles``: ``errors`` plus the PSF in each tile of a 4 x 4 map.

The cases run ``--repeats`` times, alternated, and the fastest run of each
counts; each run starts without the models the fits remember from earlier runs.
The table gives milliseconds, the ratio to ``errors`` and the time per part
(window or tile) over ``errors``.

Run::

    python benchmarks/bench_estimate.py
    python benchmarks/bench_estimate.py --frames 4000 --side 256 --repeats 20
"""

from __future__ import annotations

import argparse
import time
import warnings

import smlmlp.psf
from smlmlp.channel import accumulate_channel, estimate_channel
from smlmlp.simulation import simulate_movie

CROP_PIX = 41
PIXEL_NM = (100.0, 100.0)
WINDOWS = 6
TILES = (4, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames (default 1000)")
    parser.add_argument("--side", type=int, default=256, help="frame side (default 256)")
    parser.add_argument("--repeats", type=int, default=10, help="runs per case (default 10)")
    args = parser.parse_args()

    movie, _ = simulate_movie(
        args.frames, (args.side, args.side), sigx_nm=130.0, sigy_nm=150.0, seed=7
    )
    whole = accumulate_channel(movie, crop_pix=CROP_PIX)
    windowed = accumulate_channel(movie, crop_pix=CROP_PIX, time_windows=WINDOWS)
    field = accumulate_channel(movie, crop_pix=CROP_PIX, field_tiles=TILES)
    cases = {
        "plain": (lambda: estimate_channel(whole, CROP_PIX, PIXEL_NM, errors=False), 0),
        "errors": (lambda: estimate_channel(whole, CROP_PIX, PIXEL_NM), 0),
        "windows": (
            lambda: estimate_channel(windowed, CROP_PIX, PIXEL_NM, time_windows=WINDOWS),
            WINDOWS,
        ),
        "tiles": (lambda: estimate_channel(field, CROP_PIX, PIXEL_NM), TILES[0] * TILES[1]),
    }
    best = dict.fromkeys(cases, float("inf"))
    # the models the fits remember (older code has none)
    remembered = getattr(smlmlp.psf, "_model_at", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(args.repeats):
            for name, (run, _parts) in cases.items():
                if remembered is not None:  # as a first estimate: no model of earlier runs
                    remembered.cache_clear()
                started = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - started)

    print(f"estimate stage, {args.frames}x{args.side}^2 movie, crop {CROP_PIX}, "
          f"fastest of {args.repeats}")
    header = f"{'case':>8} | {'ms':>8} | {'vs errors':>9} | {'ms per part':>11}"
    print(header)
    print("-" * len(header))
    baseline = best["errors"]
    for name, (_run, parts) in cases.items():
        per_part = f"{1e3 * (best[name] - baseline) / parts:11.1f}" if parts else " " * 11
        print(f"{name:>8} | {1e3 * best[name]:8.1f} | {best[name] / baseline:9.2f} | {per_part}")


if __name__ == "__main__":
    main()
