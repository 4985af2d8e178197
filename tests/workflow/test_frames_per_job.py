"""One movie across many jobs (frames_per_job): the same numbers as one job per movie.

The block sums are sums over frames. Every job sums each block's frames in the same
fixed sub-batches, whatever its chunks and workers, and the ranges hold whole groups of
blocks, so the merged sums are the bits of one job over the whole movie: the tests ask
for equality.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import tifffile

import smlmlp_workflow as ws
from smlmlp.block_sums import plan_blocks
from smlmlp.sums_io import load_sums

pytestmark = pytest.mark.workflow

CHUNK_FRAMES = 50
FRAMES_PER_JOB = 200
#: experiment -> {channel: frames}; 430 frames end with a short range
MOVIES = {"split_a": {"green": 430, "red": 500}, "split_b": {"cam_left": 400, "cam_right": 400}}
#: fields of the source records that differ between one job and merged ranges
RUN_FIELDS = {"seconds", "frame_ranges"}


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def _record(path: Path) -> dict:
    return json.loads(path.read_text())


# ============================================================================ the pieces
def test_ranges_hold_whole_groups() -> None:
    # 1000 frames: groups of 40
    assert ws.plan_frame_ranges(1000, 230) == [
        (0, 200),
        (200, 400),
        (400, 600),
        (600, 800),
        (800, 1000),
    ]
    assert ws.plan_frame_ranges(1000, 0) == [(0, 1000)]
    # 3500 frames: groups of 160, at least one per job
    expected = [(start, min(start + 160, 3500)) for start in range(0, 3500, 160)]
    assert ws.plan_frame_ranges(3500, 10) == expected
    assert ws.plan_frame_ranges(30, 200) == [(0, 30)]
    for n_frames, per_job, windows in [(50_000, 5000, 1), (50_000, 5000, 4), (1001, 100, 1)]:
        ranges = ws.plan_frame_ranges(n_frames, per_job, time_windows=windows)
        assert ranges[0][0] == 0 and ranges[-1][1] == n_frames
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
        group = plan_blocks(n_frames, windows)[1]
        assert all(start % group == 0 for start, _ in ranges)


def test_range_labels() -> None:
    for frames in [(0, 200), (400, 430), None]:
        assert ws.parse_frame_range(ws.frame_range_label(frames)) == frames
    for bad in ["200-100", "5", "a-b", "0-0"]:
        with pytest.raises(ValueError, match="frame range"):
            ws.parse_frame_range(bad)


def test_frame_count_from_the_header(wf: SimpleNamespace, tmp_path: Path) -> None:
    path = tmp_path / "movie.tif"
    wf.write_tiff(path, wf.noise_movie(37, (8, 8)))
    assert ws.movie_frame_count([str(path)]) == 37
    (tmp_path / "text.tif").write_text("not an image")
    assert ws.movie_frame_count([str(tmp_path / "text.tif")]) is None
    assert ws.movie_frame_count([str(tmp_path / "missing.tif")]) is None
    two = tmp_path / "two.ome.tif"  # a file of two channels: the frames of one
    tifffile.imwrite(two, np.zeros((37, 2, 8, 8), np.uint16), metadata={"axes": "TCYX"})
    assert ws.movie_frame_count([str(two)], 1) == 37
    assert ws.movie_frame_count([str(two)]) is None  # which channel? its job says


def _run_ranges(
    files: list[str], folder: Path, n_frames: int, *, split: str | None = None, half: int = 0
) -> tuple[list[Path], list[Path]]:
    spectra, sources = [], []
    for start, stop in ws.plan_frame_ranges(n_frames, FRAMES_PER_JOB):
        spectra.append(folder / f"frames_{start}-{stop}.npz")
        sources.append(folder / f"frames_{start}-{stop}.json")
        ws.run_autocorr(
            files,
            spectra[-1],
            sources[-1],
            label="e/c",
            split=split,
            half=half if split else None,
            chunk_frames=CHUNK_FRAMES,
            frames=(start, stop),
        )
    return spectra, sources


@pytest.mark.parametrize("split", [None, "horizontal"])
def test_merged_ranges_equal_one_job(
    wf: SimpleNamespace, tmp_path: Path, split: str | None
) -> None:
    movie, _ = wf.simulate(430, (32, 64) if split else (32, 32), seed=8)
    path = tmp_path / "movie.tif"
    wf.write_tiff(path, movie)
    half = 1 if split else None
    whole = ws.run_autocorr(
        [str(path)],
        tmp_path / "whole.npz",
        tmp_path / "whole.json",
        label="e/c",
        split=split,
        half=half,
        chunk_frames=CHUNK_FRAMES,
    )
    spectra, sources = _run_ranges([str(path)], tmp_path / "parts", 430, split=split, half=1)
    assert len(spectra) == 3
    merged = ws.merge_autocorr(
        spectra[::-1], sources[::-1], tmp_path / "merged.npz", tmp_path / "merged.json", label="e/c"
    )
    assert {k: v for k, v in merged.items() if k not in RUN_FIELDS} == {
        k: v for k, v in whole.items() if k not in RUN_FIELDS
    }
    assert merged["frame_ranges"] == [[0, 200], [200, 400], [400, 430]]
    assert _record(tmp_path / "merged.json") == merged
    one = load_sums(tmp_path / "whole.npz")
    parts = load_sums(tmp_path / "merged.npz")
    assert parts.total_frames == one.total_frames == 430
    np.testing.assert_array_equal(parts.autocorrelation(21), one.autocorrelation(21))
    np.testing.assert_array_equal(parts.ac_sums, one.ac_sums)
    for name in ("first_frames", "n_frames", "dof"):
        assert np.array_equal(getattr(parts, name), getattr(one, name))


def test_merge_refuses_ranges_that_do_not_fit(wf: SimpleNamespace, tmp_path: Path) -> None:
    path = tmp_path / "movie.tif"
    wf.write_tiff(path, wf.noise_movie(430, (16, 16)))
    spectra, sources = _run_ranges([str(path)], tmp_path / "parts", 430)
    out = (tmp_path / "m.npz", tmp_path / "m.json")
    with pytest.raises(ValueError, match="do not tile the movie: .*starts at frame 400"):
        ws.merge_autocorr([spectra[0], spectra[2]], [sources[0], sources[2]], *out, label="x")
    with pytest.raises(ValueError, match="end at frame 400, the movie has 430"):
        ws.merge_autocorr(spectra[:2], sources[:2], *out, label="x")
    record = _record(sources[1])
    record["sizes_bytes"] = [1]
    sources[1].write_text(json.dumps(record))
    with pytest.raises(ValueError, match="sizes_bytes .* differs .*the movie changed"):
        ws.merge_autocorr(spectra, sources, *out, label="x")
    assert not out[0].exists() and not out[1].exists()


def test_a_range_beyond_the_movie_is_one_clear_error(wf: SimpleNamespace, tmp_path: Path) -> None:
    path = tmp_path / "movie.tif"
    wf.write_tiff(path, wf.noise_movie(120, (16, 16)))
    with pytest.raises(ValueError, match="frames 100-200 asked for, the movie has 120"):
        ws.run_autocorr(
            [str(path)], tmp_path / "a.npz", tmp_path / "a.json", label="x", frames=(100, 200)
        )


# ========================================================================= the workflow
def _write_experiments(wf: SimpleNamespace, root: Path) -> None:
    green, _ = wf.simulate(430, sigx_nm=125.0, seed=41)
    red, _ = wf.simulate(500, sigx_nm=150.0, sigy_nm=140.0, seed=42)
    wf.write_tiff(root / "split_a" / "green.tif", green)
    wf.write_tiff(root / "split_a" / "red.tif", red)
    wf.write_yaml(root / "split_a" / "experiment.yaml", {"pixel_nm": 100})
    left, _ = wf.simulate(400, sigx_nm=130.0, seed=43)
    right, _ = wf.simulate(400, sigx_nm=145.0, sigy_nm=135.0, seed=44)
    wf.write_tiff(
        root / "split_b" / "cam.ome.tif", np.concatenate([left, right], axis=2), ome_pixel_nm=100.0
    )
    wf.write_yaml(root / "split_b" / "experiment.yaml", {"split": "horizontal"})


@pytest.fixture(scope="module")
def runs(wf: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The same experiments with one job per movie and with frames_per_job."""
    root = tmp_path_factory.mktemp("frames_per_job")
    _write_experiments(wf, root / "experiments")
    settings = {"experiments_dir": str(root / "experiments"), "chunk_frames": CHUNK_FRAMES}
    whole, split = root / "whole", root / "split"
    for workdir, frames_per_job in ((whole, 0), (split, FRAMES_PER_JOB)):
        workdir.mkdir()
        wf.write_config(workdir, frames_per_job=frames_per_job, **settings)
    info = [f"results/{name}/psf_info.h5" for name in MOVIES]
    one_job = wf.run_snakemake(whole, "--cores", "2", *info)
    assert one_job.returncode == 0, (one_job.stdout + one_job.stderr)[-6000:]
    result = wf.run_snakemake(split, "--cores", "2")
    return SimpleNamespace(
        whole=whole, split=split, result=result, output=result.stdout + result.stderr
    )


