"""Speed and peak memory of blink_spatial_psf against a naive reference and the FFT floor.

For each movie size, the same simulated uint16 stack is written once to a TIFF
file, then three methods run on it, each in its own fresh process so that peak
memory (maximum resident set size) is measured separately:

- ``ours``: :func:`smlmlp.blink_spatial_psf` with ``parallel=True`` on the lazily
  read file (:func:`smlmlp.loading.open_movie`);
- ``floor``: one bare pass of float32 ``scipy.fft.rfft2`` over the same frames,
  read with the same reader, same chunk length and FFT workers (the least any
  FFT-based method must do);
- ``naive``: the whole movie in memory, the temporal mean subtracted, one full
  complex autocorrelation per frame kept in memory (``numpy.fft``), then their
  mean.

With ``--power``, one more: ``power``, the floor plus the sum of the frames' power
spectra (each spectrum squared in place, then the chunk's squares added to one float32
sum, the rows shared by the workers): the least any method that averages power
spectra must do, a lower bound of ours whose own ratio to the floor says how far the
floor is out of reach.

With ``--extras``, three more runs of ours with everything the workflow asks
for: ``errors`` (``full_output=True``: the jackknife standard errors),
``windows`` (the same plus the PSF in 6 windows of frames) and ``tiles`` (the
same plus a 4 x 4 map over the field); the column ``vs errors`` gives the cost
of the windows and the tiles over that baseline.

Run::

    python benchmarks/bench_spatial_psf.py            # the three sizes of the table
    python benchmarks/bench_spatial_psf.py --quick    # small sizes, a smoke run
    python benchmarks/bench_spatial_psf.py --large    # 400x1024^2 and 200x2048^2 too
    python benchmarks/bench_spatial_psf.py --extras --skip-naive   # windows, tiles
    python benchmarks/bench_spatial_psf.py --sizes 400x1024 200x2048 --power --skip-naive
    python benchmarks/bench_spatial_psf.py --sizes 4000x256 --cores 1 2 4 --skip-naive

``--sizes`` replaces the movies (frames x side); ``--cores`` runs every method with
each number of cores (the first of the cores this process may use), so the table shows
how the pass scales against the floor's own scaling.

``floor`` and ``ours`` run ``--repeats`` times, alternated, and the fastest run
of each counts (the least disturbed by anything else on the machine); the naive
reference runs once. The table printed at the end gives seconds, frames per
second, peak RSS (the largest over the runs) and the ratios ours/floor and
naive/ours.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SIZES = [(1000, 256), (4000, 256), (2000, 512)]
QUICK_SIZES = [(200, 128), (400, 128)]
#: whole sCMOS chips; the naive reference is left out (it would hold 4 to 13 GB)
LARGE_SIZES = [(400, 1024), (200, 2048)]


def peak_rss_mb() -> float:
    """High-water mark of this process's resident memory (VmHWM; not inherited at exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_ours(path: str, **options) -> dict:
    from smlmlp import blink_spatial_psf
    from smlmlp.loading import open_movie

    with open_movie(path) as movie:
        start = time.perf_counter()
        psf_sigma, *_ = blink_spatial_psf([movie], parallel=True, **options)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "psf_sigma_nm": psf_sigma[0]}


def run_errors(path: str) -> dict:
    return run_ours(path, full_output=True)


def run_windows(path: str) -> dict:
    return run_ours(path, full_output=True, time_windows=6)


def run_tiles(path: str) -> dict:
    return run_ours(path, full_output=True, field_tiles=(4, 4))


