"""The PSF over time and across the field: workflow, command and library agree.

One movie whose PSF widens over the frames and across the field runs through the
workflow (``time_windows: 3``, ``field_tiles: [2, 2]``, cut into frame ranges that
are merged), ``smlmlp psf --time-windows 3 --tiles 2 2`` and
``blink_spatial_psf(time_windows=3, field_tiles=(2, 2))``: the same numbers to 1e-9,
stored under ``/{channel}/time`` and ``/{channel}/field`` with units.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.infofile import read_info
from smlmlp.loading import open_movie
from smlmlp.simulation import MovieSimulator

pytestmark = pytest.mark.workflow

CHUNK_FRAMES = 40
CROP_PIX = 21


@pytest.fixture(scope="module")
def run(tmp_path_factory, wf: SimpleNamespace) -> SimpleNamespace:
    workdir = tmp_path_factory.mktemp("windows_tiles")
    simulator = MovieSimulator(
        600,
        (64, 64),
        sigx_nm=110.0,
        photons=2000.0,
        background=20.0,
        on_density_per_um2=1.0,
        seed=31,
        artifacts={"focus_sigma_factor": 1.3, "field_sigma_factor": 1.3},
    )
    path = workdir / "experiments" / "drift" / "movie.tif"
    path.parent.mkdir(parents=True)
    tifffile.imwrite(path, simulator.movie(), photometric="minisblack")
    wf.write_yaml(path.parent / "experiment.yaml", {"pixel_nm": 100})
    wf.write_config(
        workdir,
        crop_pix=CROP_PIX,
        chunk_frames=CHUNK_FRAMES,
        on_time=False,
        time_windows=3,
        field_tiles=[2, 2],
        frames_per_job=200,
    )
    result = wf.run_snakemake(workdir, "--cores", "2")
    return SimpleNamespace(workdir=workdir, path=path, result=result)


def test_workflow_writes_the_time_and_field_groups(run) -> None:
    assert run.result.returncode == 0, run.result.stdout + run.result.stderr
    info_path = run.workdir / "results" / "drift" / "psf_info.h5"
    channel = read_info(info_path).channels["movie"]
    time, field = channel.sections["time"], channel.sections["field"]
    assert time["frame_start"].tolist() == [0, 200, 400]
    assert time["frame_stop"].tolist() == [200, 400, 600]
    # the focus drifts: the PSF widens from window to window
    assert np.all(np.diff(time["psf_sigma_nm"]) > 0)
    assert field["psf_sigma_nm"].shape == (2, 2)
    assert field["column_centre_px"].tolist() == [15.5, 47.5]
    # across x: the right tiles are wider
    assert field["psf_sigma_nm"][:, 1].mean() > field["psf_sigma_nm"][:, 0].mean()
    with h5py.File(info_path) as handle:
        assert handle["movie/time/sigx_nm"].attrs["units"] == "nm"
        assert handle["movie/time/frame_start"].attrs["units"] == "frame"
        assert handle["movie/field/theta_deg_se"].attrs["units"] == "degree"
        assert handle["movie/field/row_centre_px"].attrs["units"] == "pixel"
    assert (run.workdir / "results" / "drift" / "figures" / "movie.png").stat().st_size > 0


def test_command_and_library_give_the_same_numbers(run, tmp_path, capsys) -> None:
    assert run.result.returncode == 0
    out = tmp_path / "out.h5"
    status = main(
        ["psf", str(run.path), "-q", "-o", str(out), "--pixel-nm", "100", "--workers", "1",
         "--chunk-frames", str(CHUNK_FRAMES), "--crop-pix", str(CROP_PIX),
         "--time-windows", "3", "--tiles", "2", "2"]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    command = read_info(out).channels["movie"]
    workflow = read_info(run.workdir / "results" / "drift" / "psf_info.h5").channels["movie"]
    with open_movie(run.path) as movie, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, estimates = blink_spatial_psf(
            [movie], CROP_PIX, chunk_frames=CHUNK_FRAMES, full_output=True,
            time_windows=3, field_tiles=(2, 2),
        )  # fmt: skip
    library = estimates[0]
    for section in ("time", "field"):
        for key in ("sigx_nm", "sigy_nm", "psf_sigma_nm", "psf_sigma_nm_se"):
            expected = library.sections[section][key]
            for channel in (command, workflow):
                assert np.allclose(channel.sections[section][key], expected, rtol=1e-9)
    assert command.sigx_nm == pytest.approx(library.sigx, rel=1e-9)
    assert workflow.sigx_nm == pytest.approx(library.sigx, rel=1e-9)


def test_tiles_too_small_for_the_crop_fail_clearly(tmp_path: Path, wf, capsys) -> None:
    movie = wf.noise_movie(120, (32, 32))
    path = tmp_path / "small.tif"
    tifffile.imwrite(path, movie, photometric="minisblack")
    status = main(
        ["psf", str(path), "-q", "-o", str(tmp_path / "x.h5"), "--pixel-nm", "100",
         "--crop-pix", "21", "--tiles", "2", "2"]
    )  # fmt: skip
    assert status != 0
    error = capsys.readouterr().err
    assert "tiles of 16x16 pixels" in error and "smaller than the 21x21 crop" in error
    for bad, words in ((["--tiles", "0", "2"], "--tiles"), (["--time-windows", "0"], "--time")):
        status = main(["psf", str(path), "-q", "-o", str(tmp_path / "y.h5"), *bad])
        assert status != 0 and words in capsys.readouterr().err


def test_config_rejects_a_bad_tile_grid(tmp_path: Path, wf) -> None:
    wf.write_config(tmp_path, field_tiles=[0, 2])
    (tmp_path / "experiments").mkdir()
    result = wf.run_snakemake(tmp_path, "-n", "--cores", "1")
    assert result.returncode != 0
    assert "field_tiles" in result.stdout + result.stderr