def _failure(runs: SimpleNamespace) -> str:
    return f"snakemake output:\n{runs.output[-6000:]}"


def test_one_job_per_range_and_a_merge_per_channel(
    wf: SimpleNamespace, runs: SimpleNamespace
) -> None:
    assert runs.result.returncode == 0, _failure(runs)
    counts = wf.job_counts(runs.output)
    # 430 and 500 frames: 3 ranges each; 400 frames: 2 per camera half
    assert counts.get("autocorr") == 3 + 3 + 2 + 2, counts
    assert counts.get("autocorr_merge") == 4, counts
    # the on-time stays one job per experiment
    assert counts.get("on_time") == len(MOVIES), counts
    for experiment, channels in MOVIES.items():
        for channel, n_frames in channels.items():
            expected = ws.plan_frame_ranges(n_frames, FRAMES_PER_JOB)
            record = _record(runs.split / "results" / experiment / "autocorr" / f"{channel}.json")
            assert record["frame_ranges"] == [list(r) for r in expected]
            logs = runs.split / "results" / "logs" / "autocorr" / experiment / f"{channel}.parts"
            for start, stop in expected:
                log = (logs / f"frames_{start}-{stop}.log").read_text()
                assert re.search(rf"frames {start}-{stop} of {n_frames} frames", log), log
                assert f"{stop - start}/{stop - start} frames (100 %)" in log, log
    # the partial sums are temporary
    results = runs.split / "results"
    left = [p for p in results.rglob("*.parts*") if "logs" not in p.relative_to(results).parts]
    assert not left, _failure(runs)


