"""The workflow with ``cuda: true`` end to end, on the CPU through the CuPy stand-in.

Snakemake runs with ``tests/gpu_standin`` on ``PYTHONPATH``, so every job imports the
stand-in as ``cupy``: the rules' GPU resource, the scripts' ``cuda`` flag, the ranges
of ``frames_per_job`` and the on-time pass all take the GPU path. The numbers must be
those of a run on the CPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import h5py
import pytest

pytestmark = [pytest.mark.workflow, pytest.mark.gpu_standin]

STANDIN = Path(__file__).resolve().parents[1] / "gpu_standin"


def _run(wf: SimpleNamespace, workdir: Path, movie, *, cuda: bool, standin: bool):
    root = workdir / "experiments"
    wf.write_tiff(root / "e1" / "movie.tif", movie)
    wf.write_yaml(root / "e1" / "experiment.yaml", {"pixel_nm": 100, "exposure_ms": 20})
    wf.write_config(workdir, cuda=cuda, frames_per_job=320, crop_pix=21, chunk_frames=64)
    env = dict(os.environ)
    if standin:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(STANDIN), *filter(None, [env.get("PYTHONPATH")])]
        )
    result = wf.run_snakemake(workdir, "--cores", "2", env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    return result


def test_workflow_on_the_gpu_path(wf: SimpleNamespace, tmp_path: Path) -> None:
    movie, _ = wf.simulate(700, (40, 40), seed=21)
    _run(wf, tmp_path / "gpu", movie, cuda=True, standin=True)
    _run(wf, tmp_path / "cpu", movie, cuda=False, standin=False)
    log_folder = tmp_path / "gpu" / "results" / "logs"
    logs = sorted((log_folder / "autocorr").rglob("*.log"))
    assert len(logs) == 3  # frames 0-320, 320-640, 640-700
    for log in logs:
        assert ", GPU" in log.read_text()
    on_time_log = next((log_folder / "on_time").rglob("*.log")).read_text()
    assert ", GPU" in on_time_log
    files = [tmp_path / run / "results" / "e1" / "psf_info.h5" for run in ("gpu", "cpu")]
    with h5py.File(files[0], "r") as gpu, h5py.File(files[1], "r") as cpu:
        channels = [str(name) for name in cpu.attrs["channels"]]
        assert channels == ["movie"]
        for channel in channels:
            for attr in ("sigx_nm", "sigy_nm", "psf_sigma_nm"):
                assert gpu[channel].attrs[attr] == pytest.approx(
                    cpu[channel].attrs[attr], rel=1e-6
                )
        assert gpu.attrs["on_time_ms"] == pytest.approx(cpu.attrs["on_time_ms"], rel=1e-5)
