"""The library, the command and the workflow: the same stages, numbers and messages.

One movie goes through :func:`smlmlp.blink_spatial_psf`, ``smlmlp psf`` and the
workflow with the same chunk length and one worker: the widths and their standard
errors agree to 1e-9 (they are the same computation). Bad inputs get the same message
from all three, after the channel's name (which each entry point gives its own way).
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile

from smlmlp import blink_spatial_psf
from smlmlp.cli import main
from smlmlp.infofile import read_info
from smlmlp.loading import open_movie

pytestmark = pytest.mark.workflow

CHUNK_FRAMES = 50
CROP_PIX = 21


def _library(path: Path, **options) -> tuple[list, str]:
    """``(estimates, "")`` or ``([], message after the channel name)``."""
    try:
        with open_movie(path) as movie, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, _, estimates = blink_spatial_psf(
                [movie], options.pop("crop_pix", CROP_PIX), chunk_frames=CHUNK_FRAMES,
                full_output=True, **options,
            )
        return estimates, ""
    except (ValueError, TypeError) as error:
        return [], str(error).split("channel 0: ", 1)[1]


def _command(path: Path, out: Path, *extra: str, capsys) -> str:
    capsys.readouterr()
    status = main(
        ["psf", str(path), "-q", "-o", str(out), "--chunk-frames", str(CHUNK_FRAMES),
         "--workers", "1", "--min-frames", "2", "--crop-pix", str(CROP_PIX), *extra]
    )
    error = capsys.readouterr().err
    if status == 0:
        return ""
    return error.strip().split(f"({path}): ", 1)[1]


def _workflow_error(workdir: Path, experiment: str) -> str:
    """The failing job's last log line, after the channel's name."""
    logs = sorted((workdir / "results" / "logs").rglob(f"*{experiment}*.log")) + sorted(
        (workdir / "results" / "logs").rglob(f"{experiment}/*.log")
    )
    for log in logs:
        last = log.read_text().strip().splitlines()[-1]
        if " ERROR " in last:
            return last.split(f"({Path('experiments') / experiment / 'movie.tif'}): ", 1)[1]
    raise AssertionError(f"no error logged for {experiment}")


@pytest.fixture(scope="module")
def movies(tmp_path_factory, wf: SimpleNamespace) -> SimpleNamespace:
    """One good movie and one per bad input, as experiments of one workflow run."""
    workdir = tmp_path_factory.mktemp("one_path")
    root = workdir / "experiments"
    good, _ = wf.simulate(400, (48, 48), sigx_nm=150.0, sigy_nm=115.0, seed=21)
    nan = good.astype(np.float32)
    nan[260, 7, 9] = np.nan
    bad = {
        "good": good,
        "constant": np.full((150, 48, 48), 100, np.uint16),
        "nan": nan,
        "few": good[:40],
        "small": good[:, :16, :16],
        "saturated": np.minimum(good, np.percentile(good, 99.7).astype(good.dtype)),
        "dropped": np.where(np.isin(np.arange(400), [0, 57, 58, 301])[:, None, None], 0, good),
    }
    for name, movie in bad.items():
        path = root / name / "movie.tif"
        path.parent.mkdir(parents=True)
        tifffile.imwrite(path, movie, photometric="minisblack")
        wf.write_yaml(root / name / "experiment.yaml", {"pixel_nm": 100})
    wf.write_config(
        workdir, crop_pix=CROP_PIX, chunk_frames=CHUNK_FRAMES, min_frames=100, on_time=False
    )
    result = wf.run_snakemake(workdir, "--cores", "1", "--keep-going")
    return SimpleNamespace(workdir=workdir, root=root, result=result)


def _three_ways(movies, experiment: str, tmp_path: Path, capsys) -> tuple:
    """An experiment's movie through the library, the command and the workflow:
    ``(estimate, command's channel, workflow's channel)``."""
    path = movies.root / experiment / "movie.tif"
    estimates, message = _library(path)
    assert not message
    out = tmp_path / f"{experiment}.h5"
    assert _command(path, out, "--pixel-nm", "100", capsys=capsys) == ""
    command = read_info(out).channels["movie"]
    workflow = read_info(movies.workdir / "results" / experiment / "psf_info.h5")
    return estimates[0], command, workflow.channels["movie"]


def test_same_widths_and_errors_from_every_entry_point(movies, tmp_path, capsys) -> None:
    library, command, workflow = _three_ways(movies, "good", tmp_path, capsys)
    for channel in (command, workflow):
        for mine, theirs in (
            (channel.sigx_nm, library.sigx),
            (channel.sigy_nm, library.sigy),
            (channel.theta_deg, library.theta),
            (channel.psf_sigma_nm_se, library.psf_sigma_se),
            (channel.sigx_nm_se, library.sigx_se),
        ):
            assert mine == pytest.approx(theirs, rel=1e-9)
        assert channel.qc == library.qc
    # the numbers are right, too: theta in (-45, 45], sigx along x
    assert library.sigx == pytest.approx(150.0, rel=0.04)
    assert library.sigy == pytest.approx(115.0, rel=0.04)
    assert abs(library.theta) < 5.0


def test_the_same_saturation_verdict_from_every_entry_point(movies, tmp_path, capsys) -> None:
    """A movie clipped at its 99.7th percentile: the same ceiling, fraction and note."""
    library, command, workflow = _three_ways(movies, "saturated", tmp_path, capsys)
    assert library.qc == "warn" and library.saturated_fraction > 1e-3
    for channel in (command, workflow):
        assert channel.attrs["ceiling_adu"] == library.ceiling_adu
        assert channel.attrs["saturated_fraction"] == library.saturated_fraction
        assert channel.qc_notes == library.qc_notes
    assert any(note.startswith("saturated pixels") for note in library.qc_notes)


def test_the_same_dropped_frames_from_every_entry_point(movies, tmp_path, capsys) -> None:
    """Four frames of zeros: left out, counted and noted alike; the widths of the movie
    without them."""
    library, command, workflow = _three_ways(movies, "dropped", tmp_path, capsys)
    good, _, _ = _three_ways(movies, "good", tmp_path, capsys)
    assert library.dropped_frames == 4
    for channel in (command, workflow):
        assert channel.attrs["dropped_frames"] == 4
        assert channel.qc_notes == library.qc_notes
        assert channel.sigx_nm == pytest.approx(library.sigx, rel=1e-9)
    assert any(note.startswith("dropped frames: 4 of 400") for note in library.qc_notes)
    assert library.qc == good.qc
    assert library.psf_sigma == pytest.approx(good.psf_sigma, rel=0.01)


@pytest.mark.parametrize(
    ("experiment", "words"),
    [
        ("constant", "the stack does not change from frame to frame"),
        ("nan", r"1 NaN or infinite pixel\(s\) in frames 240..279; first at frame 260, row 7"),
        ("small", "frames of 16x16 pixels are smaller than the 21x21 crop"),
    ],
)
def test_same_message_from_every_entry_point(
    movies, tmp_path, capsys, experiment: str, words: str
) -> None:
    path = movies.root / experiment / "movie.tif"
    _, library = _library(path)
    command = _command(path, tmp_path / "bad.h5", "--pixel-nm", "100", capsys=capsys)
    workflow = _workflow_error(movies.workdir, experiment)
    assert re.search(words, library), library
    assert library == command == workflow


def test_too_few_frames_the_same_in_command_and_workflow(movies, tmp_path, capsys) -> None:
    path = movies.root / "few" / "movie.tif"
    command = _command(
        path, tmp_path / "few.h5", "--pixel-nm", "100", "--min-frames", "100", capsys=capsys
    )
    workflow = _workflow_error(movies.workdir, "few")
    assert command == workflow
    assert command.startswith("40 frame(s), at least 100 are needed")
    # the library's minimum is 2 frames, with the same words
    _, library = _library(path, crop_pix=CROP_PIX)
    assert library == ""
    with pytest.raises(ValueError, match=r"channel 0: 1 frame\(s\), at least 3 are needed"):
        blink_spatial_psf([np.zeros((1, 32, 32))])


def test_bad_pixel_size_the_same_words(movies, tmp_path, capsys) -> None:
    path = movies.root / "good" / "movie.tif"
    with pytest.raises(ValueError) as library:
        blink_spatial_psf([np.zeros((4, 32, 32))], 21, channels_pixels_nm=-5)
    assert main(["psf", str(path), "-q", "-o", str(tmp_path / "p.h5"), "--pixel-nm", "-5"]) == 1
    command = capsys.readouterr().err
    tail = r"must be positive and finite, got -5(\.0)?$"  # the command parses a float
    assert re.search(tail, str(library.value)) and re.search(tail, command.strip())


def test_a_crop_below_five_is_refused_by_every_entry_point(movies, tmp_path, capsys) -> None:
    path = movies.root / "good" / "movie.tif"
    with pytest.raises(ValueError, match="crop_pix: must be at least 5 pixels, got 3"):
        blink_spatial_psf([np.zeros((4, 32, 32))], crop_pix=3)
    main(["psf", str(path), "-q", "-o", str(tmp_path / "c.h5"), "--crop-pix", "3"])
    assert "--crop-pix: must be at least 5 pixels, got 3" in capsys.readouterr().err
    assert math.isfinite(read_info(movies.workdir / "results" / "good" / "psf_info.h5")
                         .channels["movie"].sigx_nm)
