"""The GPU path in one command: its tests, its numbers against the CPU's, its speed.

Run from the repository root, with nothing installed beyond what the project needs
and CuPy (no network needed)::

    PYTHONPATH=. python benchmarks/gpu_check.py             # on a machine with a GPU
    PYTHONPATH=. python benchmarks/gpu_check.py --cpu-only  # everything but the GPU

Steps:

1. CuPy's and CUDA's versions and the device.
2. ``pytest -m gpu`` on the GPU tests (tests/test_gpu.py, the real-GPU half of
   tests/test_gpu_paths.py, the on-time's GPU case); the check fails unless they
   ran (not skipped) and passed. With ``--cpu-only``, the same cases on the CuPy
   stand-in instead (``-m gpu_standin``).
3. For each movie size, a uint16 TIFF file is written and analysed three ways:
   ``read`` (every frame read with :func:`smlmlp.loading.open_movie`, the ceiling of
   any end-to-end rate), ``cpu`` (:func:`smlmlp.blink_spatial_psf` on all cores) and
   ``gpu`` (the same with ``cuda=True``, after a warm-up run that creates the CUDA
   context and the FFT plans). GPU = CPU is checked: relative 1e-5 on sigx, sigy and
   psf_sigma, 1e-4 of the peak on the autocorrelation.

4. With ``--scaling``, the CPU pass's scaling on the first movie: the bare FFT pass
   (``floor``) and :func:`smlmlp.blink_spatial_psf` (``ours``) of
   ``benchmarks/bench_spatial_psf.py``, each in its own process on the first 1, 2,
   4, ... of the usable cores (all of them last), the faster of two runs each.

The movies are made quickly: ``--base-frames`` frames are simulated (known PSF:
sigma 150 x 120 nm at 25 degrees), and the file holds them again and again, each
pass in a new random order, up to the requested length (the PSF estimate uses the
fluctuations of frames about their block's trend, which a new order keeps).

The table is printed and, when the environment variable ``OUT`` names a folder,
written there as ``gpu_check.md`` and ``gpu_check.json`` (with pytest's whole output as
``gpu_tests.log``). Exit status: 0 when every
check passes, 1 when one fails, 2 without a usable GPU (unless ``--cpu-only``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python benchmarks/gpu_check.py` without install
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from smlmlp import blink_spatial_psf  # noqa: E402
from smlmlp.backend import cpu_workers, cuda_status  # noqa: E402
from smlmlp.loading import open_movie  # noqa: E402
from smlmlp.simulation import simulate_movie, write_tiff  # noqa: E402

#: (frames, side) of the timed movies.
SIZES = [(4000, 256), (2000, 512)]
#: every test file with GPU cases (tests/test_gpu_check.py checks that none is missing)
GPU_TESTS = ["tests/test_gpu.py", "tests/test_gpu_paths.py", "tests/test_blink_temporal_on.py"]
SIGMA_RTOL, AC_RTOL = 1e-5, 1e-4


class Shuffled:
    """``n_frames`` frames made of ``base``'s, each pass over them in a new order."""

    def __init__(self, base: np.ndarray, n_frames: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        passes = math.ceil(n_frames / len(base))
        self.order = np.concatenate([rng.permutation(len(base)) for _ in range(passes)])
        self.order = self.order[:n_frames]
        self.base = base
        self.shape = (n_frames, *base.shape[1:])
        self.dtype = base.dtype

    def __getitem__(self, key: slice) -> np.ndarray:
        return self.base[self.order[key]]


def versions() -> list[str]:
    ok, description = cuda_status()
    lines = [f"Python {platform.python_version()}, NumPy {np.__version__}"]
    if not ok:
        return [*lines, f"GPU: none ({description})"]
    import cupy

    runtime = cupy.cuda.runtime
    lines += [
        f"CuPy {cupy.__version__}, CUDA runtime {runtime.runtimeGetVersion()}, "
        f"driver {runtime.driverGetVersion()}",
        f"GPU: {description}",
    ]
    return lines


def run_tests(marker: str, files: list[str]) -> tuple[bool, str]:
    """Run pytest on ``files`` with ``marker``; pass only when tests ran and none was
    skipped or failed."""
    with tempfile.TemporaryDirectory(prefix="smlmlp-gpu-tests-") as folder:
        report = Path(folder) / "report.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            marker,
            "-q",
            "-p",
            "no:cacheprovider",
            "--junitxml",
            str(report),
            *files,
        ]
        paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        started = time.perf_counter()
        result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if not report.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            return False, f"pytest did not run ({' / '.join(tail)})"
        cases = ElementTree.parse(report).getroot().iter("testcase")
        ran = skipped = failed = 0
        for case in cases:
            ran += 1
            if case.find("skipped") is not None:
                skipped += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
    out = os.environ.get("OUT")
    if out:  # the whole pytest output beside the table
        Path(out).mkdir(parents=True, exist_ok=True)
        log = Path(out) / "gpu_tests.log"
        log.write_text(result.stdout + result.stderr, encoding="utf-8")
    summary = (
        f"pytest -m {marker}: {ran} collected, {failed} failed, {skipped} skipped "
        f"({seconds:.0f} s)"
    )
    if failed:
        summary += "\n" + "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
    return ran > 0 and not skipped and not failed and result.returncode == 0, summary