def fft_pass(path: str, power: bool = False) -> dict:
    """One float32 ``rfft2`` pass over the movie's chunks, read as ours reads them; with
    ``power``, each chunk's spectra squared in place and added to one float32 sum, the
    rows shared by the workers as ours shares them."""
    import numpy as np
    import scipy.fft

    from smlmlp.backend import cpu_workers
    from smlmlp.computer import chunk_frames
    from smlmlp.loading import open_movie

    workers = cpu_workers(True)
    with open_movie(path) as movie, ThreadPoolExecutor(workers) as pool:
        step = chunk_frames(movie.shape[1:])
        edges = np.linspace(0, movie.shape[1], workers + 1).astype(int)
        bands = [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        total = None
        start = time.perf_counter()
        for first in range(0, movie.shape[0], step):
            frames = np.asarray(movie[first : first + step]).astype(np.float32)
            spectra = scipy.fft.rfft2(frames, workers=workers)
            if not power:
                continue
            parts = spectra.view(np.float32)
            if total is None:
                total = np.zeros(parts.shape[1:], np.float32)

            def add(rows: slice, parts: np.ndarray = parts, total: np.ndarray = total) -> None:
                band = parts[:, rows]
                np.multiply(band, band, out=band)  # (re^2, im^2), in place
                total[rows] += band.sum(axis=0)

            list(pool.map(add, bands))
        seconds = time.perf_counter() - start
    return {"seconds": seconds}


def run_floor(path: str) -> dict:
    return fft_pass(path)


def run_power(path: str) -> dict:
    return fft_pass(path, power=True)


def run_naive(path: str) -> dict:
    import numpy as np

    from smlmlp.loading import open_movie

    start = time.perf_counter()
    with open_movie(path) as movie:
        frames = np.asarray(movie[:]).astype(np.float64)
    frames -= frames.mean(axis=0)
    correlations = np.empty_like(frames)
    for index, frame in enumerate(frames):
        spectrum = np.fft.fft2(frame)
        correlations[index] = np.fft.fftshift(np.fft.ifft2(np.abs(spectrum) ** 2).real)
    mean = correlations.mean(axis=0)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "checksum": float(mean.max())}


METHODS = {
    "ours": run_ours,
    "floor": run_floor,
    "naive": run_naive,
    "power": run_power,
    "errors": run_errors,
    "windows": run_windows,
    "tiles": run_tiles,
}
EXTRAS = ("errors", "windows", "tiles")


def use_cores(n_cores: int) -> None:
    """Run this process (and the threads it starts) on the first ``n_cores`` cores it
    may use (checked by :func:`main`)."""
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:n_cores])


