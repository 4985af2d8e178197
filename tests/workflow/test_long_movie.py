"""A long movie (10 000 frames of 256², 1.3 GB) through the command and the workflow.

Memory stays flat whatever the movie's length: the peak resident memory of every
process stays under 300 MB, and the rule log shows progress at least every 10 s.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import tifffile

pytestmark = [pytest.mark.workflow, pytest.mark.faults]

FRAMES, SIDE, REPEATS = 10_000, 256, 20
PEAK_RSS_MB = 300
PROGRESS_EVERY_S = 10

#: Runs a command and prints the largest resident memory of it and its descendants (MB).
_PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "status = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, file=sys.stderr)\n"
    "sys.exit(status)\n"
)


@pytest.fixture(scope="module")
def long_movie(wf: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BigTIFF of 10 000 frames, written 500 frames at a time (never whole in memory)."""
    base, _ = wf.simulate(FRAMES // REPEATS, (SIDE, SIDE), seed=41)
    path = tmp_path_factory.mktemp("long") / "experiments" / "e1" / "movie.tif"
    path.parent.mkdir(parents=True)
    with tifffile.TiffWriter(path, bigtiff=True) as writer:
        for _ in range(REPEATS):
            writer.write(base, contiguous=True, photometric="minisblack")
    yield path
    path.unlink()


def _peak_rss_mb(command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    run = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, *command], cwd=cwd, capture_output=True, text=True
    )
    return run, float(run.stderr.strip().splitlines()[-1])


def test_long_movie_through_the_command(long_movie: Path, tmp_path: Path) -> None:
    """The command's PSF pass (its on-time pass is the workflow's on_time job's function,
    measured below in a process of its own)."""
    command = [sys.executable, "-m", "smlmlp.cli", "psf", str(long_movie), "--pixel-nm", "100"]
    run, peak = _peak_rss_mb([*command, "-o", str(tmp_path / "psf.h5")], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    print(f"command: peak RSS {peak:.0f} MB")
    assert peak <= PEAK_RSS_MB


def test_long_movie_through_the_workflow(wf: SimpleNamespace, long_movie: Path) -> None:
    workdir = long_movie.parents[2]
    wf.write_yaml(workdir / "experiments" / "e1" / "experiment.yaml", {"pixel_nm": 100})
    wf.write_config(workdir, crop_pix=31, threads=2)
    command = ["-m", "snakemake", "--snakefile", str(wf.REPO / "Snakefile"), "--cores", "2"]
    run, peak = _peak_rss_mb([sys.executable, *command, "--configfile", "config.yaml"], workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    print(f"workflow: peak RSS {peak:.0f} MB")
    assert peak <= PEAK_RSS_MB
    for log in ("autocorr/e1/movie.log", "on_time/e1.log"):
        lines = (workdir / "results" / "logs" / log).read_text().splitlines()
        times = [datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S") for line in lines]
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        print(log, "longest gap between lines:", max(gaps), "s")
        assert max(gaps) <= PROGRESS_EVERY_S, "\n".join(lines)
