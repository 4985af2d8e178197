"""Fiducial beads in the workflow, the command and the library: left out by default,
kept on request (``fiducials: false``, ``--keep-fiducials``, ``fiducials=False``), the
same numbers and notes from each entry point."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import h5py
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.loading import open_movie
from smlmlp.simulation import MovieSimulator

pytestmark = pytest.mark.workflow

CROP_PIX = 21
SHAKEN = {"fiducial_count": 4, "fiducial_photons": 50000.0, "drift_jitter_px": 0.02}


def _channel_attrs(path: Path) -> dict:
    """The channel's attributes, and the file's on-time in frames as ``on_time``."""
    with h5py.File(path, "r") as info:
        (name,) = [key for key in info if isinstance(info[key], h5py.Group)
                   and "sigx_nm" in info[key].attrs]  # fmt: skip
        return {**info[name].attrs, "on_time": float(info.attrs["on_time_frames"])}


@pytest.fixture(scope="module")
def run(tmp_path_factory, wf: SimpleNamespace) -> SimpleNamespace:
    workdir = tmp_path_factory.mktemp("fiducials")
    simulator = MovieSimulator(
        1000, (64, 64), sigx_nm=130.0, photons=1000.0, background=50.0, camera="emccd",
        on_density_per_um2=0.5, seed=22, artifacts=SHAKEN,
    )  # fmt: skip
    path = workdir / "experiments" / "beads" / "movie.tif"
    path.parent.mkdir(parents=True)
    tifffile.imwrite(path, simulator.movie(), photometric="minisblack")
    wf.write_yaml(path.parent / "experiment.yaml", {"pixel_nm": 100})
    wf.write_config(workdir, crop_pix=CROP_PIX, on_time=True, frames_per_job=400)
    left_out = wf.run_snakemake(workdir, "--cores", "2")
    info = workdir / "results" / "beads" / "psf_info.h5"
    assert left_out.returncode == 0, left_out.stderr[-2000:]
    first = _channel_attrs(info)
    kept = wf.run_snakemake(workdir, "--cores", "2", "--config", "fiducials=false")
    assert kept.returncode == 0, kept.stderr[-2000:]
    return SimpleNamespace(path=path, left_out=first, kept=_channel_attrs(info))


def test_the_workflow_leaves_beads_out_and_keeps_them_when_told(run) -> None:
    assert run.left_out["fiducials"] == 4 and run.left_out["masked_pixels"] > 0
    assert "fiducials: 4 bright spot(s)" in run.left_out["qc_notes"]
    assert run.kept["fiducials"] == 0 and run.kept["masked_pixels"] == 0
    assert "fiducials" not in run.kept["qc_notes"]
    assert run.left_out["psf_sigma_nm"] / 130.0 - 1.0 == pytest.approx(0.0, abs=0.02)
    assert run.kept["psf_sigma_nm"] < 0.95 * run.left_out["psf_sigma_nm"]  # the beads narrow it
    assert run.left_out["on_time"] != run.kept["on_time"]  # the on-time's pass left them out too


@pytest.mark.parametrize("keep", [False, True])
def test_command_and_library_give_the_workflow_numbers(run, tmp_path, keep) -> None:
    expected = run.kept if keep else run.left_out
    out = tmp_path / "out.h5"
    option = ["--keep-fiducials"] if keep else []
    command = ["psf", "-q", "--pixel-nm", "100", "--crop-pix", str(CROP_PIX), "--on-time",
               *option]  # fmt: skip
    assert main([*command, str(run.path), "-o", str(out)]) == 0
    ours = _channel_attrs(out)
    assert (ours["fiducials"], ours["masked_pixels"]) == (
        expected["fiducials"],
        expected["masked_pixels"],
    )
    assert ours["sigx_nm"] == pytest.approx(expected["sigx_nm"], rel=1e-9)
    assert ours["on_time"] == pytest.approx(expected["on_time"], rel=1e-9)
    with open_movie(run.path) as movie:
        sigma, info = blink_spatial_psf([movie], CROP_PIX, fiducials=not keep)
    assert info["sigx"][0] == pytest.approx(expected["sigx_nm"], rel=1e-9)
