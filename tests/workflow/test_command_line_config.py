"""The README's command for one's own folder, as a user types it, with the shipped config."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.workflow


@pytest.fixture
def own_folder(tmp_path: Path, wf: SimpleNamespace) -> Path:
    folder = tmp_path / "data 2024"
    wf.write_tiff(folder / "day1" / "red.tif", wf.noise_movie(120, (32, 32)))
    return folder


@pytest.mark.parametrize(
    "extra",
    [
        ["demo=false", "pixel_nm=108"],  # the README's words, a YAML user's "false"
        ["demo=False", "pixel_nm=108"],
        ["demo=no"],
        [],  # naming the folder is enough: the demo runs only in its own folder
        # Snakemake reads a list's items, null and false as words: the schema's types win
        ["field_tiles=[1,1]", "pixel_nm=[108,110]", "exposure_ms=null", "cuda=false"],
    ],
)
def test_own_folder_runs_with_the_shipped_config(
    own_folder: Path, tmp_path: Path, wf: SimpleNamespace, extra: list[str]
) -> None:
    result = wf.run_snakemake(
        tmp_path,
        "--cores",
        "1",
        "-n",
        "--config",
        f"experiments_dir={own_folder}",
        *extra,
        configfile=wf.REPO / "config" / "config.yaml",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    counts = wf.job_counts(output)
    assert "demo" not in counts and counts.get("autocorr") == 1, counts
    assert not (own_folder / "2024-05-13").exists()


def test_a_word_that_is_not_a_boolean_is_refused(tmp_path: Path, wf: SimpleNamespace) -> None:
    result = wf.run_snakemake(
        tmp_path,
        "-n",
        "--config",
        "demo=maybe",
        configfile=wf.REPO / "config" / "config.yaml",
    )
    assert result.returncode != 0
    assert "demo: 'maybe' is not of type 'boolean'" in result.stdout + result.stderr


def test_a_folder_named_by_a_number(tmp_path: Path, wf: SimpleNamespace) -> None:
    """``experiments_dir=2024``: Snakemake makes a number of it, the workflow a folder."""
    wf.write_tiff(tmp_path / "2024" / "day1" / "red.tif", wf.noise_movie(120, (32, 32)))
    result = wf.run_snakemake(
        tmp_path,
        "--cores",
        "1",
        "-n",
        "--config",
        "experiments_dir=2024",
        configfile=wf.REPO / "config" / "config.yaml",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert wf.job_counts(output).get("autocorr") == 1, output


def _run_elsewhere(folder: Path, wf: SimpleNamespace, *args: str):
    """``snakemake -s REPO/Snakefile`` in ``folder``, without --configfile."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "snakemake", "-s", str(wf.REPO / "Snakefile"), *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)


def test_run_from_a_folder_of_ones_own(
    own_folder: Path, tmp_path: Path, wf: SimpleNamespace
) -> None:
    """The workflow run from another folder takes that folder's config/config.yaml, and
    the workflow's own when it has none (with --config)."""
    project = tmp_path / "project"
    project.mkdir()
    result = _run_elsewhere(
        project, wf, "--cores", "1", "-n", "--config", f"experiments_dir={own_folder}"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert wf.job_counts(output).get("autocorr") == 1, output
    other = tmp_path / "other"
    for day in ("day1", "day2"):
        wf.write_tiff(other / day / "red.tif", wf.noise_movie(120, (32, 32)))
    wf.write_yaml(project / "config" / "config.yaml", {"experiments_dir": str(other)})
    result = _run_elsewhere(project, wf, "--cores", "1", "-n")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert wf.job_counts(output).get("autocorr") == 2, output
    assert not (project / "demo_data").exists()
