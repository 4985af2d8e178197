"""Runs killed with SIGKILL mid-way, a second run started beside a live one, the reruns.

The second run must say that a run is still working; after the kill, a run must say
that the lock is stale and what to run; after ``--unlock`` the rerun completes with
outputs equal, bit for bit, to those of a run that was never interrupted. The kill
falls in an autocorrelation job, in a job of one frame range (``frames_per_job``),
and in the job writing the info file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytestmark = [pytest.mark.workflow, pytest.mark.faults]

INFO = Path("results") / "e1" / "psf_info.h5"


def _experiment(wf: SimpleNamespace, workdir: Path, movie: np.ndarray, **config: Any) -> None:
    wf.write_tiff(workdir / "experiments" / "e1" / "movie.tif", movie)
    wf.write_yaml(
        workdir / "experiments" / "e1" / "experiment.yaml", {"pixel_nm": 100, "exposure_ms": 10}
    )
    wf.write_config(workdir, crop_pix=21, threads=1, chunk_frames=40, temporal_lags=60, **config)


@pytest.fixture(scope="module")
def clean_run(wf: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A 2000-frame movie and a run never interrupted (the runs to interrupt are frozen
    mid-way, so the movie need not be long)."""
    base, _ = wf.simulate(1000, (64, 64), seed=9)
    movie = np.concatenate([base] * 2)
    workdir = tmp_path_factory.mktemp("clean")
    _experiment(wf, workdir, movie)
    run = wf.run_snakemake(workdir, "--cores", "1")
    assert run.returncode == 0, run.stderr[-3000:]
    return SimpleNamespace(movie=movie, info=workdir / INFO)


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


def _wait_for(pattern: str, workdir: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    """Wait until a file matching ``pattern`` (a glob under ``workdir``) exists."""
    deadline = time.monotonic() + timeout
    while not list(workdir.glob(pattern)):
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, f"{pattern} did not appear"
        time.sleep(0.005)


def _freeze(process: subprocess.Popen) -> None:
    """Stop the run and its jobs where they are (SIGSTOP to its process group).

    A stopped run stays alive and keeps its lock, however fast its jobs would have ended:
    the run beside it and the kill then find it mid-way on any machine.
    """
    os.killpg(process.pid, signal.SIGSTOP)


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def _unlock_and_rerun(wf: SimpleNamespace, workdir: Path, first_pid: int) -> None:
    """The stale lock is named as such; after ``--unlock`` a rerun completes, clean."""
    stale = wf.run_snakemake(workdir, "--cores", "1")
    stale_output = stale.stdout + stale.stderr
    assert stale.returncode != 0
    assert f"in {workdir} (pid {first_pid}) was killed before it could release its lock" in (
        stale_output
    ), stale_output[-3000:]
    assert "run `snakemake --unlock`" in stale_output

    unlocked = wf.run_snakemake(workdir, "--unlock")
    assert unlocked.returncode == 0, unlocked.stderr[-3000:]
    rerun = wf.run_snakemake(workdir, "--cores", "1")
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    assert not list((workdir / "results").rglob("*.part"))


def test_live_run_then_kill_then_stale_lock_then_identical_rerun(
    wf: SimpleNamespace, clean_run: SimpleNamespace, tmp_path: Path
) -> None:
    _experiment(wf, tmp_path, clean_run.movie)
    first = _start(tmp_path)
    try:
        _wait_for("results/logs/autocorr/e1/movie.log", tmp_path, first)
        _freeze(first)
        beside = wf.run_snakemake(tmp_path, "--cores", "1")
        assert first.poll() is None, "the first run ended before the second one looked"
    finally:
        _kill(first)
    beside_output = beside.stdout + beside.stderr
    assert beside.returncode != 0
    assert f"another run is working in {tmp_path} (pid {first.pid}" in beside_output, beside_output
    _unlock_and_rerun(wf, tmp_path, first.pid)
    assert wf.h5_differences(tmp_path / INFO, clean_run.info) == []


def test_kill_in_a_frame_range_job(
    wf: SimpleNamespace, clean_run: SimpleNamespace, tmp_path: Path
) -> None:
    """Killed while one of several frame-range jobs runs: the rerun equals the clean run
    (made in one job: the ranges sum to the same bits)."""
    _experiment(wf, tmp_path, clean_run.movie, frames_per_job=500)
    first = _start(tmp_path)
    try:
        _wait_for("results/logs/autocorr/e1/movie.parts/frames_*.log", tmp_path, first)
        _freeze(first)  # inside the range's job
        assert first.poll() is None
    finally:
        _kill(first)
    assert not (tmp_path / "results" / "e1" / "autocorr" / "movie.npz").exists()
    _unlock_and_rerun(wf, tmp_path, first.pid)
    assert wf.h5_differences(tmp_path / INFO, clean_run.info) == []


def test_kill_while_the_info_file_is_written(
    wf: SimpleNamespace, clean_run: SimpleNamespace, tmp_path: Path
) -> None:
    """Killed in the info job: no info file and no temporary one; the rerun equals the
    clean run."""
    _experiment(wf, tmp_path, clean_run.movie)
    first = _start(tmp_path)
    try:
        _wait_for("results/logs/info/e1.log", tmp_path, first)
        _freeze(first)
        assert first.poll() is None
    finally:
        _kill(first)
    assert not (tmp_path / INFO).exists(), "the info job ended before the kill"
    _unlock_and_rerun(wf, tmp_path, first.pid)
    assert wf.h5_differences(tmp_path / INFO, clean_run.info) == []
