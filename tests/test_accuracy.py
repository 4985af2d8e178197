"""The accuracy benchmark: its quick mode meets the targets, its grid covers every level."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import accuracy  # noqa: E402
from naive_seed import naive_autocorrelation, naive_psf  # noqa: E402


@pytest.fixture(scope="module")
def quick_results():
    return accuracy.run_grid(accuracy.quick_grid(), seeds=2, workers=1)


def test_quick_mode_meets_the_targets(quick_results):
    accuracy.check_quick(quick_results)
    assert all(result.passed("ours") for result in quick_results)
    # the rotated anisotropic cell judges theta, the others do not
    judged = [result for result in quick_results if "theta" in result.ours]
    assert len(judged) == 1 and judged[0].ours["theta"].passed


def test_naive_recipe_is_biased_at_small_widths(quick_results):
    small = next(result for result in quick_results if result.cell.sigma_px == 0.6)
    assert small.naive["sigx"].mean > accuracy.NAIVE_BIASED
    assert small.naive["sigy"].mean > accuracy.NAIVE_BIASED
    assert not small.passed("naive")


def test_outputs_are_written(quick_results, tmp_path):
    accuracy.write_figure(quick_results, tmp_path / "accuracy.png")
    accuracy.write_markdown(
        quick_results,
        tmp_path / "accuracy.md",
        seeds=2,
        workers=1,
        seconds=12.0,
        avoid=accuracy.conditions_to_avoid(quick_results),
    )
    text = (tmp_path / "accuracy.md").read_text(encoding="utf-8")
    assert text.count("\n| ") >= len(quick_results)
    assert "benchmarks/accuracy.py --quick" in text
    assert (tmp_path / "accuracy.png").stat().st_size > 10_000


def test_full_grid_covers_every_level_of_every_factor():
    cells = [cell for _, cell in accuracy.full_grid()]
    assert len(cells) == len(set(cells))
    gaussian = [cell for cell in cells if cell.shape != "airy"]
    levels = {
        "sigma_px": {0.6, 0.7, 0.8, 1.0, 1.3, 1.6, 2.0},
        "photons": {300.0, 1000.0, 3000.0},
        "background": {10.0, 100.0},
        "camera": {"poisson", "emccd", "scmos"},
        "density": {0.2, 2.0},
        "emitters": {"uniform", "filaments"},
        "shape": {"isotropic", "anisotropic", "rotated"},
        "frames": {500, 2000},
        "on_time": {2.0, 8.0},
    }
    for name, wanted in levels.items():
        assert {getattr(cell, name) for cell in gaussian} >= wanted, name
    assert any(cell.shape == "airy" for cell in cells)
    # every camera has the whole width sweep (the figure)
    for camera in accuracy.CAMERAS:
        assert len(accuracy.sweep_cells(camera)) == len(accuracy.SIGMA_LEVELS)
        assert set(accuracy.sweep_cells(camera)) <= set(cells)


def test_default_seeds_and_targets():
    assert len(accuracy.cell_seeds(accuracy.BASE, 3)) == 3
    assert accuracy.cell_seeds(accuracy.BASE, 3) != accuracy.cell_seeds(
        replace(accuracy.BASE, photons=300.0), 3
    )
    small = accuracy.tolerances(replace(accuracy.BASE, sigma_px=0.6))
    assert small["sigx"] == small["sigy"] == 0.05 and small["theta"] is None
    rotated = accuracy.tolerances(replace(accuracy.BASE, shape="rotated"))
    assert rotated["sigx"] == rotated["sigy"] == 0.02 and rotated["theta"] == 3.0
    assert rotated["on_time"] == 0.05


def test_aligned_picks_the_description_nearest_the_true_angle():
    assert accuracy.aligned(100.0, 140.0, 89.0, (140.0, 100.0, 0.0)) == (140.0, 100.0, -1.0)
    assert accuracy.aligned(140.0, 100.0, 31.5, (140.0, 100.0, 30.0)) == (140.0, 100.0, 31.5)
    sx, sy, theta = accuracy.aligned(100.0, 140.0, 2.0, (140.0, 100.0, 88.0))
    assert (sx, sy) == (140.0, 100.0) and theta == pytest.approx(92.0)


def test_naive_psf_is_normalised_off_its_centre():
    movie = np.random.default_rng(1).poisson(20.0, size=(10, 16, 15)).astype(float)
    ac = naive_autocorrelation(movie, 7)  # odd width: the circular AC loses a column
    assert ac.shape == (7, 7)
    psf = naive_psf(ac)
    outside = np.delete(psf.ravel(), psf.size // 2)
    assert math.isclose(outside.max(), 1.0)


def test_artifact_rows_meet_their_targets_and_the_section_is_written():
    """Bleaching, haze and everything at once: sigma within 2 %, on-time within 5 %."""
    import accuracy_artifacts

    rows = accuracy_artifacts.QUICK_ROWS
    results = accuracy_artifacts.run_rows(rows, seeds=2, workers=1)
    for row, result in zip(rows, results, strict=True):
        assert accuracy_artifacts.passed(row, result), (row.artifact, row.strength, result)
    text = accuracy_artifacts.section(rows, results, 2)
    assert text.startswith("## Artifacts") and text.count("\n| ") == len(rows) + 1
