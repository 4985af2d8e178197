"""End to end: the Snakemake workflow on tiny simulated experiments, good and bad together.

One run holds two good experiments (two TIFFs; one dual-view TIFF with OME pixel size and
exposure) and one bad experiment per kind of bad input. The good ones must complete with
numbers close to the simulation truth (PSF widths, blinking on-time), each bad one must
fail with one clear line, and nothing partial may remain. Later phases check reruns, the
report, the linter and switching the on-time off.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import yaml

from smlmlp.infofile import (
    ARRAY_NAMES,
    SUMMARY_COLUMNS,
    TEMPORAL_ARRAYS,
    TEMPORAL_AVERAGE,
    read_info,
    read_summary,
)
from smlmlp_workflow import format_summary_table

pytestmark = pytest.mark.workflow

GOOD = {
    # experiment: {channel: (sigx, sigy)}
    "good_a": {"green": (125.0, 125.0), "red": (150.0, 140.0)},
    "good_b": {"cam_left": (130.0, 130.0), "cam_right": (145.0, 135.0)},
}
#: Frames of the good movies: enough for an on-time within a few percent.
N_FRAMES = 1500
#: Exposure of the good experiments: experiment.yaml (good_a), OME-XML (good_b).
EXPOSURE_MS = {"good_a": 25.0, "good_b": 30.0}
#: Lags of the temporal autocorrelation (the config's default).
TEMPORAL_LAGS = 200
#: bad experiment -> words its error line must hold (file name and problem)
BAD = {
    "bad_2d": ["image.tif", "no movie file", "one image (48 x 48), not a movie"],
    "bad_text": ["movie.tif", "not a TIFF"],
    "bad_empty": ["bad_empty", "no movie file"],
    "bad_odd_split": ["cam.tif", "odd"],
    "bad_settings": ["experiment.yaml", "pixel_nm", "positive"],
    "bad_short": ["movie.tif", "20 frame(s), at least 100"],
    "bad_truncated": ["movie.tif", "truncated"],
    "no_pixel": ["movie.tif", "no pixel size"],
    # no fluctuation: the PSF step says so, as the library and the command do
    "bad_constant": ["movie.tif", "does not change"],
}


def _truth(root: Path, experiment: str, truths: dict[str, dict]) -> None:
    """truth.yaml of a good experiment: its channels' correlation times and its exposure."""
    content = {
        "exposure_ms": EXPOSURE_MS[experiment],
        "correlation_time_frames": {c: t["correlation_time_frames"] for c, t in truths.items()},
    }
    (root / experiment / "truth.yaml").write_text(yaml.safe_dump(content))


def _logs(run: SimpleNamespace) -> Path:
    """The run's log folder (under its results_dir)."""
    return run.workdir / "results" / "logs"