def read_rate(path: Path, chunk: int = 256) -> float:
    with open_movie(path) as movie:
        started = time.perf_counter()
        checksum = 0
        for first in range(0, movie.shape[0], chunk):
            checksum += int(np.asarray(movie[first : first + chunk])[:, 0, 0].sum())
        return movie.shape[0] / (time.perf_counter() - started)


def analyse(path: Path, cuda: bool) -> tuple[float, list[float], dict[str, Any]]:
    with open_movie(path) as movie:
        started = time.perf_counter()
        psf_sigma, info = blink_spatial_psf([movie], parallel=not cuda, cuda=cuda)
        return movie.shape[0] / (time.perf_counter() - started), psf_sigma, info


def compare(cpu: tuple, gpu: tuple) -> tuple[list[str], float]:
    """Failures of GPU = CPU and the autocorrelation's largest difference / its peak."""
    failures = []
    (_, cpu_sigma, cpu_info), (_, gpu_sigma, gpu_info) = cpu, gpu
    pairs = [("psf_sigma", cpu_sigma[0], gpu_sigma[0])]
    pairs += [(key, cpu_info[key][0], gpu_info[key][0]) for key in ("sigx", "sigy")]
    for key, expected, got in pairs:
        if not abs(got - expected) <= SIGMA_RTOL * abs(expected):
            failures.append(f"{key}: GPU {got!r} vs CPU {expected!r}")
    scale = float(np.abs(cpu_info["ac"][0]).max())
    ac_error = float(np.abs(gpu_info["ac"][0] - cpu_info["ac"][0]).max() / scale)
    if not ac_error <= AC_RTOL:
        failures.append(f"autocorrelation differs by {ac_error:.2e} of its peak")
    return failures, ac_error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-only", action="store_true", help="everything but the GPU")
    parser.add_argument("--frames", type=int, nargs="+", help="frames per size")
    parser.add_argument("--sides", type=int, nargs="+", help="frame sides")
    parser.add_argument("--base-frames", type=int, default=200)
    parser.add_argument(
        "--scaling", action="store_true", help="also the CPU pass on 1, 2, 4, ... cores"
    )
    args = parser.parse_args()
    sizes = SIZES
    if args.sides:
        frames = args.frames or [frames for frames, _ in SIZES]
        frames = (frames * len(args.sides))[: len(args.sides)]
        sizes = list(zip(frames, args.sides, strict=True))
    elif args.frames:
        sizes = [(frames, side) for frames, (_, side) in zip(args.frames, SIZES, strict=False)]
    started = time.perf_counter()
    lines = versions()
    for line in lines:
        print(line, flush=True)
    ok, _ = cuda_status()
    use_gpu = ok and not args.cpu_only
    if not ok and not args.cpu_only:
        print("no usable GPU: run with --cpu-only to check everything else")
        return 2
    failures: list[str] = []
    marker = "gpu" if use_gpu else "gpu_standin"
    tests_ok, summary = run_tests(marker, GPU_TESTS)
    print(summary, flush=True)
    lines.append(summary.splitlines()[0])
    if not tests_ok:
        failures.append(summary.splitlines()[0])

    cores = cpu_workers(True)
    rows: list[dict[str, Any]] = []
    scaling_rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="smlmlp-gpu-check-") as folder:
        for n_frames, side in sizes:
            path = Path(folder) / f"movie_{n_frames}x{side}.tif"
            base, _ = simulate_movie(
                min(args.base_frames, n_frames),
                (side, side),
                sigx_nm=150.0,
                sigy_nm=120.0,
                theta_deg=25.0,
                seed=side,
            )
            write_tiff(path, Shuffled(base, n_frames, seed=side))
            if use_gpu:
                analyse(path, cuda=True)  # warm-up: CUDA context, FFT plans
            read = read_rate(path)
            cpu = analyse(path, cuda=False)
            row = {
                "movie": f"{n_frames}x{side}^2",
                "read_fps": read,
                "cpu_fps": cpu[0],
                "sigma_cpu_nm": cpu[1][0],
            }
            if use_gpu:
                gpu = analyse(path, cuda=True)
                size_failures, ac_error = compare(cpu, gpu)
                failures += [f"{row['movie']} {failure}" for failure in size_failures]
                row.update(
                    gpu_fps=gpu[0],
                    gpu_over_read=gpu[0] / read,
                    gpu_over_cpu=gpu[0] / cpu[0],
                    sigma_gpu_nm=gpu[1][0],
                    ac_error=ac_error,
                )
            rows.append(row)
            print(f"{row['movie']}: done", flush=True)
            if args.scaling and not scaling_rows:
                scaling_rows = cpu_scaling(path, row["movie"])
            path.unlink()

    table = format_table(rows, cores) + format_scaling(scaling_rows)
    print()
    print("\n".join(table))
    elapsed = time.perf_counter() - started
    print(f"\n{elapsed:.0f} s in all")
    for failure in failures:
        print("FAILED:", failure)
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        text = "\n".join([*lines, "", *table, "", f"{elapsed:.0f} s in all"])
        text += "".join(f"\nFAILED: {failure}" for failure in failures)
        (Path(out) / "gpu_check.md").write_text(text + "\n", encoding="utf-8")
        record = {
            "versions": lines,
            "rows": rows,
            "scaling": scaling_rows,
            "failures": failures,
            "seconds": elapsed,
        }
        (Path(out) / "gpu_check.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return 1 if failures else 0


def core_counts(usable: int) -> list[int]:
    """1, 2, 4, ... below ``usable``, then ``usable``.

    >>> core_counts(16), core_counts(6), core_counts(1)
    ([1, 2, 4, 8, 16], [1, 2, 4, 6], [1])
    """
    counts = [2**k for k in range(usable.bit_length()) if 2**k < usable]
    return [*counts, usable]


def cpu_scaling(path: Path, movie: str, runs: int = 2) -> list[dict[str, Any]]:
    """Seconds and peak memory of ``floor`` and ``ours`` (bench_spatial_psf's) on each
    of :func:`core_counts` cores, the faster of ``runs`` alternated runs (the larger
    peak)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_spatial_psf
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    rows = []
    for n_cores in core_counts(len(os.sched_getaffinity(0))):
        best = bench_spatial_psf.fastest_runs(["floor", "ours"], path, runs, n_cores)
        rows.append(
            {
                "movie": movie,
                "cores": n_cores,
                "floor_s": best["floor"]["seconds"],
                "ours_s": best["ours"]["seconds"],
                "ours_peak_mb": best["ours"]["peak_rss_mb"],
            }
        )
        print(f"{movie} on {n_cores} cores: done", flush=True)
    return rows


def format_scaling(rows: list[dict[str, Any]]) -> list[str]:
    """The scaling table in Markdown (nothing without ``--scaling``)."""
    if not rows:
        return []
    lines = [
        "",
        "| movie | cores | floor s | ours s | ours/floor | ours speed-up | ours peak MB |",
        "|---" * 7 + "|",
    ]
    one_core = rows[0]["ours_s"]
    for row in rows:
        cells = [
            row["movie"],
            str(row["cores"]),
            f"{row['floor_s']:.2f}",
            f"{row['ours_s']:.2f}",
            f"{row['ours_s'] / row['floor_s']:.2f}",
            f"{one_core / row['ours_s']:.2f}",
            f"{row['ours_peak_mb']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def format_table(rows: list[dict[str, Any]], cores: int) -> list[str]:
    """The table in Markdown: frames/s of read, CPU (all cores), GPU, and the ratios."""
    header = (
        f"| movie | read fr/s | cpu fr/s ({cores} cores) | gpu fr/s | gpu/read | gpu/cpu "
        "| sigma cpu nm | sigma gpu nm | AC diff |"
    )
    lines = [header, "|---" * 9 + "|"]
    for row in rows:
        gpu = "gpu_fps" in row
        cells = [
            row["movie"],
            f"{row['read_fps']:.0f}",
            f"{row['cpu_fps']:.0f}",
            f"{row['gpu_fps']:.0f}" if gpu else "-",
            f"{row['gpu_over_read']:.2f}" if gpu else "-",
            f"{row['gpu_over_cpu']:.1f}" if gpu else "-",
            f"{row['sigma_cpu_nm']:.3f}",
            f"{row['sigma_gpu_nm']:.3f}" if gpu else "-",
            f"{row['ac_error']:.1e}" if gpu else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