def test_same_numbers_as_one_job_per_movie(runs: SimpleNamespace) -> None:
    assert runs.result.returncode == 0, _failure(runs)
    for experiment, channels in MOVIES.items():
        for channel, n_frames in channels.items():
            folder = Path("results") / experiment / "autocorr"
            one = load_sums(runs.whole / folder / f"{channel}.npz")
            merged = load_sums(runs.split / folder / f"{channel}.npz")
            assert merged.total_frames == one.total_frames == n_frames
            np.testing.assert_array_equal(merged.autocorrelation(31), one.autocorrelation(31))
            whole_record = _record(runs.whole / folder / f"{channel}.json")
            split_record = _record(runs.split / folder / f"{channel}.json")
            for key in set(whole_record) | set(split_record):
                if key not in RUN_FIELDS:
                    assert split_record.get(key) == whole_record.get(key), key
        whole_h5 = runs.whole / "results" / experiment / "psf_info.h5"
        split_h5 = runs.split / "results" / experiment / "psf_info.h5"
        with h5py.File(whole_h5, "r") as whole, h5py.File(split_h5, "r") as split:
            for channel in channels:
                ac = whole[channel]["ac"][()]
                np.testing.assert_array_equal(split[channel]["ac"][()], ac)
                for attr in ("sigx_nm", "sigy_nm", "theta_deg", "psf_sigma_nm_se"):
                    assert split[channel].attrs[attr] == whole[channel].attrs[attr], attr
                for attr in ("n_frames", "source_files", "source_sizes_bytes", "pixel_nm"):
                    np.testing.assert_array_equal(
                        split[channel].attrs[attr], whole[channel].attrs[attr]
                    )
                temporal_ac = whole[channel]["temporal/ac"][()]
                np.testing.assert_array_equal(split[channel]["temporal/ac"][()], temporal_ac)
            assert split.attrs["on_time_frames"] == whole.attrs["on_time_frames"]


def test_unknown_exposure_gives_the_on_time_in_frames(runs: SimpleNamespace) -> None:
    """No exposure anywhere: on_time_ms is NaN, on_time_frames is found, the log says why."""
    assert runs.result.returncode == 0, _failure(runs)
    for experiment in MOVIES:
        with h5py.File(runs.split / "results" / experiment / "psf_info.h5", "r") as handle:
            assert np.isnan(handle.attrs["on_time_ms"])
            assert 2.5 < handle.attrs["on_time_frames"] < 3.5  # the simulation's 2.94
            for channel in MOVIES[experiment]:
                temporal = handle[channel]["temporal"]
                assert np.isnan(temporal.attrs["exposure_ms"])
                assert np.all(np.isnan(temporal["time_ms"][()]))
        log = (runs.split / "results" / "logs" / "info" / f"{experiment}.log").read_text()
        assert "exposure unknown" in log and "on_time_ms is NaN" in log, log


def test_rerun_does_nothing(wf: SimpleNamespace, runs: SimpleNamespace) -> None:
    assert runs.result.returncode == 0, _failure(runs)
    again = wf.run_snakemake(runs.split, "-n", "--cores", "2")
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout + again.stderr


def test_bad_movies_fail_with_one_clear_line(wf: SimpleNamespace, tmp_path: Path) -> None:
    """An unreadable movie is one job over the whole file, which says what is wrong."""
    root = tmp_path / "experiments"
    truncated = root / "bad_truncated" / "movie.tif"
    wf.write_tiff(truncated, wf.noise_movie(300, (32, 32)))
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) * 6 // 10])
    wf.write_yaml(root / "bad_truncated" / "experiment.yaml", {"pixel_nm": 100})
    wf.write_tiff(root / "bad_short" / "movie.tif", wf.noise_movie(20, (32, 32)))
    wf.write_yaml(root / "bad_short" / "experiment.yaml", {"pixel_nm": 100})
    wf.write_config(tmp_path, experiments_dir="experiments", frames_per_job=10, crop_pix=15)
    result = wf.run_snakemake(tmp_path, "--cores", "2", "--keep-going")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    errors = [line for line in wf.error_lines(output) if line.startswith("ERROR autocorr ")]
    truncated_lines = [line for line in errors if "bad_truncated" in line]
    short_lines = [line for line in errors if "bad_short" in line]
    assert len(truncated_lines) == 1 and "truncated" in truncated_lines[0], errors
    assert len(short_lines) == 1 and "20 frame(s)" in short_lines[0], errors
