"""The bundled demo (what ``make run`` does), in a temporary folder: offline, from nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from smlmlp.infofile import read_info, read_summary

pytestmark = pytest.mark.workflow


def test_demo_runs_from_scratch_and_finds_the_simulated_widths(
    wf: SimpleNamespace, tmp_path: Path
) -> None:
    shutil.copy(wf.REPO / "config" / "config.yaml", tmp_path / "config.yaml")
    result = wf.run_snakemake(tmp_path, "--cores", "2")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert wf.job_counts(output)["demo"] == 1

    rows = read_summary(tmp_path / "results" / "summary.tsv")
    assert len(rows) == 4
    for row in rows:
        truth_file = tmp_path / "demo_data" / row["experiment"] / "truth.yaml"
        truth = yaml.safe_load(truth_file.read_text())["channels"][row["channel"]]
        np.testing.assert_allclose(
            sorted([row["sigx_nm"], row["sigy_nm"]]),
            sorted([truth["sigx_nm"], truth["sigy_nm"]]),
            rtol=0.05,
            err_msg=f"{row['experiment']}/{row['channel']}",
        )
        assert (row["pixel_y_nm"], row["pixel_x_nm"]) == (100.0, 100.0)
    # the blinking on-time: the demo's correlation time x its exposure, within 10 %
    for experiment in ("2024-05-13", "2024-05-20"):
        truth = yaml.safe_load((tmp_path / "demo_data" / experiment / "truth.yaml").read_text())
        assert truth["on_time_ms"] == pytest.approx(
            truth["correlation_time_frames"] * truth["exposure_ms"]
        )
        info = read_info(tmp_path / "results" / experiment / "psf_info.h5")
        assert info.temporal is not None and info.temporal.exposure_ms == truth["exposure_ms"]
        assert info.attrs["on_time_ms"] == pytest.approx(truth["on_time_ms"], rel=0.10)
        assert [row["on_time_ms"] for row in rows if row["experiment"] == experiment] == [
            pytest.approx(info.attrs["on_time_ms"], abs=0.006)
        ] * 2
    info = read_info(tmp_path / "results" / "2024-05-20" / "psf_info.h5")
    assert list(info.channels) == ["green", "red"]
    red = info.channels["red"]
    assert red.source_files == ("2024-05-20/dualview.tif",)  # relative to experiments_dir
    assert red.source_paths == ("demo_data/2024-05-20/dualview.tif",)
    for experiment in ("2024-05-13", "2024-05-20"):
        for channel in ("green", "red"):
            assert (tmp_path / "results" / experiment / "figures" / f"{channel}.png").exists()

    again = wf.run_snakemake(tmp_path, "-n", "--cores", "2")
    assert "Nothing to be done" in again.stdout + again.stderr