def child(method: str, path: str, n_cores: int | None = None) -> None:
    if n_cores is not None:
        use_cores(n_cores)
    result = METHODS[method](path)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def run_child(script: str, arguments: list[str], label: str) -> Any:
    """Run ``script`` with ``arguments`` in a fresh Python process and return the JSON
    of the last line it prints; a failure stops the benchmark naming ``label``."""
    output = subprocess.run(
        [sys.executable, script, *arguments], capture_output=True, text=True
    )
    if output.returncode:
        why = (output.stderr.strip().splitlines() or ["no message"])[-1]
        raise SystemExit(f"{label} failed: {why}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def measure(method: str, path: Path, n_cores: int | None = None) -> dict:
    cores = [] if n_cores is None else ["--child-cores", str(n_cores)]
    return run_child(__file__, ["--child", method, str(path), *cores], f"{method} on {path.name}")


def fastest_runs(
    methods: list[str], path: Path, repeats: int, n_cores: int | None = None
) -> dict[str, dict]:
    """Each method's fastest of ``repeats`` alternated runs (``naive`` once), with the
    largest peak memory of its runs."""
    results: dict[str, dict] = {}
    for repeat in range(repeats):
        for method in methods:
            if method == "naive" and repeat:
                continue  # slow and memory-hungry: once is enough
            run = measure(method, path, n_cores)
            best = results.get(method)
            if best is None or run["seconds"] < best["seconds"]:
                run["peak_rss_mb"] = max(run["peak_rss_mb"], (best or run)["peak_rss_mb"])
                results[method] = run
    return results


def movie_size(text: str) -> tuple[int, int]:
    """``"4000x256"`` -> ``(4000, 256)``: frames and side of a benchmark movie."""
    try:
        n_frames, side = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not FRAMESxSIDE, e.g. 4000x256") from None
    if n_frames < 1 or side < 16:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1 frame of 16 x 16 pixels")
    return n_frames, side


def make_movie(path: Path, n_frames: int, side: int) -> None:
    from smlmlp.simulation import MovieSimulator, write_tiff

    simulator = MovieSimulator(
        n_frames, (side, side), sigx_nm=130.0, on_density_per_um2=0.5, photons=1000.0,
        background=50.0, seed=1,
    )
    write_tiff(path, simulator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive reference")
    parser.add_argument(
        "--large", action="store_true",
        help="add 400x1024^2 and 200x2048^2 frames (floor and ours only)",
    )
    parser.add_argument(
        "--repeats", type=int, default=7,
        help="runs of floor and ours, alternated; the fastest counts (default 7)",
    )
    parser.add_argument(
        "--extras", action="store_true", help="also ours with errors, 6 windows, 4x4 tiles"
    )
    parser.add_argument(
        "--sizes", nargs="+", type=movie_size, metavar="FRAMESxSIDE",
        help="these movies instead (e.g. 4000x256 20000x256)",
    )
    parser.add_argument(
        "--cores", nargs="+", type=int, metavar="N",
        help="run every method on the first N usable cores, for each N",
    )
    parser.add_argument(
        "--power", action="store_true",
        help="also the floor plus the sum of the power spectra (a lower bound of ours)",
    )
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--child-cores", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.child_cores)
        return
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.sizes:
        sizes = args.sizes
    if args.large:
        sizes = sizes + LARGE_SIZES
    usable = len(os.sched_getaffinity(0))
    for n_cores in args.cores or []:
        if not 1 <= n_cores <= usable:
            parser.error(f"--cores {n_cores}: this machine lets us use 1 to {usable}")
    core_counts = args.cores or [None]
    rows = []
    with tempfile.TemporaryDirectory(prefix="smlmlp-bench-") as folder:
        for n_frames, side in sizes:
            path = Path(folder) / f"movie_{n_frames}x{side}.tif"
            started = time.perf_counter()
            make_movie(path, n_frames, side)
            print(
                f"simulated {n_frames}x{side}x{side} ({path.stat().st_size / 2**20:.0f} MiB) "
                f"in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            methods = ["floor", *(["power"] if args.power else []), "ours"]
            methods += list(EXTRAS if args.extras else ())
            if not (args.skip_naive or (n_frames, side) in LARGE_SIZES):
                methods.append("naive")
            for n_cores in core_counts:
                results = fastest_runs(methods, path, args.repeats, n_cores)
                rows.append((n_frames, side, n_cores or usable, results))
            os.remove(path)
    print()
    print(f"cores available: {usable}")
    header = (
        f"{'movie':>14} | {'cores':>5} | {'method':>7} | {'seconds':>8} | {'frames/s':>9} | "
        f"{'peak RSS MB':>11} | {'vs floor':>8} | {'naive/ours':>10} | {'vs errors':>9}"
    )
    print(header)
    print("-" * len(header))
    for n_frames, side, n_cores, results in rows:
        floor = results["floor"]["seconds"]
        ours = results["ours"]["seconds"]
        for method in results:
            result = results[method]
            speedup = f"{result['seconds'] / ours:10.1f}" if method == "naive" else " " * 10
            extra = " " * 9
            if method in ("windows", "tiles"):
                extra = f"{result['seconds'] / results['errors']['seconds']:9.2f}"
            print(
                f"{f'{n_frames}x{side}^2':>14} | {n_cores:>5} | {method:>7} | "
                f"{result['seconds']:8.2f} | "
                f"{n_frames / result['seconds']:9.0f} | {result['peak_rss_mb']:11.0f} | "
                f"{result['seconds'] / floor:8.2f} | {speedup} | {extra}"
            )


if __name__ == "__main__":
    main()
