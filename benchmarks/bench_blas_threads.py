"""Passes after matrix products in one process: BLAS on one thread in the stages, or not.

:func:`smlmlp.backend.single_threaded_blas` keeps the BLAS library (OpenBLAS) on one
thread while a pass over the frames runs its own workers and while the estimate makes
its small matrix products. Without it, OpenBLAS starts its threads for those products
and they wait spinning on the cores for a while after each: a pass that follows an
estimate in the same process (the second channel of a movie, the next movie of a
loop) shares its cores with them.

This benchmark simulates one uint16 movie, writes it to a TIFF file and runs, each in
its own process, :func:`smlmlp.blink_spatial_psf` (``parallel=True``, with standard
errors) on two channels read from that file, ``--calls`` times in a row:

- ``limited``: as the package runs;
- ``free``: the same with the limit taken out (BLAS on as many threads as it likes);

each estimating the PSF with its standard errors (``errors``) and with a 4 x 4 map over
the field (``tiles``, whose estimate makes more and larger products). The cases run
``--repeats`` times, alternated. The table gives the fastest and the median call
(every call after the first of a process, which has nothing before it) and the ratio
of each median to ``limited``'s.

Run::

    python benchmarks/bench_blas_threads.py
    python benchmarks/bench_blas_threads.py --size 2000x256 --calls 5 --repeats 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_spatial_psf import make_movie, movie_size, run_child  # noqa: E402

CASES = ("limited", "free")
#: what each call estimates: the PSF with its standard errors, and with a 4 x 4 map
OPTIONS = {"errors": {}, "tiles": {"field_tiles": (4, 4)}}


def child(case: str, options: str, path: str, calls: int) -> None:
    import smlmlp.channel
    import smlmlp.spectra
    from smlmlp import blink_spatial_psf
    from smlmlp.loading import open_movie

    if case == "free":  # every stage's limit taken out
        for module in (smlmlp.spectra, smlmlp.channel):
            module.single_threaded_blas = contextlib.nullcontext
    seconds = []
    with open_movie(path) as movie:
        for _ in range(calls):
            start = time.perf_counter()
            blink_spatial_psf([movie, movie], parallel=True, full_output=True, **OPTIONS[options])
            seconds.append(time.perf_counter() - start)
    print(json.dumps(seconds))


def measure(case: str, options: str, path: Path, calls: int) -> list[float]:
    arguments = ["--child", case, options, str(path), "--calls", str(calls)]
    return run_child(__file__, arguments, case)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--size", type=movie_size, default=(1000, 256), help="FRAMESxSIDE (default 1000x256)"
    )
    parser.add_argument("--calls", type=int, default=4, help="calls per process (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="processes per case (default 3)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.calls)
        return
    if args.calls < 2:
        parser.error("--calls: at least 2 (the first call of a process is not counted)")
    n_frames, side = args.size
    later: dict[tuple[str, str], list[float]] = {
        (options, case): [] for options in OPTIONS for case in CASES
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "movie.tif"
        make_movie(path, n_frames, side)
        for _ in range(args.repeats):
            for options, case in later:
                later[options, case].extend(measure(case, options, path, args.calls)[1:])
    print(f"\n{n_frames}x{side}^2, two channels per call, calls after the first of a process")
    print(f"{'estimate':>8} | {'case':>8} | {'fastest s':>9} | {'median s':>8} | vs limited")
    print("-" * 58)
    for options in OPTIONS:
        reference = statistics.median(later[options, "limited"])
        for case in CASES:
            times = later[options, case]
            median = statistics.median(times)
            print(
                f"{options:>8} | {case:>8} | {min(times):9.3f} | {median:8.3f} | "
                f"{median / reference:10.2f}"
            )


if __name__ == "__main__":
    main()
