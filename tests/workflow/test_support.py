"""What the workflow needs besides the science: discovery, settings, resources, logs."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

import smlmlp_workflow as ws
from smlmlp.infofile import ChannelInfo, TemporalInfo, read_info
from smlmlp.simulation import simulate_movie

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SIMULATION = {"pixel_nm": 100.0, "photons": 2000.0, "background": 20.0, "on_density_per_um2": 0.5}


def _tiff(path: Path, shape: tuple[int, ...] = (4, 8, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, np.zeros(shape, np.uint16), photometric="minisblack")
    return path


def _settings(folder: Path, content: object) -> None:
    (folder / "experiment.yaml").write_text(yaml.safe_dump(content))


# ---------------------------------------------------------------------- discovery
def test_every_tiff_is_a_channel(tmp_path: Path) -> None:
    _tiff(tmp_path / "day1" / "green.tif")
    _tiff(tmp_path / "day1" / "red.TIFF")
    (tmp_path / "day1" / "notes.txt").write_text("ignored")
    _tiff(tmp_path / "day2" / "cell.ome.tif")
    (tmp_path / ".hidden").mkdir()
    experiments = ws.discover_experiments(tmp_path, {"pixel_nm": 100})
    assert list(experiments) == ["day1", "day2"]
    day1 = experiments["day1"]
    assert day1.ok and list(day1.channels) == ["green", "red"]
    assert day1.channels["red"].files == (str(tmp_path / "day1" / "red.TIFF"),)
    assert day1.channels["red"].pixel_nm == ()  # only experiment.yaml's; config's is a default
    assert list(experiments["day2"].channels) == ["cell"]


def test_split_and_named_channels(tmp_path: Path) -> None:
    folder = tmp_path / "e"
    _tiff(folder / "cam.tif")
    _tiff(folder / "dual.tif")
    _settings(
        folder,
        {
            "pixel_nm": [108, 110],
            "split": "horizontal",
            "channels": {
                "green": {"file": "dual.tif", "half": "left"},
                "red": {"file": "dual.tif", "half": 1, "pixel_nm": 107},
                "cam_right": {"exposure_ms": 30},
            },
        },
    )
    experiment = ws.inspect_experiment(folder, config={"pixel_nm": 100, "exposure_ms": 50})
    assert experiment.ok, experiment.problem
    assert sorted(experiment.channels) == ["cam_left", "cam_right", "green", "red"]
    red = experiment.channels["red"]
    assert (red.split, red.half) == ("horizontal", 1)
    assert [value for _, value in red.pixel_nm] == [107, [108, 110]]
    assert "channels.red.pixel_nm" in red.pixel_nm[0][0]
    assert experiment.channels["cam_right"].exposure_ms[0][1] == 30
    assert experiment.channels["green"].half == 0


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ({"pixel_nm": -5}, ["pixel_nm", "positive"]),
        ({"pixel_nm": [1, 2, 3]}, ["pixel_nm", "[y, x]"]),
        ({"pixelnm": 100}, ["unknown key 'pixelnm'"]),
        ({"split": "diagonal"}, ["split", "horizontal"]),
        ({"channels": {"x": {"file": "missing.tif"}}}, ["missing.tif"]),
        ({"channels": {"ghost": {"pixel_nm": 100}}}, ["ghost", "matches no movie file"]),
        ({"split": "vertical", "channels": {"a": {"file": "movie.tif"}}}, ["which half"]),
        ({"channels": {"a": {"half": 0}}}, ["half", "without a split"]),
        ("just text", ["expected a mapping"]),
    ],
)
def test_bad_settings_become_the_experiments_problem(
    tmp_path: Path, content: object, words: list[str]
) -> None:
    folder = tmp_path / "bad"
    _tiff(folder / "movie.tif")
    _settings(folder, content)
    experiment = ws.inspect_experiment(folder)
    assert not experiment.ok and experiment.channels == {}
    assert "experiment.yaml" in experiment.problem
    for word in words:
        assert word in experiment.problem


def test_invalid_yaml_and_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "experiment.yaml").write_text("pixel_nm: [1, 2\n")
    _tiff(tmp_path / "a" / "m.tif")
    (tmp_path / "b").mkdir()
    experiments = ws.discover_experiments(tmp_path)
    assert "not valid YAML" in experiments["a"].problem
    assert "no movie file" in experiments["b"].problem
    assert str(tmp_path / "b") in experiments["b"].problem
    assert "subfolders" not in experiments["b"].problem


def test_folder_of_experiment_folders_says_where_the_movies_are(tmp_path: Path) -> None:
    """A layout one level deeper (date / sample / movies): the date folder's line names
    its subfolders of movies and the experiments_dir that reads them."""
    _tiff(tmp_path / "2024-05-13" / "cell1" / "m.tif")
    _tiff(tmp_path / "2024-05-13" / "cell2" / "m.tif")
    (tmp_path / "2024-05-13" / "notes").mkdir()  # no movies: not named
    (tmp_path / "2024-05-14").mkdir()
    experiments = ws.discover_experiments(tmp_path)
    problem = experiments["2024-05-13"].problem
    assert "no movie file" in problem
    assert "subfolders cell1, cell2 hold movies" in problem
    assert f"experiments_dir={tmp_path / '2024-05-13'}" in problem
    assert "subfolders" not in experiments["2024-05-14"].problem


def test_snapshots_beside_the_movies_are_left_out(tmp_path: Path) -> None:
    """A single image in an experiment folder (a bright-field snapshot) is no channel:
    left out with its reason, named when experiment.yaml names it or when the folder
    holds nothing else."""
    _tiff(tmp_path / "e1" / "cell.tif")
    _tiff(tmp_path / "e1" / "brightfield.tif", (8, 8))
    _tiff(tmp_path / "e1" / "widefield.tif", (1, 8, 8))
    _tiff(tmp_path / "e2" / "bf.tif", (8, 10))
    _tiff(tmp_path / "e3" / "cell.tif")
    _tiff(tmp_path / "e3" / "bf.tif", (8, 8))
    _settings(tmp_path / "e3", {"channels": {"dapi": {"file": "bf.tif"}}})
    experiments = ws.discover_experiments(tmp_path, {"pixel_nm": 100})
    e1 = experiments["e1"]
    assert e1.ok and list(e1.channels) == ["cell"]
    assert e1.left_out == {
        "brightfield.tif": "one image (8 x 8), not a movie",
        "widefield.tif": "one image (8 x 8), not a movie",
    }
    assert experiments["e2"].problem == (
        f"{tmp_path / 'e2'}: no movie file ({ws.discovery.MOVIE_PATTERNS}) in this experiment "
        "folder (bf.tif: one image (8 x 10), not a movie)"
    )
    assert experiments["e3"].problem == (
        f"{tmp_path / 'e3' / 'experiment.yaml'}: channels.dapi.file: bf.tif is one image "
        "(8 x 8), not a movie"
    )
    assert ws.left_out_lines(experiments) == [
        "e1/brightfield.tif: left out: one image (8 x 8), not a movie",
        "e1/widefield.tif: left out: one image (8 x 8), not a movie",
        "e2/bf.tif: left out: one image (8 x 10), not a movie",
        "e3/bf.tif: left out: one image (8 x 8), not a movie",
    ]


def test_hdf5_files_without_a_movie_are_left_out(tmp_path: Path) -> None:
    """Localisations (Picasso's ``_locs.hdf5``) and an info file beside an HDF5 movie
    are no channels; the movie is."""
    import h5py

    from smlmlp.infofile import ChannelInfo, write_info

    folder = tmp_path / "e1"
    folder.mkdir()
    with h5py.File(folder / "movie.h5", "w") as handle:
        handle["frames"] = np.zeros((5, 8, 8), np.uint16)
    with h5py.File(folder / "movie_locs.hdf5", "w") as handle:
        handle["locs"] = np.zeros(3, [("x", "f4"), ("y", "f4")])
    write_info(folder / "psf_info.h5", [ChannelInfo.empty_example()])
    experiment = ws.discover_experiments(tmp_path, {"pixel_nm": 100})["e1"]
    assert experiment.ok and list(experiment.channels) == ["movie"]
    assert experiment.left_out == {
        "movie_locs.hdf5": "an HDF5 file without a movie (its datasets: locs (3,))",
        "psf_info.h5": "a PSF info file written by smlmLP",
    }


def test_results_inside_experiments_dir_are_no_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """results_dir inside experiments_dir (or below a folder of it): that folder is not
    read as an experiment on the next run, however results_dir is written."""
    data = tmp_path / "data"
    _tiff(data / "e1" / "cell.tif")
    _tiff(data / "results" / "e1" / "figures" / "cell.tif")  # any file a run leaves
    _tiff(data / "out" / "run1" / "e1" / "cell.tif")
    monkeypatch.chdir(tmp_path)
    for results in (data / "results", "data/results", "data/../data/results"):
        found = ws.discover_experiments(data, {"results_dir": str(results)})
        assert list(found) == ["e1", "out"], results
    found = ws.discover_experiments(data, {"results_dir": "data/out/run1"})
    assert list(found) == ["e1", "results"]  # a folder above the results is theirs too
    assert list(ws.discover_experiments(data, {"results_dir": "results"})) == [
        "e1",
        "out",
        "results",
    ]


def test_missing_or_empty_experiments_dir(tmp_path: Path) -> None:
    with pytest.raises(ws.SettingsError, match="no such folder"):
        ws.discover_experiments(tmp_path / "nope")
    with pytest.raises(ws.SettingsError, match="no experiment subfolder"):
        ws.discover_experiments(tmp_path)


def test_micromanager_series_is_one_movie(tmp_path: Path) -> None:
    names = [
        "run_MMStack_Pos0.ome.tif",
        "run_MMStack_Pos0_1.ome.tif",
        "run_MMStack_Pos0_2.ome.tif",
        "cell_1.tif",
        "cell.tif",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    groups = ws.group_series(tmp_path, names)
    assert groups["run_MMStack_Pos0.ome.tif"] == [
        "run_MMStack_Pos0.ome.tif",
        "run_MMStack_Pos0_1.ome.tif",
        "run_MMStack_Pos0_2.ome.tif",
    ]
    assert groups["cell.tif"] == ["cell.tif"] and groups["cell_1.tif"] == ["cell_1.tif"]
    experiment = ws.inspect_experiment(tmp_path)
    assert sorted(experiment.channels) == ["cell", "cell_1", "run_MMStack_Pos0"]
    assert len(experiment.channels["run_MMStack_Pos0"].files) == 3
    # every position of the acquisition: tifffile reads them all from any of its files
    more = [
        *names,
        "run_MMStack_Pos1.ome.tif",
        "run_MMStack_Pos1_1.ome.tif",
        "other_MMStack_Pos0.ome.tif",
    ]
    groups = ws.group_series(tmp_path, more)
    assert groups["run_MMStack_Pos0.ome.tif"][3:] == [
        "run_MMStack_Pos1.ome.tif",
        "run_MMStack_Pos1_1.ome.tif",
    ]
    assert groups["other_MMStack_Pos0.ome.tif"] == ["other_MMStack_Pos0.ome.tif"]


def test_ome_references_group_files(tmp_path: Path) -> None:
    xml = (
        '<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
        '<Image ID="Image:0"><Pixels><TiffData><UUID FileName="b.ome.tif">urn:uuid:1</UUID>'
        "</TiffData></Pixels></Image></OME>"
    )
    tifffile.imwrite(
        tmp_path / "a.ome.tif", np.zeros((2, 4, 4), np.uint8), description=xml, metadata=None
    )
    _tiff(tmp_path / "b.ome.tif")
    assert ws.group_series(tmp_path, ["a.ome.tif", "b.ome.tif"]) == {
        "a.ome.tif": ["a.ome.tif", "b.ome.tif"]
    }


# --------------------------------------------------------------------------- demo
def test_demo_layout_matches_its_outputs(tmp_path: Path) -> None:
    experiments = ws.demo_experiments(tmp_path / "demo", {"pixel_nm": 100})
    outputs = set(ws.demo_outputs(tmp_path / "demo"))
    assert len(experiments) == 2
    for experiment in experiments.values():
        assert experiment.ok and len(experiment.channels) == 2
        for channel in experiment.channels.values():
            assert set(channel.files) <= outputs
            assert channel.pixel_nm[0][1] == ws.DEMO_PIXEL_NM


def test_demo_never_writes_among_other_experiments(tmp_path: Path) -> None:
    (tmp_path / "my_experiment").mkdir()
    with pytest.raises(ws.SettingsError, match="demo: false"):
        ws.demo_experiments(tmp_path)


def test_write_demo_small(tmp_path: Path) -> None:
    written = ws.write_demo(tmp_path, n_frames=20)
    assert sorted(str(p) for p in written) == sorted(ws.demo_outputs(tmp_path))
    disk = ws.discover_experiments(tmp_path, {"pixel_nm": 100})
    static = ws.demo_experiments(tmp_path, {"pixel_nm": 100})
    assert {n: e.channels for n, e in disk.items()} == {n: e.channels for n, e in static.items()}
    truth = yaml.safe_load((tmp_path / "2024-05-20" / "truth.yaml").read_text())
    assert truth["channels"]["red"]["sigx_nm"] == 158.0
    assert truth["exposure_ms"] == ws.DEMO_EXPOSURE_MS
    tau = truth["channels"]["red"]["correlation_time_frames"]
    assert truth["correlation_time_frames"] == pytest.approx(tau)
    assert truth["on_time_ms"] == pytest.approx(tau * ws.DEMO_EXPOSURE_MS)


# ------------------------------------------------------------------------- config
def test_check_config_one_line() -> None:
    ws.check_config({"crop_pix": 41, "pixel_nm": [100, 108], "cuda": "auto"}, SCHEMA)
    for config, words in [
        ({"crop_pix": 2}, ["crop_pix", "minimum"]),
        ({"pixel_nm": [100, -1]}, ["pixel_nm"]),
        ({"pixel_nm": "100nm"}, ["pixel_nm"]),
        ({"cuda": "yes"}, ["cuda", "yes"]),
        ({"crop": 3}, ["crop", "not a config key"]),
    ]:
        with pytest.raises(ValueError) as error:
            ws.check_config(config, SCHEMA)
        message = str(error.value)
        assert "\n" not in message and message.startswith("config: ")
        for word in words:
            assert word in message, message
    # named after the file it was read from, or --config where it was given there
    files = ["config/config.yaml"]
    with pytest.raises(ValueError, match=r"^config/config.yaml: config: crop_pix: "):
        ws.check_config({"crop_pix": 2}, SCHEMA, files=files, command_line={"cuda": "auto"})
    with pytest.raises(ValueError, match=r"^--config crop_pix: 2 is less than the minimum"):
        ws.check_config({"crop_pix": 2}, SCHEMA, files=files, command_line={"crop_pix": 2})
    with pytest.raises(ValueError, match=r"^config/config.yaml: config: crop, size: not a "):
        ws.check_config({"crop": 3, "size": 1}, SCHEMA, files=files)


def test_config_file_matches_schema() -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    ws.check_config(config, SCHEMA)
    schema = yaml.safe_load(SCHEMA.read_text())
    assert set(config) == set(schema["properties"])  # every key is in the commented file


def test_science_package_does_not_import_the_workflow() -> None:
    """smlmlp stays usable without the workflow: none of its modules loads smlmlp_workflow."""
    import subprocess
    import sys

    package = REPO / "smlmlp"
    for source in package.rglob("*.py"):
        assert "smlmlp_workflow" not in source.read_text(encoding="utf-8"), source
    code = (
        "import importlib, pkgutil, sys, smlmlp\n"
        "for module in pkgutil.walk_packages(smlmlp.__path__, 'smlmlp.'):\n"
        "    importlib.import_module(module.name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('smlmlp_workflow')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "[]"


def test_on_time_defaults_agree_with_the_python_constants() -> None:
    """The schema and config/config.yaml repeat the defaults of the CLI and run_on_time."""
    import inspect

    from smlmlp.blink_temporal_on import DEFAULT_TEMPORAL_LAGS, FALLBACK_PSF_SIGMA_NM
    from smlmlp.cli import build_parser

    properties = yaml.safe_load(SCHEMA.read_text())["properties"]
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in (
        ("temporal_lags", DEFAULT_TEMPORAL_LAGS),
        ("on_time_psf_sigma_nm", FALLBACK_PSF_SIGMA_NM),
    ):
        assert properties[key]["default"] == value, key
        assert config[key] == value, key
    defaults = inspect.signature(ws.run_on_time).parameters
    assert defaults["temporal_lags"].default == DEFAULT_TEMPORAL_LAGS
    assert defaults["fallback_psf_sigma_nm"].default == FALLBACK_PSF_SIGMA_NM
    args = build_parser().parse_args(["psf", "movie.tif", "-o", "out.h5"])
    assert args.temporal_lags == DEFAULT_TEMPORAL_LAGS


def test_resolve_setting_precedence() -> None:
    """experiment.yaml ranks with the command's --pixel-nm: above the file, above config."""
    from smlmlp.config import resolve_setting

    explicit = [["experiment.yaml (channels.red.pixel_nm)", 107], ["experiment.yaml", 108]]
    defaults = [["config (pixel_nm)", 100]]
    assert resolve_setting(explicit, [96, 96], defaults) == (107, explicit[0][0])
    assert resolve_setting(explicit[1:], [96, 96], defaults) == (108, "experiment.yaml")
    assert resolve_setting([], [96, 96], defaults) == ([96, 96], "movie file metadata")
    assert resolve_setting([], None, defaults) == (100, "config (pixel_nm)")
    assert resolve_setting([]) == (None, None)
    assert ws.resolve_cuda(False) is False and ws.resolve_cuda(True) is True


# ---------------------------------------------------------------------- resources
def test_memory_from_frame_size_not_file_size(tmp_path: Path) -> None:
    short = _tiff(tmp_path / "short.tif", (10, 256, 256))
    long = _tiff(tmp_path / "long.tif", (200, 256, 256))
    small = _tiff(tmp_path / "small.tif", (200, 32, 32))
    assert ws.movie_frame_shape(long) == (256, 256)
    assert ws.movie_frame_shape(long, "horizontal") == (256, 128)
    assert ws.autocorr_mem_mb([short]) == ws.autocorr_mem_mb([long])
    assert ws.autocorr_mem_mb([small]) < ws.autocorr_mem_mb([long])
    assert ws.autocorr_mem_mb([long], memory_budget_mb=64) < ws.autocorr_mem_mb([long])
    assert ws.autocorr_mem_mb([long]) >= 500
    assert ws.movie_frame_shape(tmp_path / "missing.tif") is None
    assert ws.autocorr_runtime_min([long]) >= 5


# --------------------------------------------------------------------------- logs
def test_rule_log_turns_errors_into_one_line(tmp_path: Path, capsys) -> None:
    log = tmp_path / "logs" / "step.log"
    with (
        pytest.raises(SystemExit) as exit_info,
        ws.rule_log(log, step="autocorr e/c", subject="data/e/c.tif") as logger,
    ):
        logger.info("working")
        raise ValueError("expected a 3-D stack,\n got 2-D")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ERROR autocorr e/c: data/e/c.tif: expected a 3-D stack, got 2-D"]
    text = log.read_text()
    assert "working" in text and "Traceback" not in text
    assert text.strip().splitlines()[-1].endswith("data/e/c.tif: expected a 3-D stack, got 2-D")


def test_logged_problems_are_this_runs_warnings_and_errors(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    with ws.rule_log(logs / "info" / "day.1.log", step="info day.1") as logger:
        logger.warning("day.1: exposure unknown\nfor channel(s) red")
        logger.info("fine")
    for experiment in ("e2", "e3"):
        with ws.rule_log(
            logs / "psf" / experiment / "red.log", step=f"psf {experiment}/red"
        ) as log:
            log.warning("red: wavelength without NA")
    with (
        pytest.raises(SystemExit),
        ws.rule_log(logs / "psf" / "e3" / "blue.log", step="psf e3/blue"),
    ):
        raise ValueError("the stack does not change")
    with ws.rule_log(logs / "summary.log", step="summary") as logger:
        logger.warning("no channel")
    old = logs / "autocorr" / "e4" / "red.log"  # an earlier run's
    with pytest.raises(SystemExit), ws.rule_log(old, step="autocorr e4/red"):
        raise ValueError("not a TIFF")
    os.utime(old, (1e9, 1e9))
    found = ws.logged_problems(logs, since=1e9 + 1)
    assert found["ERROR"] == [("e3", "psf e3/blue: the stack does not change")]
    assert found["WARNING"] == [
        ("day.1", "day.1: exposure unknown"),  # a message's first line
        ("e2", "red: wavelength without NA"),
        ("e3", "red: wavelength without NA"),  # the same words, another experiment
        ("", "no channel"),
    ]
    assert ws.logged_problems(logs, since=1e9 - 1)["ERROR"][0] == (
        "e4",
        "autocorr e4/red: not a TIFF",
    )
    assert ws.logged_problems(tmp_path / "none", since=0) == {"WARNING": [], "ERROR": []}


def test_rule_log_error_starts_its_own_line_after_an_unfinished_one(tmp_path: Path, capsys) -> None:
    # Snakemake writes a message and its newline in two writes to the shared stderr
    sys.stderr.write("    resources: tmpdir=/tmp")
    with pytest.raises(SystemExit), ws.rule_log(tmp_path / "s.log", step="psf e/c"):
        raise ValueError("the stack does not change from frame to frame")
    err = capsys.readouterr().err.splitlines()
    assert "ERROR psf e/c: the stack does not change from frame to frame" in err, err


def test_rule_log_error_line_and_its_end_are_one_write(tmp_path: Path, monkeypatch) -> None:
    # two writes (the line, then its newline) let Snakemake's next message land
    # between them, at the end of the error line
    writes: list[str] = []

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return super().write(text)

    monkeypatch.setattr(sys, "stderr", Recorder())
    with pytest.raises(SystemExit), ws.rule_log(tmp_path / "s.log", step="psf e/c"):
        raise ValueError("the width is odd")
    assert [w for w in writes if "ERROR" in w] == ["\nERROR psf e/c: the width is odd\n"], writes


def test_rule_log_keeps_tracebacks_of_bugs(tmp_path: Path, capsys) -> None:
    log = tmp_path / "bug.log"
    with pytest.raises(SystemExit), ws.rule_log(log, step="psf e/c"):
        {}["missing"]  # noqa: B018
    assert "Traceback" in log.read_text()
    assert capsys.readouterr().err.strip().count("\n") == 0  # one line


def test_frame_progress(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.progress")
    progress = ws.FrameProgress("e/c", logger, interval_s=3600)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        progress(10, 100)
        progress(20, 100)  # within the interval: silent
        progress(100, 100)  # the end is always logged
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[-1].startswith("e/c: 100/100 frames (100 %),") and "frames/s" in messages[-1]


def test_frame_progress_timing(caplog: pytest.LogCaptureFixture) -> None:
    """With the default interval, a pass reporting every second logs a plain line every
    5 s (never more than 10 s apart) and its end; the rates are those of the clock."""
    now = [100.0]
    logger = logging.getLogger("test.progress.timing")
    progress = ws.FrameProgress("e/c", logger, clock=lambda: now[0])
    logged: list[float] = []
    with caplog.at_level(logging.INFO, logger="test.progress.timing"):
        for second in range(1, 31):  # 20 frames per second, 600 frames in 30 s
            now[0] = 100.0 + second
            before = len(caplog.records)
            progress(20 * second, 600)
            if len(caplog.records) > before:
                logged.append(float(second))
    assert logged == [1.0, 6.0, 11.0, 16.0, 21.0, 26.0, 30.0]
    assert max(b - a for a, b in zip(logged[:-1], logged[1:], strict=True)) <= 10
    messages = [record.getMessage() for record in caplog.records]
    assert messages[1] == "e/c: 120/600 frames (20 %), 20 frames/s, about 24 s left"
    assert messages[-1] == "e/c: 600/600 frames (100 %), 20 frames/s, done"
    assert all("\r" not in message for message in messages)


def test_frame_progress_logs_while_no_frame_gets_done(caplog: pytest.LogCaptureFixture) -> None:
    """In its block, a pass that stalls (a slow disk) still gets a line every interval,
    saying how long it has waited; none once it is done, none after the block."""
    import threading
    import time

    logger = logging.getLogger("test.progress.stall")
    progress = ws.FrameProgress("e/c", logger, interval_s=0.05)
    with caplog.at_level(logging.INFO, logger="test.progress.stall"):
        with progress:
            deadline = time.monotonic() + 5.0  # a first chunk slow to come
            while time.monotonic() < deadline and not caplog.records:
                time.sleep(0.01)
            progress(10, 100)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and not any(
                "no frame done for" in record.getMessage() for record in caplog.records
            ):
                time.sleep(0.01)
            progress(100, 100)
            time.sleep(0.2)  # done: nothing more to tell
            after_done = len(caplog.records)
        assert not any(t.name == "frame-progress" for t in threading.enumerate())
        time.sleep(0.2)
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("e/c: no frame done yet, ") and "after the start" in messages[0]
    stalled = [m for m in messages if "no frame done for" in m]
    assert stalled and stalled[0].startswith("e/c: 10/100 frames (10 %), no frame done for")
    assert messages[after_done - 1] == messages[-1] and messages[-1].endswith("done")
    assert len(messages) == after_done


def test_per_channel_split(tmp_path: Path) -> None:
    folder = tmp_path / "e"
    _tiff(folder / "dual.tif")
    _tiff(folder / "single.tif")
    _settings(
        folder,
        {
            "channels": {
                "top": {"file": "dual.tif", "split": "vertical", "half": "top"},
                "bottom": {"file": "dual.tif", "split": "vertical", "half": "bottom"},
            }
        },
    )
    experiment = ws.inspect_experiment(folder)
    assert experiment.ok, experiment.problem
    assert sorted(experiment.channels) == ["bottom", "single", "top"]
    assert experiment.channels["bottom"].split == "vertical"
    assert experiment.channels["single"].split is None
    _settings(folder, {"channels": {"a": {"file": "single.tif"}, "b": {"file": "single.tif"}}})
    assert "name the same movie" in ws.inspect_experiment(folder).problem


# ------------------------------------------------------------------------ on-time
def _psf_result(folder: Path, name: str, sigma_nm: float = 130.0) -> Path:
    """A channel's psf result as the psf step writes it (NaN sigma: no PSF found)."""
    channel = ChannelInfo.empty_example(name)
    if not np.isfinite(sigma_nm):
        channel.sigx_nm = channel.sigy_nm = channel.theta_deg = np.nan
        channel.valid = False
    return channel.save(folder / f"{name}.npz")


def test_run_on_time_split_movie(tmp_path: Path) -> None:
    """Both halves of one file, each with its own PSF result; curves in frames."""
    left, truth = simulate_movie(1200, (40, 40), seed=7, **SIMULATION)
    right, _ = simulate_movie(1200, (40, 40), seed=8, **SIMULATION)
    movie = tmp_path / "dual.tif"
    tifffile.imwrite(movie, np.concatenate([left, right], axis=2), photometric="minisblack")
    channels = [
        ["a", [str(movie)], None, "horizontal", 0],
        ["b", [str(movie)], None, "horizontal", 1],
    ]
    psf = [_psf_result(tmp_path, "a"), _psf_result(tmp_path, "b", np.nan)]
    logger = logging.getLogger("test.on_time")
    with _logged(logger) as records:
        result = ws.run_on_time(
            channels, psf, tmp_path / "on_time.npz", label="e", temporal_lags=900, logger=logger
        )
    text = "\n".join(records)
    assert list(result.channels) == ["a", "b"]
    assert result.crop_fr == 599  # temporal_lags is capped at half the frames
    assert "temporal_lags 900 is more than half of the 1200 frames" in text
    assert "dual.tif, left half" in text and "dual.tif, right half" in text
    assert "on_time_psf_sigma_nm = 130 nm" in text  # b has no PSF
    assert result.channels["b"].attrs["background_psf_sigma_origin"].startswith("config")
    assert result.on_time_frames == pytest.approx(truth["correlation_time_frames"], rel=0.1)
    assert np.isnan(result.on_time_ms)  # the info step attaches the exposure
    back = TemporalInfo.load(tmp_path / "on_time.npz")
    assert back.on_time_frames == result.on_time_frames
    np.testing.assert_array_equal(back.channels["b"].ac, result.channels["b"].ac)
    # the same two movies as the two channels of one file: the same curves
    both = tmp_path / "both.ome.tif"
    tifffile.imwrite(
        both,
        np.stack([left, right], axis=1),
        metadata={"axes": "TCYX", "Channel": {"Name": ["Cy5", "Cy3"]}},
    )
    channels = [["a", [str(both)], 0, None, None], ["b", [str(both)], 1, None, None]]
    with _logged(logger) as records:
        again = ws.run_on_time(
            channels, psf, tmp_path / "again.npz", label="e", temporal_lags=900, logger=logger
        )
    assert "both.ome.tif, channel Cy3" in "\n".join(records)
    for name in ("a", "b"):
        np.testing.assert_array_equal(again.channels[name].ac, result.channels[name].ac)


def test_run_on_time_without_blinking(tmp_path: Path) -> None:
    """Noise: NaN with the reason in the log. A constant movie: one error naming the file."""
    noise = tmp_path / "noise.tif"
    rng = np.random.default_rng(3)
    tifffile.imwrite(noise, rng.poisson(100, (300, 24, 24)).astype(np.uint16))
    logger = logging.getLogger("test.on_time.noise")
    with _logged(logger) as records:
        result = ws.run_on_time(
            [["n", [str(noise)], None, None, None]],
            [_psf_result(tmp_path, "n")],
            tmp_path / "n_on_time.npz",
            label="e",
            temporal_lags=60,
            logger=logger,
        )
    assert np.isnan(result.on_time_frames) and not result.average.valid
    assert any("WARNING" in r and "channel n (" in r and "noise.tif" in r for r in records)
    assert (tmp_path / "n_on_time.npz").exists()

    constant = tmp_path / "constant.tif"
    tifffile.imwrite(constant, np.full((50, 16, 16), 7, np.uint16))
    with pytest.raises(ValueError, match=r"channel c \(.*constant.tif\): the stack does not"):
        ws.run_on_time(
            [["c", [str(constant)], None, None, None]],
            [_psf_result(tmp_path, "c")],
            tmp_path / "c_on_time.npz",
            label="e",
        )
    assert not (tmp_path / "c_on_time.npz").exists()


def _write_on_time(tmp_path: Path, names: list[str]) -> tuple[list[Path], Path]:
    psf = [_psf_result(tmp_path, name) for name in names]
    on_time = TemporalInfo.example(names, tau=3.0).save(tmp_path / "on_time.npz")
    return psf, on_time


@pytest.mark.parametrize(
    ("exposures", "on_time_ms", "words"),
    [
        ({"a": 20.0, "b": 20.0}, 60.0, ["on-time 60.00 ms (3.000 frames x 20 ms exposure)"]),
        ({"a": 20.0, "b": None}, None, ["exposure unknown for channel(s) b", "3.000 frames"]),
        ({"a": 20.0, "b": 25.0}, None, ["exposures differ (a 20 ms, b 25 ms)"]),
    ],
)
def test_run_info_attaches_the_exposure(
    tmp_path: Path, exposures: dict, on_time_ms: float | None, words: list[str]
) -> None:
    names = list(exposures)
    psf = []
    for name, exposure in exposures.items():
        channel = ChannelInfo.empty_example(name)
        channel.attrs["exposure_ms"] = exposure
        psf.append(channel.save(tmp_path / f"{name}.npz"))
    on_time = TemporalInfo.example(names, tau=3.0).save(tmp_path / "on_time.npz")
    logger = logging.getLogger(f"test.info.{len(words)}")
    with _logged(logger) as records:
        ws.run_info(psf, tmp_path / "i.h5", experiment="e", on_time_path=on_time, logger=logger)
    text = "\n".join(records)
    for word in words:
        assert word in text, text
    info = read_info(tmp_path / "i.h5")
    assert info.temporal.on_time_frames == 3.0
    if on_time_ms is None:
        assert np.isnan(info.attrs["on_time_ms"]) and np.isnan(info.on_time_ms)
    else:
        assert info.attrs["on_time_ms"] == on_time_ms
    assert info.temporal.channels["a"].on_time_ms == 60.0  # a channel's own exposure


def test_run_info_without_on_time_has_no_temporal_data(tmp_path: Path) -> None:
    psf, _ = _write_on_time(tmp_path, ["a"])
    ws.run_info(psf, tmp_path / "i.h5", experiment="e")
    info = read_info(tmp_path / "i.h5")
    assert info.temporal is None and np.isnan(info.on_time_ms)
    assert "on_time_ms" not in info.attrs


def test_on_time_resources(tmp_path: Path) -> None:
    movie = _tiff(tmp_path / "m.tif", (100, 64, 64))
    assert ws.on_time_mem_mb(64) < ws.on_time_mem_mb(1024)
    assert ws.on_time_mem_mb(256) > ws.BASELINE_MEM_MB + 256
    assert ws.on_time_runtime_min([movie, movie]) == ws.autocorr_runtime_min([movie], 2.0)
    experiment = ws.inspect_experiment(tmp_path)
    assert ws.on_time_channels(experiment) == [["m", [str(movie)], None, None, None]]


@contextlib.contextmanager
def _logged(logger: logging.Logger):
    """The messages ``logger`` emits in the block, as 'LEVEL message' lines."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(f"{record.levelname} {record.getMessage()}")

    handler = Collect()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


# --------------------------------------------------------- wavelength, NA, sources
def test_wavelength_and_na_in_experiment_yaml(tmp_path: Path) -> None:
    """Channel entry, then the experiment's value (the config's comes last, in run_psf)."""
    folder = tmp_path / "e"
    _tiff(folder / "red.tif")
    _tiff(folder / "green.tif")
    _settings(
        folder, {"wavelength_nm": 600, "na": 1.4, "channels": {"red": {"wavelength_nm": 670}}}
    )
    experiment = ws.inspect_experiment(folder)
    assert experiment.ok, experiment.problem
    red, green = experiment.channels["red"], experiment.channels["green"]
    assert [value for _, value in red.wavelength_nm] == [670, 600]
    assert "channels.red.wavelength_nm" in red.wavelength_nm[0][0]
    assert [value for _, value in green.wavelength_nm] == [600]
    assert [value for _, value in green.na] == [1.4]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ({"na": 1.8}, ["experiment.yaml: na", "at most 1.7", "1.8"]),
        ({"na": 0}, ["experiment.yaml: na", "positive"]),
        ({"wavelength_nm": "red"}, ["experiment.yaml: wavelength_nm", "'red'"]),
        ({"wavelength_nm": 0.67}, ["experiment.yaml: wavelength_nm", "in nm", "0.67"]),
        ({"channels": {"movie": {"na": 3}}}, ["channels.movie.na", "at most 1.7"]),
    ],
)
def test_bad_wavelength_or_na_is_the_experiments_problem(
    tmp_path: Path, content: object, words: list[str]
) -> None:
    folder = tmp_path / "bad"
    _tiff(folder / "movie.tif")
    _settings(folder, content)
    experiment = ws.inspect_experiment(folder)
    assert not experiment.ok and "\n" not in experiment.problem
    assert str(folder / "experiment.yaml") in experiment.problem
    for word in words:
        assert word in experiment.problem, experiment.problem


def test_wavelength_and_na_in_the_config() -> None:
    ws.check_config({"wavelength_nm": 670, "na": 1.49}, SCHEMA)
    ws.check_config({"wavelength_nm": None, "na": None}, SCHEMA)
    for config, word in [({"na": 1.8}, "na"), ({"wavelength_nm": -5}, "wavelength_nm")]:
        with pytest.raises(ValueError, match=rf"^config: {word}: ") as error:
            ws.check_config(config, SCHEMA)
        assert "\n" not in str(error.value)


def _psf_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """The autocorr step's outputs for a small movie in tmp_path/data/e1/red.tif."""
    from smlmlp.spectra import accumulate_spectrum
    from smlmlp.sums_io import save_sums

    movie, _ = simulate_movie(300, (32, 32), sigx_nm=130.0, seed=3, **SIMULATION)
    save_sums(accumulate_spectrum(movie), tmp_path / "red.npz")
    source = {"files": ["data/e1/red.tif"], "sizes_bytes": [1000], "metadata": {}}
    (tmp_path / "red.json").write_text(json.dumps(source))
    return tmp_path / "red.npz", tmp_path / "red.json"


def test_run_psf_expected_sigma_and_relative_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    spectrum, source = _psf_inputs(tmp_path)
    info = ws.run_psf(
        spectrum,
        source,
        tmp_path / "out.npz",
        channel="red",
        crop_pix=15,
        pixel_nm=[["experiment.yaml (pixel_nm)", 100]],
        wavelength_nm=[["experiment.yaml (channels.red.wavelength_nm)", 670]],
        wavelength_nm_default=600,
        na_default=1.4,
        experiments_dir="data",
    )
    assert info.attrs["wavelength_nm"] == 670 and info.attrs["na"] == 1.4
    assert info.attrs["na_origin"] == "config (na)"
    assert info.expected_sigma_nm == pytest.approx(0.21 * 670 / 1.4)
    assert info.sigma_over_expected == pytest.approx(info.psf_sigma_nm / 100.5)
    assert info.source_files == ("e1/red.tif",)
    assert info.attrs["source_files_relative_to"] == "data"
    assert info.source_paths == ("data/e1/red.tif",)
    ws.run_info([tmp_path / "out.npz"], tmp_path / "i.h5", experiment="e1")
    rows = read_info(tmp_path / "i.h5").summary_rows()
    assert rows[0]["expected_sigma_nm"] == pytest.approx(100.5)
    # unknown NA: no expected sigma, empty cells in the summary, and the log says why
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        plain = ws.run_psf(
            spectrum,
            source,
            tmp_path / "plain.npz",
            channel="red",
            crop_pix=15,
            pixel_nm_default=100,
            wavelength_nm_default=670,
        )
    assert np.isnan(plain.expected_sigma_nm) and plain.source_files == ("data/e1/red.tif",)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "red: wavelength_nm without na: stored, but no expected sigma (0.21 x wavelength / "
        "NA needs both)"
    ]
