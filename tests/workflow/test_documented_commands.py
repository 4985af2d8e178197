"""Every command printed in README.md and config/README.md, run verbatim.

The commands run, in the order a new user meets them, in a copy of the repository's
workflow files (its ``.venv`` linked in), from ``make run`` on the bundled demo to a run
on the user's own folder and its report. One substitution is made: ``/data/2024``, the
documentation's example folder, becomes a small simulated folder. The few commands that
cannot run here are listed in :data:`NOT_RUN_HERE` with the reason and the test that
covers them instead; a command added to the documentation and missing from both lists
fails :func:`test_every_documented_command_is_known`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from smlmlp.infofile import read_info, read_summary

pytestmark = pytest.mark.workflow

REPO = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "config/README.md")
#: The documentation's example data folder, replaced by a simulated one.
EXAMPLE_FOLDER = "/data/2024"

#: Commands that do not run in this test: why, and what tests them instead.
NOT_RUN_HERE = {
    "make test": "runs the test suite this test is part of",
    ".venv/bin/snakemake --profile profiles/slurm": (
        "needs a SLURM cluster: tests/workflow/test_slurm.py starts one as root"
    ),
    ".venv/bin/snakemake --profile profiles/slurm -n": "needs a SLURM cluster (test_slurm.py)",
    ".venv/bin/snakemake --profile profiles/slurm --config experiments_dir=/data/2024 "
    "demo=false": "needs a SLURM cluster (test_slurm.py)",
    ".venv/bin/snakemake --profile profiles/slurm --config frames_per_job=5000": (
        "needs a SLURM cluster (test_slurm.py)"
    ),
    "PYTHONPATH=. python benchmarks/gpu_check.py": (
        "needs a CUDA GPU; its CPU part runs in tests/test_gpu_check.py"
    ),
}


def fenced_blocks(text: str) -> list[tuple[str, list[str]]]:
    r"""The fenced blocks of a Markdown page: (language or "", lines).

    >>> fenced_blocks("text\n```bash\nmake run\n```\n```\nout\n```")
    [('bash', ['make run']), ('', ['out'])]
    """
    blocks: list[tuple[str, list[str]]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            if not inside:
                blocks.append((line[3:].strip(), []))
            inside = not inside
        elif inside:
            blocks[-1][1].append(line)
    return blocks


def documented_commands(text: str) -> list[str]:
    r"""Shell commands of a Markdown page: the lines of its ``bash`` blocks (comments
    and trailing comments dropped) and the ``$ ``-prefixed lines of its other blocks.

    >>> documented_commands("```bash\nmake run   # demo\n# a note\n```\n```\n$ ls\nout\n```")
    ['make run', 'ls']
    """
    commands = []
    for language, lines in fenced_blocks(text):
        for line in lines:
            if language in ("bash", "sh", "shell"):
                command = line.split(" # ", 1)[0].split("  #", 1)[0].strip()
                if command and not command.startswith("#"):
                    commands.append(command)
            elif language != "python" and line.startswith("$ "):
                commands.append(line[2:].strip())
    return commands


def _blocks(text: str, language: str) -> list[str]:
    return ["\n".join(lines) for kind, lines in fenced_blocks(text) if kind == language]


def _output_after(text: str, command: str) -> list[str]:
    """The lines the documentation prints after ``$ command``, up to the block's end."""
    for _, lines in fenced_blocks(text):
        if lines and lines[0] == f"$ {command}":
            return lines[1:]
    raise AssertionError(f"no block starts with $ {command}")


def test_every_documented_command_is_known() -> None:
    run_here = set(_RUN_HERE)
    for doc in DOCS:
        for command in documented_commands((REPO / doc).read_text(encoding="utf-8")):
            assert command in run_here or command in NOT_RUN_HERE, (
                f"{doc}: `{command}` is neither run by this test nor listed in NOT_RUN_HERE"
            )


