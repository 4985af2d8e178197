"""A movie replaced between runs: after ONE run every output follows the new movie."""

from __future__ import annotations

import os
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

    # a new movie, newer than every output
    second_truth = _movie(movie, wf, 8.0, seed=2)
    later = os.stat(info).st_mtime + 5
    os.utime(movie, (later, later))
    result = wf.run_snakemake(tmp_path, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert wf.job_counts(result.stdout + result.stderr).get("on_time") == 1
    assert read_info(info).attrs["on_time_frames"] == pytest.approx(second_truth, rel=0.15)
    # and nothing is left to do
    result = wf.run_snakemake(tmp_path, "--cores", "2", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr
