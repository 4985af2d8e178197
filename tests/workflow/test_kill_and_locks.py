"""A run killed with SIGKILL mid-way, a second run started beside a live one, the rerun.

The second run must say that a run is still working; after the kill, a run must say
that the lock is stale and what to run; after ``--unlock`` the rerun completes with
outputs equal, bit for bit, to those of a run that was never interrupted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytestmark = [pytest.mark.workflow, pytest.mark.faults]


def _experiment(wf: SimpleNamespace, workdir: Path, movie: np.ndarray) -> None:
    wf.write_tiff(workdir / "experiments" / "e1" / "movie.tif", movie)
    wf.write_yaml(
        workdir / "experiments" / "e1" / "experiment.yaml", {"pixel_nm": 100, "exposure_ms": 10}
    )
    wf.write_config(workdir, crop_pix=21, threads=1, chunk_frames=40, temporal_lags=60)


def _start(workdir: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(Path(__file__).resolve().parents[2] / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        "--cores",
        "1",
    ]
    return subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches its jobs
    )


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_live_run_then_kill_then_stale_lock_then_identical_rerun(
    wf: SimpleNamespace, tmp_path: Path
) -> None:
    base, _ = wf.simulate(1000, (64, 64), seed=9)
    movie = np.concatenate([base] * 8)  # 8000 frames: long enough to be caught mid-way
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for workdir in (clean, killed):
        _experiment(wf, workdir, movie)
    reference = wf.run_snakemake(clean, "--cores", "1")
    assert reference.returncode == 0, reference.stderr[-3000:]

    first = _start(killed)
    try:
        _wait_for(killed / "results" / "logs" / "autocorr" / "e1" / "movie.log", first)
        beside = wf.run_snakemake(killed, "--cores", "1")
        assert first.poll() is None, "the first run ended before the second one looked"
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    beside_output = beside.stdout + beside.stderr
    assert beside.returncode != 0
    assert f"another run is working in {killed} (pid {first.pid}" in beside_output, beside_output

    stale = wf.run_snakemake(killed, "--cores", "1")
    stale_output = stale.stdout + stale.stderr
    assert stale.returncode != 0
    assert f"in {killed} (pid {first.pid}) was killed before it could release its lock" in (
        stale_output
    ), stale_output[-3000:]
    assert "run `snakemake --unlock`" in stale_output

    unlocked = wf.run_snakemake(killed, "--unlock")
    assert unlocked.returncode == 0, unlocked.stderr[-3000:]
    rerun = wf.run_snakemake(killed, "--cores", "1")
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert not list((killed / "results").rglob("*.part"))
    info = Path("results") / "e1" / "psf_info.h5"
    assert wf.h5_differences(killed / info, clean / info) == []