def _make_experiments(wf: SimpleNamespace, root: Path) -> None:
    green, green_truth = wf.simulate(N_FRAMES, sigx_nm=125.0, seed=1)
    red, red_truth = wf.simulate(N_FRAMES, sigx_nm=150.0, sigy_nm=140.0, seed=2)
    wf.write_tiff(root / "good_a" / "green.tif", green)
    wf.write_tiff(root / "good_a" / "red.tif", red)
    wf.write_yaml(
        root / "good_a" / "experiment.yaml",
        {"pixel_nm": 100, "exposure_ms": 25, "channels": {"red": {"pixel_nm": [100, 100]}}},
    )
    _truth(root, "good_a", {"green": green_truth, "red": red_truth})
    # a bright-field snapshot beside the movies: left out, not a channel
    wf.write_tiff(root / "good_a" / "brightfield.tif", wf.noise_movie(1, (48, 40))[0])
    left, left_truth = wf.simulate(N_FRAMES, sigx_nm=130.0, seed=3)
    right, right_truth = wf.simulate(N_FRAMES, sigx_nm=145.0, sigy_nm=135.0, seed=4)
    # OME-XML says 100 nm and 30 ms: they win over the config's defaults; experiment.yaml
    # sets cam_right's exposure (the same 30 ms), which wins over the file
    wf.write_tiff(
        root / "good_b" / "cam.ome.tif",
        np.concatenate([left, right], axis=2),
        ome_pixel_nm=100.0,
        ome_exposure_ms=EXPOSURE_MS["good_b"],
    )
    wf.write_yaml(
        root / "good_b" / "experiment.yaml",
        {"split": "horizontal", "channels": {"cam_right": {"exposure_ms": 30}}},
    )
    _truth(root, "good_b", {"cam_left": left_truth, "cam_right": right_truth})

    wf.write_tiff(root / "bad_2d" / "image.tif", wf.noise_movie(1, (48, 48))[0])
    (root / "bad_text").mkdir()
    (root / "bad_text" / "movie.tif").write_text("this is not an image\n")
    (root / "bad_empty").mkdir()
    (root / "bad_empty" / "notes.txt").write_text("the movie was never copied\n")
    wf.write_tiff(root / "bad_odd_split" / "cam.tif", wf.noise_movie(150, (48, 47)))
    wf.write_yaml(
        root / "bad_odd_split" / "experiment.yaml", {"pixel_nm": 100, "split": "horizontal"}
    )
    wf.write_tiff(root / "bad_settings" / "movie.tif", wf.noise_movie(150, (48, 48)))
    wf.write_yaml(root / "bad_settings" / "experiment.yaml", {"pixel_nm": -5})
    wf.write_tiff(root / "bad_short" / "movie.tif", wf.noise_movie(20, (48, 48)))
    wf.write_yaml(root / "bad_short" / "experiment.yaml", {"pixel_nm": 100})
    truncated = root / "bad_truncated" / "movie.tif"
    wf.write_tiff(truncated, wf.noise_movie(200, (48, 48)))
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) * 6 // 10])
    wf.write_yaml(root / "bad_truncated" / "experiment.yaml", {"pixel_nm": 100})
    wf.write_tiff(root / "no_pixel" / "movie.tif", wf.noise_movie(150, (48, 48)))
    wf.write_tiff(root / "bad_constant" / "movie.tif", np.full((150, 48, 48), 100, np.uint16))
    wf.write_yaml(root / "bad_constant" / "experiment.yaml", {"pixel_nm": 100})


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def first_run(wf: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Good and bad experiments in one run (the default profile keeps going)."""
    workdir = tmp_path_factory.mktemp("workflow")
    _make_experiments(wf, workdir / "experiments")
    wf.write_config(workdir)
    result = wf.run_snakemake(workdir, "--cores", "2", "--keep-going")
    return SimpleNamespace(
        workdir=workdir,
        result=result,
        output=result.stdout + result.stderr,
        results=_files(workdir / "results"),
    )


@pytest.fixture(scope="module")
def completed(wf: SimpleNamespace, first_run: SimpleNamespace) -> SimpleNamespace:
    """The same folder once the bad experiments are removed and the run is repeated."""
    workdir = first_run.workdir
    for name in BAD:
        shutil.rmtree(workdir / "experiments" / name)
    heavy = sorted((workdir / "results").rglob("autocorr/*.npz"))
    before = {p: p.stat().st_mtime_ns for p in heavy}
    result = wf.run_snakemake(workdir, "--cores", "2")
    return SimpleNamespace(
        workdir=workdir, result=result, output=result.stdout + result.stderr, before=before
    )


def _failure(output: str) -> str:
    return f"snakemake output:\n{output[-6000:]}"


# ------------------------------------------------------------------ the first run
def test_good_experiments_complete_despite_bad_ones(first_run: SimpleNamespace) -> None:
    assert first_run.result.returncode != 0, _failure(first_run.output)
    assert "good_a/brightfield.tif: left out: one image (48 x 40), not a movie" in (
        first_run.output
    )
    for experiment, channels in GOOD.items():
        assert f"{experiment}/psf_info.h5" in first_run.results, _failure(first_run.output)
        for channel in channels:
            assert f"{experiment}/figures/{channel}.png" in first_run.results


def test_failed_run_ends_with_what_finished_and_what_failed(
    wf: SimpleNamespace, first_run: SimpleNamespace
) -> None:
    """Jobs failed, so no summary: the run still ends with the numbers of the
    experiments that finished, then every failed job's error line."""
    printed = first_run.result.stdout.splitlines()
    title = [i for i, line in enumerate(printed) if line.startswith("smlmLP: ")]
    assert len(title) == 1 and "summary.tsv was not written" in printed[title[0]], _failure(
        first_run.output
    )
    rows = [
        row
        for experiment in GOOD
        for row in read_info(_logs(first_run).parent / experiment / "psf_info.h5").summary_rows()
    ]
    table = format_summary_table(rows).splitlines()
    assert sorted(table[1 : 1 + len(rows)]) == sorted(
        printed[title[0] + 2 : title[0] + 2 + len(rows)]
    )
    failed = next(i for i, line in enumerate(printed) if line.startswith("failed jobs ("))
    assert printed[failed].endswith(f"; experiments {', '.join(sorted(BAD))}):"), printed[failed]
    errors = wf.error_lines(first_run.output)
    listed = list(itertools.takewhile(lambda line: line.startswith("  "), printed[failed + 1 :]))
    assert sorted(listed) == sorted(f"  {e.removeprefix('ERROR ')}" for e in errors)


def test_report_of_a_run_that_failed_in_part(
    wf: SimpleNamespace, first_run: SimpleNamespace
) -> None:
    """`make report` reports target ``finished``: the experiments that finished, though
    the summary is missing (the default target's report would stop at it)."""
    report = first_run.workdir / "results" / "partial_report.html"
    result = wf.run_snakemake(first_run.workdir, "--cores", "1", "--report", str(report))
    assert result.returncode != 0 and "summary.tsv" in result.stdout + result.stderr
    result = wf.run_snakemake(
        first_run.workdir, "--cores", "1", "--report", str(report), "finished"
    )
    assert result.returncode == 0, _failure(result.stdout + result.stderr)
    text = report.read_text(errors="replace")
    assert "PSF per channel" in text and text.count("psf_info.h5") >= len(GOOD)
    for experiment, channels in GOOD.items():
        assert all(f"{experiment}/figures/{channel}.png" in text for channel in channels)
    report.unlink()


def test_bad_inputs_fail_with_one_clear_line(
    wf: SimpleNamespace, first_run: SimpleNamespace
) -> None:
    errors = wf.error_lines(first_run.output)
    for experiment, words in BAD.items():
        mine = [line for line in errors if f" {experiment}" in line]
        assert mine, f"{experiment}: no error line\n" + _failure(first_run.output)
        for line in mine:  # one per failed job (both halves of bad_odd_split fail)
            for word in words:
                assert word in line, f"{experiment}: {word!r} not in {line!r}"


def test_nothing_partial_remains(first_run: SimpleNamespace) -> None:
    for name in BAD:
        assert f"{name}/psf_info.h5" not in first_run.results
        assert f"{name}/on_time.npz" not in first_run.results
        assert not any(path.startswith(f"{name}/figures") for path in first_run.results)
    leftovers = [
        p
        for p in first_run.results
        if (Path(p).name.startswith(".") or ".part" in p)
        and Path(p).name != ".snakemake_timestamp"  # Snakemake's mark of a directory output
    ]
    assert leftovers == []


def test_info_file_layout(first_run: SimpleNamespace) -> None:
    path = first_run.workdir / "results" / "good_a" / "psf_info.h5"
    with h5py.File(path, "r") as handle:
        assert set(handle.keys()) == {"green", "red", TEMPORAL_AVERAGE}
        assert handle.attrs["smlmlp_version"]
        datetime.fromisoformat(handle.attrs["created"])
        config = json.loads(handle.attrs["config"])
        assert config["crop_pix"] == 31 and config["experiment"] == "good_a"
        group = handle["red"]
        assert set(ARRAY_NAMES) <= set(group.keys())
        assert group["ac"].shape == group["psf"].shape == (31, 31)
        for attribute in ("sigx_nm", "sigy_nm", "theta_deg", "psf_sigma_nm", "n_frames"):
            assert attribute in group.attrs
        assert tuple(group.attrs["pixel_nm"]) == (100.0, 100.0)
        assert group.attrs["n_frames"] == N_FRAMES
        assert [Path(f).name for f in group.attrs["source_files"]] == ["red.tif"]
        size = (first_run.workdir / "experiments" / "good_a" / "red.tif").stat().st_size
        assert list(group.attrs["source_sizes_bytes"]) == [size]
        assert "channels.red.pixel_nm" in group.attrs["pixel_nm_origin"]
        assert group.attrs["exposure_ms"] == 25


def test_info_file_temporal_layout(first_run: SimpleNamespace) -> None:
    path = first_run.workdir / "results" / "good_a" / "psf_info.h5"
    with h5py.File(path, "r") as handle:
        for name in ("green", "red", TEMPORAL_AVERAGE):
            group = handle[name if name == TEMPORAL_AVERAGE else f"{name}/temporal"]
            assert set(group.keys()) == set(TEMPORAL_ARRAYS), name
            lags = group["lags"][()]
            np.testing.assert_array_equal(lags, np.arange(1, TEMPORAL_LAGS + 1))
            np.testing.assert_allclose(group["time_ms"][()], lags * 25.0)
            assert group["ac"].shape == group["fit"].shape == (TEMPORAL_LAGS,)
            assert np.all(np.isfinite(group["fit"][()])) and group.attrs["valid"]
            assert group.attrs["crop_fr"] == TEMPORAL_LAGS
            assert group.attrs["exposure_ms"] == 25.0
            assert group.attrs["on_time_ms"] == pytest.approx(group.attrs["on_time_frames"] * 25.0)
        assert handle["red/temporal"].attrs["background_psf_sigma_origin"] == "psf step"
        assert handle["red/temporal"].attrs["background_psf_sigma_nm"] == pytest.approx(
            handle["red"].attrs["psf_sigma_nm"]
        )
        assert list(handle[TEMPORAL_AVERAGE].attrs["channels"]) == ["green", "red"]
        average = handle[TEMPORAL_AVERAGE]
        np.testing.assert_allclose(
            average["ac"][()], (handle["green/temporal/ac"][()] + handle["red/temporal/ac"][()]) / 2
        )
        assert handle.attrs["on_time_ms"] == average.attrs["on_time_ms"]
        assert handle.attrs["on_time_frames"] == average.attrs["on_time_frames"]


@pytest.mark.parametrize("experiment", sorted(GOOD))
def test_on_time_matches_the_simulation(first_run: SimpleNamespace, experiment: str) -> None:
    """The experiment's on-time within 10 % of correlation_time_frames x exposure_ms."""
    truth = yaml.safe_load(
        (first_run.workdir / "experiments" / experiment / "truth.yaml").read_text()
    )
    info = read_info(first_run.workdir / "results" / experiment / "psf_info.h5")
    assert info.temporal is not None
    correlation = truth["correlation_time_frames"]
    expected = float(np.mean(list(correlation.values()))) * truth["exposure_ms"]
    assert info.temporal.exposure_ms == truth["exposure_ms"]
    # with its standard error (jackknife over groups of frames)
    assert 0 < info.attrs["on_time_ms_se"] < 0.2 * info.attrs["on_time_ms"]
    assert info.attrs["on_time_ms"] == pytest.approx(expected, rel=0.10)
    for channel, curve in info.temporal.channels.items():
        assert curve.on_time_ms == pytest.approx(
            correlation[channel] * truth["exposure_ms"], rel=0.10
        ), channel


@pytest.mark.parametrize("experiment", sorted(GOOD))
def test_sigmas_match_the_simulation(first_run: SimpleNamespace, experiment: str) -> None:
    info = read_info(first_run.workdir / "results" / experiment / "psf_info.h5")
    assert list(info.channels) == sorted(GOOD[experiment])
    for name, truth in GOOD[experiment].items():
        channel = info.channels[name]
        assert channel.valid
        # axis-aligned truth: sigx is the x width, theta near 0 (in (-45, 45])
        found = [channel.sigx_nm, channel.sigy_nm]
        np.testing.assert_allclose(found, truth, rtol=0.05, err_msg=f"{experiment}/{name}")
        assert channel.qc in ("valid", "warn") and channel.psf_sigma_nm_se > 0


def test_precedence_experiment_yaml_then_file_then_config(first_run: SimpleNamespace) -> None:
    info = read_info(first_run.workdir / "results" / "good_b" / "psf_info.h5")
    for name, channel in info.channels.items():
        # the file's pixel size wins over the config's default
        assert channel.pixel_nm == pytest.approx((100.0, 100.0))
        assert channel.attrs["pixel_nm_origin"] == "movie file metadata"
        assert channel.attrs["split"] == "horizontal"
        # so does the exposure, which turns the on-time into ms; experiment.yaml wins
        assert channel.attrs["exposure_ms"] == EXPOSURE_MS["good_b"]
        origin = channel.attrs["exposure_ms_origin"]
        if name == "cam_right":
            assert "experiment.yaml (channels.cam_right.exposure_ms)" in origin
        else:
            assert origin == "movie file metadata"
        assert info.temporal.channels[name].exposure_ms == EXPOSURE_MS["good_b"]


def test_progress_is_logged(first_run: SimpleNamespace) -> None:
    log = (_logs(first_run) / "autocorr" / "good_a" / "green.log").read_text()
    assert re.search(rf"{N_FRAMES}/{N_FRAMES} frames \(100 %\), \d+ frames/s", log), log
    # the on-time reads both movies twice
    log = (_logs(first_run) / "on_time" / "good_a.log").read_text()
    total = 2 * 2 * N_FRAMES
    assert re.search(rf"{total}/{total} frames \(100 %\), \d+ frames/s", log), log
    assert re.search(r"on-time \d+\.\d+ frames \(curve averaged over 2 channel", log), log
    info_log = (_logs(first_run) / "info" / "good_a.log").read_text()
    assert re.search(r"on-time \d+\.\d+ ms \(\d+\.\d+ frames x 25 ms exposure\)", info_log)
    failed = (_logs(first_run) / "autocorr" / "bad_text" / "movie.log").read_text()
    assert "not a TIFF" in failed.splitlines()[-1]
    # a constant movie fails at its PSF, as in the library and the command (one check)
    failed = (_logs(first_run) / "psf" / "bad_constant" / "movie.log").read_text()
    assert "does not change" in failed.splitlines()[-1]
    assert not (_logs(first_run) / "on_time" / "bad_constant.log").exists()


# --------------------------------------------------------------- repeated runs
def test_summary_once_every_experiment_is_good(completed: SimpleNamespace) -> None:
    assert completed.result.returncode == 0, _failure(completed.output)
    rows = read_summary(completed.workdir / "results" / "summary.tsv")
    header = (completed.workdir / "results" / "summary.tsv").read_text().splitlines()[0]
    assert tuple(header.split("\t")) == SUMMARY_COLUMNS
    assert SUMMARY_COLUMNS[-4:-2] == ("on_time_ms", "on_time_ms_se")  # after the PSF columns
    assert sorted((r["experiment"], r["channel"]) for r in rows) == sorted(
        (e, c) for e, channels in GOOD.items() for c in channels
    )
    for row in rows:
        info = read_info(completed.workdir / "results" / row["experiment"] / "psf_info.h5")
        assert row["on_time_ms"] == pytest.approx(info.attrs["on_time_ms"], abs=0.006)
    assert (completed.workdir / "results" / "summary.png").stat().st_size > 1000
    # the run ends with the summary's table in the terminal, as the table of the file
    printed = completed.result.stdout.splitlines()
    start = printed.index(f"smlmLP: {Path('results') / 'summary.tsv'}")
    table = format_summary_table(rows).splitlines()
    assert printed[start + 1 : start + 1 + len(table)] == table
    assert [line.split()[:2] for line in printed[start + 2 : start + 2 + len(rows)]] == [
        [row["experiment"], row["channel"]] for row in rows
    ]
    assert all(line.endswith(" ms") for line in printed[start + 2 : start + 2 + len(rows)])
    # the heavy pass was not repeated
    for path, mtime in completed.before.items():
        assert path.stat().st_mtime_ns == mtime


def test_rerun_without_change_does_nothing(wf: SimpleNamespace, completed: SimpleNamespace) -> None:
    result = wf.run_snakemake(completed.workdir, "-n", "--cores", "2")
    assert result.returncode == 0, _failure(result.stdout + result.stderr)
    assert "Nothing to be done" in result.stdout + result.stderr


def test_crop_change_reruns_psf_not_autocorr(
    wf: SimpleNamespace, completed: SimpleNamespace
) -> None:
    result = wf.run_snakemake(completed.workdir, "-n", "--cores", "2", "--config", "crop_pix=25")
    output = result.stdout + result.stderr
    assert result.returncode == 0, _failure(output)
    counts = wf.job_counts(output)
    assert counts.get("psf") == 4 and counts.get("info") == 2, counts
    assert "autocorr" not in counts and "on_time" not in counts, counts


def test_temporal_lags_change_reruns_on_time_only(
    wf: SimpleNamespace, completed: SimpleNamespace
) -> None:
    result = wf.run_snakemake(
        completed.workdir, "-n", "--cores", "2", "--config", "temporal_lags=100"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, _failure(output)
    counts = wf.job_counts(output)
    assert counts.get("on_time") == 2 and counts.get("info") == 2, counts
    assert "autocorr" not in counts and "psf" not in counts, counts


def test_report(wf: SimpleNamespace, completed: SimpleNamespace) -> None:
    report = completed.workdir / "results" / "report.html"
    result = wf.run_snakemake(completed.workdir, "--cores", "1", "--report", str(report))
    assert result.returncode == 0, _failure(result.stdout + result.stderr)
    text = report.read_text(errors="replace")
    assert "PSF per channel" in text and "summary.tsv" in text
    # the summary as a table, and every experiment's info file to download
    assert "summary.html" in text and "Info files" in text
    assert text.count("psf_info.h5") >= len(GOOD)


def test_lint(wf: SimpleNamespace, completed: SimpleNamespace) -> None:
    result = wf.run_snakemake(completed.workdir, "--lint")
    output = result.stdout + result.stderr
    assert result.returncode == 0, _failure(output)
    assert "Congratulations" in output


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ("crop_pix=-1", ["crop_pix", "minimum"]),
        ("cuda=maybe", ["cuda", "maybe"]),
        ("crop=31", ["crop", "not a config key"]),
    ],
)
def test_invalid_config_is_one_clear_line(
    wf: SimpleNamespace, completed: SimpleNamespace, setting: str, words: list[str]
) -> None:
    """A bad value given with --config is told as the command line's (not the config
    file's, which does not hold it)."""
    result = wf.run_snakemake(completed.workdir, "-n", "--config", setting)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    key = setting.split("=")[0]
    lines = [line for line in output.splitlines() if line.startswith(f"--config {key}: ")]
    assert len(lines) == 1, _failure(output)
    for word in words:
        assert word in lines[0]


