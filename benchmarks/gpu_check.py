"""GPU path against the CPU path on the same movies, with the file-read rate as ceiling.

For each size, a simulated uint16 movie is written to a TIFF file; then, on the
same file:

- ``read``: every frame read with :func:`smlmlp.loading.open_movie` (the ceiling
  of any end-to-end rate),
- ``cpu``: :func:`smlmlp.blink_spatial_psf` with ``parallel=True``,
- ``gpu``: the same with ``cuda=True``.

It checks GPU = CPU (relative 1e-5 on sigx and sigy, 1e-4 of the peak on the
autocorrelation) and prints frames/s of each as one table, with the GPU rate as a
fraction of the read rate (target: at least 50 %).

Run on a machine with CUDA and CuPy (``pip install .[cuda12]`` or ``.[cuda13]``)::

    python benchmarks/gpu_check.py [--frames 2000]

Exit status 0 when every check passes, 1 when one fails, 2 without a usable GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from smlmlp import blink_spatial_psf
from smlmlp.backend import cuda_status
from smlmlp.loading import open_movie
from smlmlp.simulation import MovieSimulator, write_tiff


def read_rate(path: Path, chunk: int = 256) -> float:
    with open_movie(path) as movie:
        start = time.perf_counter()
        total = 0.0
        for first in range(0, movie.shape[0], chunk):
            total += float(np.asarray(movie[first : first + chunk])[:, 0, 0].sum())
        return movie.shape[0] / (time.perf_counter() - start)


def analyse(path: Path, cuda: bool) -> tuple[float, dict]:
    with open_movie(path) as movie:
        start = time.perf_counter()
        _, info = blink_spatial_psf([movie], parallel=not cuda, cuda=cuda)
        return movie.shape[0] / (time.perf_counter() - start), info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--sides", type=int, nargs="+", default=[256, 512])
    args = parser.parse_args()
    ok, description = cuda_status()
    if not ok:
        print(f"no usable GPU: {description}")
        return 2
    print(f"GPU: {description}")
    failures = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="smlmlp-gpu-") as folder:
        for side in args.sides:
            path = Path(folder) / f"movie_{side}.tif"
            simulator = MovieSimulator(
                args.frames, (side, side), sigx_nm=150.0, sigy_nm=120.0, theta_deg=25.0, seed=3
            )
            write_tiff(path, simulator)
            analyse(path, cuda=True)  # warm-up: CUDA context, FFT plans
            read = read_rate(path)
            cpu_rate, cpu = analyse(path, cuda=False)
            gpu_rate, gpu = analyse(path, cuda=True)
            for key in ("sigx", "sigy"):
                relative = abs(gpu[key][0] - cpu[key][0]) / abs(cpu[key][0])
                if not relative <= 1e-5:
                    failures.append(f"{side}^2 {key}: GPU {gpu[key][0]} vs CPU {cpu[key][0]}")
            scale = np.abs(cpu["ac"][0]).max()
            ac_error = float(np.abs(gpu["ac"][0] - cpu["ac"][0]).max() / scale)
            if not ac_error <= 1e-4:
                failures.append(f"{side}^2 autocorrelation differs by {ac_error:.2e} of its peak")
            rows.append((side, read, cpu_rate, gpu_rate, cpu, gpu, ac_error))
    print()
    header = (
        f"{'movie':>12} | {'read fr/s':>9} | {'cpu fr/s':>8} | {'gpu fr/s':>8} | "
        f"{'gpu/read':>8} | {'sigx cpu':>8} | {'sigx gpu':>8} | {'AC err':>8}"
    )
    print(header)
    print("-" * len(header))
    for side, read, cpu_rate, gpu_rate, cpu, gpu, ac_error in rows:
        print(
            f"{f'{args.frames}x{side}^2':>12} | {read:9.0f} | {cpu_rate:8.0f} | {gpu_rate:8.0f} | "
            f"{gpu_rate / read:8.2f} | {cpu['sigx'][0]:8.3f} | {gpu['sigx'][0]:8.3f} | "
            f"{ac_error:8.1e}"
        )
    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
