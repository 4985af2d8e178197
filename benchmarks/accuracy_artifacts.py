"""The "Artifacts" section of docs/accuracy.md: real-acquisition artifacts, two strengths each.

Every row simulates movies with one artifact of real acquisitions
(:class:`smlmlp.artifacts.Artifacts`) at a given strength, or all of them at
once, and measures them with :func:`smlmlp.blink_spatial_psf`,
:func:`smlmlp.blink_temporal_on` and the naive published recipe
(``naive_seed.py``). The table gives the bias and the spread over seeds of
sigma = sqrt(sigx sigy) against the in-focus truth, and of the on-time against
the simulated correlation time.

Run through ``python benchmarks/accuracy.py`` (the section is part of
docs/accuracy.md); ``python benchmarks/accuracy_artifacts.py`` prints it alone.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
import warnings
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from naive_seed import naive_spatial_psf

from smlmlp import blink_spatial_psf, blink_temporal_on
from smlmlp.simulation import simulate_movie

FRAMES = 1500
FRAME_SHAPE = (64, 64)
PIXEL_NM = 100.0
SIGMA_NM = 130.0
CROP_PIX = 41
CROP_FR = 60
#: One typical EMCCD dSTORM condition for every row.
CONDITIONS: dict[str, Any] = {
    "sigx_nm": SIGMA_NM,
    "pixel_nm": PIXEL_NM,
    "photons": 1000.0,
    "background": 50.0,
    "camera": "emccd",
    "on_density_per_um2": 0.5,
    "on_time_frames": 3.0,
}
#: Targets on the bias: widths (these rows), on-time (bleaching and haze rows).
WIDTH_TOLERANCE = 0.02
ON_TIME_TOLERANCE = 0.05
SEEDS = 5
SCMOS = {"camera": "scmos"}
#: Emitters whose on-time haze still lengthens: few photons spread over a wide PSF.
DIM_AND_WIDE = {"sigx_nm": 200.0, "photons": 500.0, "background": 10.0}
ALL_AT_ONCE = {
    "bleach_lifetime_frames": FRAMES / math.log(5),
    "drift_px": (1.5, 3.0),
    "flicker": 0.05,
    "haze_photons": 30.0,
    "hot_pixel_fraction": 0.002,
}


@dataclass(frozen=True)
class Row:
    """One artifact at one strength; ``target``: whether the 2 % width target applies;
    ``conditions``: what differs from :data:`CONDITIONS` (another camera takes its
    default parameters)."""

    artifact: str
    strength: str
    options: dict[str, Any]
    target: bool = True
    on_time_target: bool = False
    conditions: dict[str, Any] | None = None


ROWS = (
    Row("none", "ideal movie", {}, on_time_target=True),
    Row("photobleaching", "50 % gone by the end", {"bleach_lifetime_frames": FRAMES / math.log(2)},
        on_time_target=True),
    Row("photobleaching", "80 % gone by the end", {"bleach_lifetime_frames": FRAMES / math.log(5)},
        on_time_target=True),
    Row("stage drift", "0.5 × 1 px, linear", {"drift_px": (0.5, 1.0)}),
    Row("stage drift", "1.5 × 3 px + random walk", {"drift_px": (1.5, 3.0), "drift_walk_px": 0.02}),
    Row("laser flicker", "5 % per frame", {"flicker": 0.05}),
    Row("laser flicker", "20 % per frame", {"flicker": 0.20}),
    Row("flicker on the background too", "10 % per frame, background 100 photons/px",
        {"flicker": 0.10, "flicker_background": True}, conditions={"background": 100.0}),
    Row("flicker on the background too", "10 % per frame, background 300 photons/px",
        {"flicker": 0.10, "flicker_background": True}, conditions={"background": 300.0}),
    Row("out-of-focus haze", "30 photons/px, ±50 % over 50 frames", {"haze_photons": 30.0},
        on_time_target=True),
    Row("out-of-focus haze", "100 photons/px, ±50 % over 50 frames", {"haze_photons": 100.0},
        on_time_target=True),
    Row("haze on an sCMOS", "uniform, 100 photons/px, ±50 % over 50 frames; 3 % gain spread",
        {"haze_photons": 100.0, "haze_scale_px": 1000.0}, on_time_target=True, conditions=SCMOS),
    Row("haze on an sCMOS", "uniform, 300 photons/px, ±50 % over 50 frames; 3 % gain spread",
        {"haze_photons": 300.0, "haze_scale_px": 1000.0}, on_time_target=True, conditions=SCMOS),
    Row("telegraph pixels (sCMOS)", "0.5 % of the pixels, 30 e⁻, dwell 30 frames",
        {"telegraph_pixel_fraction": 0.005, "telegraph_electrons": 30.0,
         "telegraph_dwell_frames": 30.0}, on_time_target=True, conditions=SCMOS),
    Row("telegraph pixels (sCMOS)", "2 % of the pixels, 50 e⁻, dwell 30 frames",
        {"telegraph_pixel_fraction": 0.02, "telegraph_electrons": 50.0,
         "telegraph_dwell_frames": 30.0}, on_time_target=True, conditions=SCMOS),
    Row("haze, dim and wide PSF", "30 photons/px; σ 200 nm, 500 photons, background 10",
        {"haze_photons": 30.0}, conditions=DIM_AND_WIDE, on_time_target=True),
    Row("haze, dim and wide PSF", "60 photons/px; σ 200 nm, 500 photons, background 10",
        {"haze_photons": 60.0}, conditions=DIM_AND_WIDE, on_time_target=True),
    Row("hot pixels", "0.2 % of the pixels", {"hot_pixel_fraction": 0.002}),
    Row("hot pixels", "1 % of the pixels", {"hot_pixel_fraction": 0.01}),
    Row("sample inside the field", "central half of the frame",
        {"sample_region": (0.25, 0.75, 0.25, 0.75)}),
    Row("sample inside the field", "one corner quarter", {"sample_region": (0.0, 0.5, 0.0, 0.5)}),
    Row("all at once", "bleach 80 %, drift 1.5 × 3 px, flicker 5 %, haze 30, hot 0.2 %",
        ALL_AT_ONCE, on_time_target=True),
    Row("all at once", "the same with haze 100", {**ALL_AT_ONCE, "haze_photons": 100.0},
        on_time_target=True),
    Row("cosmic rays", "1 per 500 frames", {"cosmic_rays_per_frame": 0.002}, target=False),
    Row("cosmic rays", "1 per 100 frames", {"cosmic_rays_per_frame": 0.01}, target=False),
    Row("out-of-focus emitters", "10 % of them, 3× wider",
        {"defocused_fraction": 0.1, "defocused_sigma_factor": 3.0}, target=False),
    Row("out-of-focus emitters", "30 % of them, 3× wider",
        {"defocused_fraction": 0.3, "defocused_sigma_factor": 3.0}, target=False),
    Row("saturation", "camera ceiling 1800 ADU (~0.08 % of the values)", {"ceiling_adu": 1800.0},
        target=False),
    Row("saturation", "camera ceiling 1500 ADU (~0.5 % of the values)", {"ceiling_adu": 1500.0},
        target=False),
    Row("clipped at zero", "454 ADU subtracted (~5 % of the values at 0)",
        {"subtracted_adu": 454.0}, target=False),
    Row("clipped at zero", "619 ADU subtracted (~50 % of the values at 0)",
        {"subtracted_adu": 619.0}, target=False),
    Row("dropped frames", "1 % of the frames saved as zeros", {"dropped_fraction": 0.01},
        on_time_target=True),
    Row("dropped frames", "5 % of the frames saved as zeros", {"dropped_fraction": 0.05},
        on_time_target=True),
    Row("flicker of a background under a beam",
        "10 % per frame, 300 photons/px under a Gaussian beam of rms 0.5 frame",
        {"flicker": 0.10, "flicker_background": True, "background_beam": 0.5},
        conditions={"background": 300.0}),
    Row("flicker of a background under a beam",
        "10 % per frame, 300 photons/px under a Gaussian beam of rms 0.3 frame",
        {"flicker": 0.10, "flicker_background": True, "background_beam": 0.3},
        conditions={"background": 300.0}),
    Row("banding (sCMOS)", "every row's and column's offset, 2 e⁻ rms, new each frame",
        {"row_noise_electrons": 2.0, "column_noise_electrons": 2.0}, on_time_target=True,
        conditions=SCMOS),
    Row("banding (sCMOS)", "every row's and column's offset, 10 e⁻ rms, new each frame",
        {"row_noise_electrons": 10.0, "column_noise_electrons": 10.0}, on_time_target=True,
        conditions=SCMOS),
    Row("fiducial beads", "4 beads of 50 000 photons, still stage",
        {"fiducial_count": 4, "fiducial_photons": 50000.0}, on_time_target=True),
    Row("stage vibration", "2 nm rms per frame, no beads", {"drift_jitter_px": 0.02},
        on_time_target=True),
    Row("fiducial beads on a vibrating stage", "1 bead of 10 000 photons, 2 nm rms per frame",
        {"fiducial_count": 1, "fiducial_photons": 10000.0, "drift_jitter_px": 0.02}),
    Row("fiducial beads on a vibrating stage", "4 beads of 50 000 photons, 2 nm rms per frame",
        {"fiducial_count": 4, "fiducial_photons": 50000.0, "drift_jitter_px": 0.02}),
    Row("fiducial beads on a drifting, vibrating stage",
        "4 beads of 50 000 photons, drift 5 × 10 px, 2 nm rms per frame",
        {"fiducial_count": 4, "fiducial_photons": 50000.0, "drift_px": (5.0, 10.0),
         "drift_jitter_px": 0.02}, on_time_target=True),
    Row("fiducial beads under laser flicker", "4 beads of 50 000 photons, 10 % per frame",
        {"fiducial_count": 4, "fiducial_photons": 50000.0, "flicker": 0.10},
        on_time_target=True),
)  # fmt: skip
QUICK_ROWS = (ROWS[2], ROWS[7], ROWS[19])


def row_seeds(row: Row, count: int) -> list[int]:
    """Seeds of a row: fixed by its options, different from row to row."""
    first = zlib.crc32(repr((row.artifact, row.strength)).encode()) % 1_000_000_007
    return [first + index for index in range(count)]


def run_one(task: tuple[int, Row, int]) -> dict[str, Any]:
    """One movie: ``sigma`` (ours), ``naive``, ``on_time`` relative errors."""
    index, row, seed = task
    conditions = {**CONDITIONS, **(row.conditions or {})}
    truth_sigma = float(conditions["sigx_nm"])
    movie, truth = simulate_movie(FRAMES, FRAME_SHAPE, seed=seed, artifacts=row.options,
                                  **conditions)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        psf_sigma, _ = blink_spatial_psf([movie], CROP_PIX, channels_pixels_nm=PIXEL_NM)
        sigma = psf_sigma[0] if math.isfinite(psf_sigma[0]) else truth_sigma
        on_time, _ = blink_temporal_on(
            [movie], CROP_FR, sigma, exposure_ms=1.0, channels_pixels_nm=PIXEL_NM
        )
    try:
        sx, sy, _ = naive_spatial_psf(movie, CROP_PIX, PIXEL_NM)
        naive = math.sqrt(sx * sy) / truth_sigma - 1.0
    except (RuntimeError, ValueError):
        naive = math.nan
    return {
        "index": index,
        "sigma": psf_sigma[0] / truth_sigma - 1.0,
        "naive": naive,
        "on_time": float(on_time) / truth["correlation_time_frames"] - 1.0,
    }


def run_rows(rows: tuple[Row, ...], seeds: int, workers: int) -> list[dict[str, np.ndarray]]:
    """Relative errors per row: ``{"sigma": (seeds,), "naive": ..., "on_time": ...}``."""
    tasks = [(index, row, seed) for index, row in enumerate(rows) for seed in row_seeds(row, seeds)]
    if workers <= 1:
        runs = [run_one(task) for task in tasks]
    else:
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with context.Pool(workers) as pool:
            runs = list(pool.imap_unordered(run_one, tasks, chunksize=1))
    results = []
    for index in range(len(rows)):
        mine = [run for run in runs if run["index"] == index]
        results.append(
            {key: np.array([r[key] for r in mine]) for key in ("sigma", "naive", "on_time")}
        )
    return results


def _cell(errors: np.ndarray) -> str:
    finite = errors[np.isfinite(errors)]
    if not finite.size:
        return "—"
    spread = f" ± {100 * finite.std(ddof=1):.1f}" if finite.size > 1 else ""
    missing = f" ({errors.size - finite.size} NaN)" if finite.size < errors.size else ""
    return f"{100 * finite.mean():+.1f}{spread}{missing}"


def passed(row: Row, result: dict[str, np.ndarray]) -> bool:
    """Whether the row meets its targets (widths within 2 %, on-time within 5 % where set)."""
    ok = True
    if row.target:
        errors = result["sigma"]
        ok &= bool(np.all(np.isfinite(errors)) and abs(errors.mean()) <= WIDTH_TOLERANCE)
    if row.on_time_target:
        ok &= bool(abs(np.nanmean(result["on_time"])) <= ON_TIME_TOLERANCE)
    return ok


def section(rows: tuple[Row, ...], results: list[dict[str, np.ndarray]], seeds: int) -> str:
    """The markdown section."""
    lines = [
        "## Artifacts\n",
        f"Real acquisitions, simulated (`smlmlp.artifacts`): {FRAMES} frames of "
        f"{FRAME_SHAPE[0]}×{FRAME_SHAPE[1]} pixels of {PIXEL_NM:g} nm, σ = {SIGMA_NM:g} nm, "
        "EMCCD (where a row says sCMOS: its default 3 % spread of the pixels' gains; "
        "other conditions where a row says so, σ against that row's truth), "
        "1000 photons, background 50, 0.5 ON emitters/µm², on-time 3 frames, "
        f"{seeds} seeds per row. Bias ± spread over the seeds in %: σ = √(σx·σy) against the "
        "in-focus truth for smlmLP and for the naive recipe, and smlmLP's on-time against "
        "the simulated correlation time. Target: |bias of σ| ≤ 2 % (rows marked ✓/✗), "
        "on-time within 5 % under bleaching and haze. The haze is the sum of two smooth "
        "random patterns (16 px) whose levels wander by ±50 % over about 50 frames; on the "
        "sCMOS it is uniform, so that what it does is the gain pattern's alone: a flicker "
        "of each pixel of its own, which the on-time's pixel pairs leave out, as they leave "
        "out the random telegraph noise of single pixels.\n",
        "| artifact | strength | smlmLP σ | naive σ | smlmLP on-time | target |",
        "|---|---|---|---|---|---|",
    ]
    for row, result in zip(rows, results, strict=True):
        mark = (
            ("✓" if passed(row, result) else "✗")
            if (row.target or row.on_time_target)
            else ("out of reach")
        )
        lines.append(
            f"| {row.artifact} | {row.strength} | {_cell(result['sigma'])} | "
            f"{_cell(result['naive'])} | {_cell(result['on_time'])} | {mark} |"
        )
    lines += [
        "",
        "Out of reach, and why: a cosmic ray is a bright spike of a few pixels in one frame, "
        "which one autocorrelation of the movie cannot tell from blinking (it narrows σ); "
        "out-of-focus blinking emitters add their own, wider PSF to the one 2-D estimate, "
        "which then lies between the two populations' widths; a saturating camera clips "
        "the brightest emitters' peaks, which flattens them (it widens σ: the QC verdict "
        "warns from 0.01 % of the pixel values at the movie's ceiling); a movie whose "
        "offset or background was subtracted before it was saved, the negative values set "
        "to zero, has lost the lower half of its fluctuations (it narrows σ: the verdict "
        "warns from 5 % of the values piled up at a floor of zero); a background that "
        "jumps from frame to frame (laser flicker) drops out with the frames' mean levels "
        "and, under a peaked illumination beam, with their fit at the lowest frequencies "
        "(the \"flicker of a background under a beam\" rows); a profile with fine "
        "structure (an interference pattern) would stay. The on-time of dim "
        'emitters with a wide PSF under haze (the "haze, dim and wide PSF" rows): 500 '
        "photons spread over "
        "σ = 200 nm leave the blinking so weak at the PSF's spatial scale that the "
        "haze's own structure there, which the background filter of 3 PSF widths lets "
        "through, adds its slow decay to the fitted one; up to about 30 photons/px of "
        "haze it holds.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rows x 2 seeds, asserted")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=None)
    args = parser.parse_args(argv)
    rows = QUICK_ROWS if args.quick else ROWS
    seeds = args.seeds or (2 if args.quick else SEEDS)
    start = time.perf_counter()
    results = run_rows(rows, seeds, args.workers)
    print(section(rows, results, seeds))
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.quick and not all(
        passed(row, result) for row, result in zip(rows, results, strict=True)
    ):
        print("artifact targets missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