def test_command_line_values_take_the_schemas_types(
    wf: SimpleNamespace, completed: SimpleNamespace
) -> None:
    """Snakemake's --config reads ``[2,2]`` as two words and ``null`` or ``false`` as
    words: each is taken as the schema declares it, as a config file would give it."""
    given = ("field_tiles=[2,2]", "time_windows=2", "exposure_ms=null", "cuda=false")
    result = wf.run_snakemake(completed.workdir, "-n", "--cores", "1", "--config", *given)
    output = result.stdout + result.stderr
    assert result.returncode == 0, _failure(output)
    counts = wf.job_counts(output)  # the tiles and windows are new: the heavy pass reruns
    assert counts.get("autocorr") == 4, counts
    result = wf.run_snakemake(
        completed.workdir, "-n", "--cores", "1", "--config", "field_tiles=null", "cuda=false"
    )
    assert "Nothing to be done" in result.stdout + result.stderr, _failure(result.stdout)


def test_on_time_off_and_on_again(wf: SimpleNamespace, completed: SimpleNamespace) -> None:
    """on_time: false writes info files without temporal data; back on, nothing heavy reruns."""
    workdir = completed.workdir
    path = workdir / "results" / "good_a" / "psf_info.h5"
    target = str(path.relative_to(workdir))
    result = wf.run_snakemake(workdir, "--cores", "2", target, "--config", "on_time=False")
    output = result.stdout + result.stderr
    assert result.returncode == 0, _failure(output)
    assert wf.job_counts(output) == {"info": 1}, wf.job_counts(output)
    with h5py.File(path, "r") as handle:
        assert set(handle.keys()) == {"green", "red"}
        assert "temporal" not in handle["red"]
        assert "on_time_ms" not in handle.attrs and "on_time_frames" not in handle.attrs
        assert json.loads(handle.attrs["config"])["on_time"] is False
    assert np.isnan(read_info(path).summary_rows()[0]["on_time_ms"])
    # on again: the on-time results are still there, only the light steps run
    result = wf.run_snakemake(workdir, "-n", "--cores", "2")
    output = result.stdout + result.stderr
    assert result.returncode == 0, _failure(output)
    counts = wf.job_counts(output)
    assert counts.get("info") == 1 and counts.get("summary") == 1, counts
    assert not {"autocorr", "psf", "on_time"} & set(counts), counts
