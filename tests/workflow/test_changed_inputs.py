"""A movie replaced between runs: after ONE run every output follows the new movie."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import tifffile

from smlmlp.infofile import read_info

pytestmark = pytest.mark.workflow


def _movie(path: Path, wf: SimpleNamespace, on_time_frames: float, seed: int) -> float:
    movie, truth = wf.simulate(
        1500, (32, 32), on_time_frames=on_time_frames, on_probability=0.02, seed=seed
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, movie, photometric="minisblack")
    return float(truth["correlation_time_frames"])


def test_a_replaced_movie_reruns_the_on_time_in_the_same_run(
    tmp_path: Path, wf: SimpleNamespace
) -> None:
    movie = tmp_path / "experiments" / "e1" / "movie.tif"
    first_truth = _movie(movie, wf, 2.0, seed=1)
    wf.write_yaml(movie.parent / "experiment.yaml", {"pixel_nm": 100, "exposure_ms": 10})
    wf.write_config(tmp_path, crop_pix=21)
    result = wf.run_snakemake(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    info = tmp_path / "results" / "e1" / "psf_info.h5"
    assert read_info(info).attrs["on_time_frames"] == pytest.approx(first_truth, rel=0.15)

    # a new movie, newer than every output but not from the future (an input newer
    # than the outputs its job writes is refused as clock skew)
    second_truth = _movie(movie, wf, 8.0, seed=2)
    later = os.stat(info).st_mtime + 1
    time.sleep(max(0.0, later - time.time()) + 0.1)
    os.utime(movie, (later, later))
    result = wf.run_snakemake(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert wf.job_counts(result.stdout + result.stderr).get("on_time") == 1
    assert read_info(info).attrs["on_time_frames"] == pytest.approx(second_truth, rel=0.15)
    # and nothing is left to do
    result = wf.run_snakemake(tmp_path, "--cores", "2", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_content_changed_behind_an_older_mtime_reruns(tmp_path: Path, wf: SimpleNamespace) -> None:
    """A movie replaced by another with an OLDER modification time (`cp -p` of an older
    file, a restore): its sampled-content fingerprint reruns the jobs in one run, and the
    results equal a clean run's on the new movie. A `touch` alone reruns too (newer input,
    as Snakemake does)."""
    movie = tmp_path / "experiments" / "e1" / "movie.tif"
    _movie(movie, wf, 2.0, seed=1)
    wf.write_yaml(movie.parent / "experiment.yaml", {"pixel_nm": 100, "exposure_ms": 10})
    wf.write_config(tmp_path, crop_pix=21)
    assert wf.run_snakemake(tmp_path, "--cores", "2").returncode == 0
    info = tmp_path / "results" / "e1" / "psf_info.h5"

    older = os.stat(movie).st_mtime - 3600
    second_truth = _movie(movie, wf, 8.0, seed=2)
    os.utime(movie, (older, older))
    result = wf.run_snakemake(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = wf.job_counts(result.stdout + result.stderr)
    assert counts.get("autocorr") == 1 and counts.get("on_time") == 1, counts
    assert read_info(info).attrs["on_time_frames"] == pytest.approx(second_truth, rel=0.15)

    clean = tmp_path / "clean"
    _movie(clean / "experiments" / "e1" / "movie.tif", wf, 8.0, seed=2)
    wf.write_yaml(
        clean / "experiments" / "e1" / "experiment.yaml", {"pixel_nm": 100, "exposure_ms": 10}
    )
    wf.write_config(clean, crop_pix=21)
    assert wf.run_snakemake(clean, "--cores", "2").returncode == 0
    ours, theirs = read_info(info), read_info(clean / "results" / "e1" / "psf_info.h5")
    assert ours.channels["movie"].sigx_nm == theirs.channels["movie"].sigx_nm
    assert ours.attrs["on_time_frames"] == theirs.attrs["on_time_frames"]

    result = wf.run_snakemake(tmp_path, "--cores", "2", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr
    os.utime(movie)  # touch
    result = wf.run_snakemake(tmp_path, "--cores", "2", "-n")
    assert wf.job_counts(result.stdout + result.stderr).get("autocorr") == 1
