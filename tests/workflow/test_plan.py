"""`snakemake plan`: what a run would analyse, told before anything is measured, and
the same pixel sizes and exposures (with their origins) as the run then uses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from smlmlp.infofile import read_info

pytestmark = pytest.mark.workflow


def _experiments(wf: SimpleNamespace, root: Path) -> None:
    movie, _ = wf.simulate(300, (32, 32), seed=5)
    wf.write_tiff(root / "e1" / "red.tif", movie, ome_pixel_nm=108.0, ome_exposure_ms=30.0)
    wf.write_tiff(root / "e1" / "green.tif", movie)
    wf.write_yaml(root / "e1" / "experiment.yaml", {"channels": {"green": {"pixel_nm": 96}}})
    wf.write_tiff(root / "e2" / "dual.tif", np.concatenate([movie, movie], axis=2))
    wf.write_yaml(
        root / "e2" / "experiment.yaml", {"split": "horizontal", "pixel_nm": 104, "exposure_ms": 15}
    )
    wf.write_tiff(root / "e3" / "cut.tif", movie)
    cut = root / "e3" / "cut.tif"
    cut.write_bytes(cut.read_bytes()[:3000])
    (root / "e4").mkdir()
    wf.write_tiff(root / "e5" / "short.tif", movie[:50])  # under the config's min_frames
    wf.write_tiff(root / "e6" / "small.tif", movie[:, :16, :16])  # smaller than the crop


def _rows(output: str) -> dict[tuple[str, str], list[str]]:
    """``(experiment, channel) -> [movie, frames, pixel, exposure]`` of the printed table
    (its lines from the header to the blank line before the summary)."""
    lines = output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("experiment  channel"))
    header, table = lines[first], lines[first + 1 : lines.index("", first)]
    starts = [header.index(column) for column in ("movie", "frames", "pixel y x", "exposure")]
    rows = {}
    for line in table:
        experiment, channel = line.split()[:2]
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows[(experiment, channel)] = cells
    return rows


def test_plan_tells_what_a_run_would_do_and_the_run_does_it(
    wf: SimpleNamespace, tmp_path: Path
) -> None:
    _experiments(wf, tmp_path / "experiments")
    wf.write_config(tmp_path, pixel_nm=100, crop_pix=21, on_time=False)
    result = wf.run_snakemake(tmp_path, "--cores", "1", "plan")
    output = result.stdout
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _rows(output)
    yaml_1 = str(Path("experiments") / "e1" / "experiment.yaml")
    yaml_2 = str(Path("experiments") / "e2" / "experiment.yaml")
    assert rows[("e1", "red")] == [
        "e1/red.tif", "300 of 32 x 32", "108 108 from movie file metadata",
        "30 from movie file metadata",
    ]  # fmt: skip
    assert rows[("e1", "green")] == [
        "e1/green.tif", "300 of 32 x 32", f"96 96 from {yaml_1} (channels.green.pixel_nm)",
        "none",
    ]  # fmt: skip
    for half in ("left", "right"):
        assert rows[("e2", f"dual_{half}")] == [
            f"e2/dual.tif [{half} half]", "300 of 32 x 32", f"104 104 from {yaml_2} (pixel_nm)",
            f"15 from {yaml_2} (exposure_ms)",
        ]  # fmt: skip
    assert rows[("e3", "cut")][1:3] == ["?", "100 100 from config (pixel_nm)"]
    summary, *problems = output.split("\n\n", 1)[1].strip().splitlines()
    assert summary == "7 channel(s) in 5 experiment(s); 4 problem(s):"
    assert problems[0].startswith("e3/cut: ") and "cut.tif" in problems[0]
    assert "truncated" in problems[0]
    assert problems[1].startswith("e4: ") and "no movie file" in problems[1]
    assert problems[2].startswith("e5/short: ") and "50 frame(s), at least 100" in problems[2]
    assert problems[3].startswith("e6/small: e6/small (") and problems[3].endswith(
        "small.tif): frames of 16x16 pixels are smaller than the 21x21 crop; lower crop_pix"
    )
    # nothing measured, the last run's config kept; the plan kept in the log
    results = tmp_path / "results"
    assert sorted(p.name for p in results.iterdir()) == ["logs"]
    plan_log = (results / "logs" / "plan.log").read_text()
    assert plan_log.splitlines()[0].startswith("experiment  channel")
    assert plan_log.strip() in output

    # the run uses what the plan said
    targets = [f"results/{name}/psf_info.h5" for name in ("e1", "e2", "e5", "e6")]
    result = wf.run_snakemake(tmp_path, "--cores", "2", "--keep-going", *targets)
    assert result.returncode != 0  # e5 and e6 fail, in the words of the plan
    assert problems[2].split(": ", 1)[1] in result.stdout + result.stderr
    assert "e6/small (" in result.stdout + result.stderr
    assert problems[3].split("small.tif): ", 1)[1] in result.stdout + result.stderr
    assert (results / "run_config.yaml").exists()
    for experiment in ("e1", "e2"):
        info = read_info(results / experiment / "psf_info.h5")
        for name, channel in info.channels.items():
            movie, frames, pixel, exposure = rows[(experiment, name)]
            pixel_y, pixel_x = channel.pixel_nm
            assert pixel == (
                f"{pixel_y:g} {pixel_x:g} from {channel.attrs['pixel_nm_origin']}"
            ), name
            if channel.attrs.get("exposure_ms") is None:  # not stored when unknown
                assert exposure == "none"
            else:
                assert exposure == (
                    f"{channel.attrs['exposure_ms']:g} from {channel.attrs['exposure_ms_origin']}"
                )