#: The commands run here, in this order (each as the documentation prints it).
_RUN_HERE = [
    "make run",
    "make setup",
    ".venv/bin/smlmlp psf demo_data/2024-05-13/red.tif demo_data/2024-05-13/green.tif "
    "--pixel-nm 100 -o demo.h5 -q",
    ".venv/bin/smlmlp psf red.tif green.tif --pixel-nm 100 100 --crop-pix 41 -o psf.h5",
    ".venv/bin/snakemake --cores all",
    ".venv/bin/smlmlp export --smap results/2024-05-13/psf_info.h5 --channel red -o red_3dcal.mat",
    "make report",
    ".venv/bin/smlmlp inspect demo.h5",
    ".venv/bin/smlmlp inspect demo_data/2024-05-20/dualview.tif",
    ".venv/bin/snakemake plan --cores 1 --config experiments_dir=/data/2024 pixel_nm=108",
    ".venv/bin/snakemake --cores all --config experiments_dir=/data/2024 pixel_nm=108",
]


@pytest.fixture(scope="module")
def sandbox(wf: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A copy of the workflow's files with the repository's ``.venv``, and a run log."""
    venv = REPO / ".venv"
    if not (venv / "bin" / "snakemake").exists():
        pytest.skip("the documented commands need the .venv that `make setup` creates")
    root = tmp_path_factory.mktemp("clone")
    for name in ("Snakefile", "Makefile", "pyproject.toml"):
        shutil.copy2(REPO / name, root / name)
    # make's stamp files in .venv are newer than this copy: nothing is reinstalled
    os.utime(root / "pyproject.toml", (0, 0))
    for name in ("workflow", "config", "profiles"):
        shutil.copytree(REPO / name, root / name)
    (root / ".venv").symlink_to(venv)
    data = root / "data-2024"
    for seed, experiment in enumerate(("day1", "day2")):
        movie, _ = wf.simulate(400, (64, 64), seed=60 + seed)
        wf.write_tiff(data / experiment / "cell.tif", movie)
    return SimpleNamespace(root=root, data=data, runs={})


def _run(sandbox: SimpleNamespace, command: str) -> subprocess.CompletedProcess[str]:
    """Run one documented command as printed (the example folder replaced)."""
    line = command.replace(EXAMPLE_FOLDER, str(sandbox.data))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    result = subprocess.run(
        shlex.split(line), cwd=sandbox.root, capture_output=True, text=True, env=env, timeout=900
    )
    sandbox.runs[command] = result
    assert result.returncode == 0, f"`{command}` failed:\n{(result.stdout + result.stderr)[-4000:]}"
    return result


def test_make_run_simulates_the_demo_and_finds_its_widths(sandbox: SimpleNamespace) -> None:
    result = _run(sandbox, "make run")
    root = sandbox.root
    assert f"Report:   {root}/results/report.html" in result.stdout
    rows = read_summary(root / "results" / "summary.tsv")
    assert len(rows) == 4
    for row in rows:
        truth_file = root / "demo_data" / row["experiment"] / "truth.yaml"
        truth = yaml.safe_load(truth_file.read_text())["channels"][row["channel"]]
        np.testing.assert_allclose(
            sorted([row["sigx_nm"], row["sigy_nm"]]),
            sorted([truth["sigx_nm"], truth["sigy_nm"]]),
            rtol=0.05,
            err_msg=f"{row['experiment']}/{row['channel']}",
        )
        assert (row["pixel_y_nm"], row["pixel_x_nm"]) == (100.0, 100.0)
    # the blinking on-time: the demo's correlation time x its exposure, within 10 %
    for experiment in ("2024-05-13", "2024-05-20"):
        truth = yaml.safe_load((root / "demo_data" / experiment / "truth.yaml").read_text())
        assert truth["on_time_ms"] == pytest.approx(
            truth["correlation_time_frames"] * truth["exposure_ms"]
        )
        info = read_info(root / "results" / experiment / "psf_info.h5")
        assert info.temporal is not None and info.temporal.exposure_ms == truth["exposure_ms"]
        assert info.attrs["on_time_ms"] == pytest.approx(truth["on_time_ms"], rel=0.10)
        assert [row["on_time_ms"] for row in rows if row["experiment"] == experiment] == [
            pytest.approx(info.attrs["on_time_ms"], abs=0.006)
        ] * 2
    info = read_info(root / "results" / "2024-05-20" / "psf_info.h5")
    assert list(info.channels) == ["green", "red"]
    red = info.channels["red"]
    assert red.source_files == ("2024-05-20/dualview.tif",)  # relative to experiments_dir
    assert red.source_paths == ("demo_data/2024-05-20/dualview.tif",)
    # every output README lists
    for experiment in ("2024-05-13", "2024-05-20"):
        for channel in ("green", "red"):
            assert (root / "results" / experiment / "figures" / f"{channel}.png").exists()
    for name in ("summary.tsv", "summary.png", "summary.html", "run_config.yaml", "report.html"):
        assert (root / "results" / name).is_file(), name
    html = (root / "results" / "summary.html").read_text()
    assert html.count('href="2024-05-13/psf_info.h5"') == 2


def test_commands_on_the_demo(sandbox: SimpleNamespace) -> None:
    if "make run" not in sandbox.runs:
        pytest.skip("needs make run")
    _run(sandbox, "make setup")
    command = _RUN_HERE[2]
    printed = _run(sandbox, command).stdout.strip().splitlines()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert printed == _output_after(readme, command)
    for inspect in (c for c in _RUN_HERE if c.startswith(".venv/bin/smlmlp inspect")):
        shown = _run(sandbox, inspect).stdout.strip().splitlines()
        assert shown == _output_after(readme, inspect), inspect
    for name in ("red.tif", "green.tif"):  # the files the next command names
        shutil.copy(sandbox.root / "demo_data" / "2024-05-13" / name, sandbox.root / name)
    _run(sandbox, _RUN_HERE[3])
    assert list(read_info(sandbox.root / "psf.h5").channels) == ["red", "green"]
    again = _run(sandbox, ".venv/bin/snakemake --cores all")
    assert "Nothing to be done" in again.stdout + again.stderr
    _run(sandbox, _RUN_HERE[5])
    from scipy.io import loadmat

    assert "SXY" in loadmat(sandbox.root / "red_3dcal.mat")


def test_library_examples(sandbox: SimpleNamespace) -> None:
    """The README's and config/README.md's Python examples, in the folder of the demo."""
    if "make run" not in sandbox.runs or not (sandbox.root / "red.tif").exists():
        pytest.skip("needs the demo and red.tif")
    python = str(sandbox.root / ".venv" / "bin" / "python")
    for doc in DOCS:
        code = "\n".join(_blocks((REPO / doc).read_text(encoding="utf-8"), "python"))
        result = subprocess.run(
            [python, "-c", code], cwd=sandbox.root, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"{doc}: {result.stderr[-3000:]}"


def test_own_folder_and_its_report(sandbox: SimpleNamespace) -> None:
    """The user's own folder, then `make report`: the report is that run's."""
    if "make run" not in sandbox.runs:
        pytest.skip("needs make run")
    results = sandbox.root / "results"
    demo_config = (results / "run_config.yaml").read_text()
    plan = _run(sandbox, _RUN_HERE[-2]).stdout
    printed = _output_after((REPO / "README.md").read_text(encoding="utf-8"), _RUN_HERE[-2])
    assert plan.strip().splitlines() == printed  # the README's output, as printed
    assert (results / "run_config.yaml").read_text() == demo_config  # the demo's still
    assert not (results / "day1").exists()
    _run(sandbox, _RUN_HERE[-1])
    rows = read_summary(results / "summary.tsv")
    assert sorted(row["experiment"] for row in rows) == ["day1", "day2"]
    assert {row["pixel_x_nm"] for row in rows} == {108.0}
    config = yaml.safe_load((results / "run_config.yaml").read_text())
    assert config["experiments_dir"] == str(sandbox.data) and config["pixel_nm"] == 108
    _run(sandbox, "make report")
    report = (results / "report.html").read_text(errors="replace")
    assert "day1" in report and "day2" in report and "2024-05-13" not in report


def test_settings_example_is_valid() -> None:
    """config/README.md's experiment.yaml example passes the workflow's checks."""
    from smlmlp_workflow.settings import check_settings

    text = (REPO / "config" / "README.md").read_text(encoding="utf-8")
    (example,) = _blocks(text, "yaml")
    check_settings(yaml.safe_load(example), "config/README.md")
