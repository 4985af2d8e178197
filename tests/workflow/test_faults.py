"""Faults of the file system met by a workflow run, done for real.

A read-only results folder, a results folder that fills up, two runs into different
results folders. Each asserts the one line the user sees and that nothing partial
stays; the full disk ends with a rerun that completes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

pytestmark = [pytest.mark.workflow, pytest.mark.faults]


def _experiment(wf: SimpleNamespace, workdir: Path, results: str = "res") -> None:
    movie, _ = wf.simulate(300, (32, 32), seed=5)
    wf.write_tiff(workdir / "experiments" / "e1" / "movie.tif", movie)
    wf.write_yaml(workdir / "experiments" / "e1" / "experiment.yaml", {"pixel_nm": 100})
    wf.write_config(workdir, results_dir=results, crop_pix=21, on_time=False)


def _can_mount() -> bool:
    return os.name == "posix" and os.geteuid() == 0 and shutil.which("mount") is not None


@contextmanager
def _tmpfs(folder: Path, options: str) -> Iterator[bool]:
    """A tmpfs mounted on ``folder`` with ``options`` (yields False where that fails)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = _can_mount() and (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=False)


def _parts(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*.part")]


def test_read_only_results_folder(wf: SimpleNamespace, tmp_path: Path) -> None:
    _experiment(wf, tmp_path)
    results = tmp_path / "res"
    with _tmpfs(results, "size=1m,ro") as mounted:
        if not mounted:
            if os.geteuid() == 0:
                pytest.skip("root writes anywhere: a read-only mount is needed, and failed")
            results.chmod(0o555)
        try:
            run = wf.run_snakemake(tmp_path, "--cores", "1")
        finally:
            if not mounted:
                results.chmod(0o755)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    cause = "a read-only file system" if mounted else "no permission to write"
    assert f"results_dir res: cannot write in {results} ({cause})" in output, output[-3000:]
    assert "Traceback" not in output


def test_full_disk_names_the_output_and_a_rerun_completes(
    wf: SimpleNamespace, tmp_path: Path
) -> None:
    _experiment(wf, tmp_path)
    results = tmp_path / "res"
    with _tmpfs(results, "size=64k") as mounted:
        if not mounted:
            pytest.skip("a small file system to fill needs root and mount rights")
        run = wf.run_snakemake(tmp_path, "--cores", "1")
        left = _parts(results)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    errors = wf.error_lines(output)
    assert errors == [
        f"ERROR autocorr e1/movie: no space left on {results} writing res/e1/autocorr/movie.npz"
    ], output[-3000:]
    assert left == []
    # space again: the rerun completes, with nothing partial anywhere
    again = wf.run_snakemake(tmp_path, "--cores", "1")
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert (results / "e1" / "psf_info.h5").is_file()
    assert _parts(results) == []


def test_logs_stay_in_their_results_folder(wf: SimpleNamespace, tmp_path: Path) -> None:
    """Two runs into different results folders keep their own logs."""
    _experiment(wf, tmp_path)
    for results in ("res_a", "res_b"):
        run = wf.run_snakemake(tmp_path, "-n", "--config", f"results_dir={results}")
        logs = [line.split("log: ", 1)[1] for line in run.stdout.splitlines() if "log: " in line]
        assert logs and all(log.startswith(f"{results}/logs/") for log in logs), run.stdout


def test_the_same_bits_with_one_or_two_cores(wf: SimpleNamespace, tmp_path: Path) -> None:
    """`--cores 1` and `--cores 2` (threads 2): every dataset and attribute the same."""
    movie, _ = wf.simulate(600, (40, 40), seed=13)
    for cores in ("1", "2"):
        workdir = tmp_path / f"cores_{cores}"
        wf.write_tiff(workdir / "experiments" / "e1" / "movie.tif", movie)
        wf.write_yaml(workdir / "experiments" / "e1" / "experiment.yaml", {"pixel_nm": 100})
        wf.write_config(workdir, crop_pix=21, threads=2, temporal_lags=40)
        run = wf.run_snakemake(workdir, "--cores", cores)
        assert run.returncode == 0, run.stderr[-3000:]
    info = Path("results") / "e1" / "psf_info.h5"
    assert wf.h5_differences(tmp_path / "cores_1" / info, tmp_path / "cores_2" / info) == []


def test_a_deleted_movie_leaves_its_channel_out(wf: SimpleNamespace, tmp_path: Path) -> None:
    """A channel's movie deleted after a run: the next run drops the channel from the
    experiment's info file and the summary (its old intermediates are not used)."""
    from smlmlp.infofile import read_info, read_summary

    root = tmp_path / "experiments" / "e1"
    for seed, channel in enumerate(("green", "red")):
        movie, _ = wf.simulate(300, (32, 32), seed=20 + seed)
        wf.write_tiff(root / f"{channel}.tif", movie)
    wf.write_yaml(root / "experiment.yaml", {"pixel_nm": 100})
    wf.write_config(tmp_path, crop_pix=21, on_time=False)
    assert wf.run_snakemake(tmp_path, "--cores", "2").returncode == 0
    info = tmp_path / "results" / "e1" / "psf_info.h5"
    assert list(read_info(info).channels) == ["green", "red"]
    (root / "red.tif").unlink()
    again = wf.run_snakemake(tmp_path, "--cores", "2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert list(read_info(info).channels) == ["green"]
    rows = read_summary(tmp_path / "results" / "summary.tsv")
    assert [row["channel"] for row in rows] == ["green"]


def test_unreadable_folder_and_movie(wf: SimpleNamespace, tmp_path: Path) -> None:
    """An experiment folder and a movie nobody may read: one line each naming them;
    the readable experiment completes."""
    for name in ("good", "locked_folder", "locked_movie"):
        movie, _ = wf.simulate(300, (32, 32), seed=31)
        wf.write_tiff(tmp_path / "experiments" / name / "movie.tif", movie)
        wf.write_yaml(tmp_path / "experiments" / name / "experiment.yaml", {"pixel_nm": 100})
    wf.write_config(tmp_path, crop_pix=21, on_time=False)
    folder = Path("experiments") / "locked_folder"
    movie = Path("experiments") / "locked_movie" / "movie.tif"
    (tmp_path / folder).chmod(0)
    (tmp_path / movie).chmod(0)
    try:
        run = wf.run_snakemake(tmp_path, "--cores", "2", as_user=True)
    finally:
        (tmp_path / folder).chmod(0o755)
        (tmp_path / movie).chmod(0o644)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert (tmp_path / "results" / "good" / "psf_info.h5").is_file()
    assert f"{folder}: no permission to read this folder" in output, output[-3000:]
    assert f"{movie}: no permission to read this file" in output, output[-3000:]
    assert "Traceback" not in output


def test_unreadable_movie_through_the_command(wf: SimpleNamespace, tmp_path: Path) -> None:
    """`smlmlp psf` on a movie nobody may read: one line naming it, nothing written."""
    import sys

    movie, _ = wf.simulate(200, (32, 32), seed=32)
    path = tmp_path / "movie.tif"
    wf.write_tiff(path, movie)
    path.chmod(0)
    out = tmp_path / "psf.h5"
    command = [sys.executable, "-m", "smlmlp.cli", "psf", str(path), "-o", str(out)]
    run = subprocess.run(
        command, capture_output=True, text=True, preexec_fn=wf.as_ordinary_user, check=False
    )
    assert run.returncode != 0
    assert run.stderr.strip() == f"smlmlp: error: {path}: no permission to read this file"
    assert not out.exists()
