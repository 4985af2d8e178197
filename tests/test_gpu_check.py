"""benchmarks/gpu_check.py, the one command for a lent GPU, in its --cpu-only form."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.gpu_standin
def test_cpu_only_check_runs_from_the_repository(tmp_path: Path) -> None:
    """Without install (PYTHONPATH=.), the stand-in tests pass and the table is written."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(PYTHONPATH=".", OUT=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--cpu-only", "--scaling"]
        + ["--frames", "300", "--sides", "64"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "pytest -m gpu_standin:" in output and "0 failed, 0 skipped" in output
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [row["movie"] for row in record["rows"]] == ["300x64^2"]
    # the simulated PSF: 150 x 120 nm, so psf_sigma near their geometric mean
    assert record["rows"][0]["sigma_cpu_nm"] == pytest.approx((150 * 120) ** 0.5, rel=0.03)
    assert "| 300x64^2 |" in (tmp_path / "gpu_check.md").read_text()
    # --scaling: floor and ours on 1, 2, 4, ... of the usable cores, all of them last
    scaling = record["scaling"]
    assert [row["cores"] for row in scaling] == _gpu_check().core_counts(
        len(os.sched_getaffinity(0))
    )
    assert all(row["floor_s"] > 0 and row["ours_s"] > 0 for row in scaling)
    assert "| ours/floor |" in (tmp_path / "gpu_check.md").read_text()


def _gpu_check():
    """benchmarks/gpu_check.py as a module."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return gpu_check


def test_core_counts_double_up_to_every_core() -> None:
    core_counts = _gpu_check().core_counts
    assert core_counts(1) == [1]
    assert core_counts(6) == [1, 2, 4, 6]
    assert core_counts(16) == [1, 2, 4, 8, 16]


def test_the_check_runs_every_gpu_test() -> None:
    """Every test marked ``gpu`` (outside the workflow's) is in a file the check runs."""
    checked = set(_gpu_check().GPU_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "gpu", "-p",
         "no:cacheprovider", "tests", "--ignore=tests/workflow"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    cases = [line for line in result.stdout.splitlines() if "::" in line]
    assert cases, result.stdout[-2000:] + result.stderr[-2000:]
    files = {case.split("::")[0] for case in cases}
    assert files <= checked, sorted(files - checked)
