"""Helpers of the end-to-end workflow tests: tiny simulated experiments, running Snakemake."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import tifffile
import yaml

from smlmlp.simulation import simulate_movie

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"

#: Small movies sized so that the PSF comes out within a few percent of the truth.
SIMULATION = {
    "pixel_nm": 100.0,
    "photons": 2000.0,
    "background": 20.0,
    "on_density_per_um2": 0.5,
}


def simulate(
    n_frames: int = 500, shape: tuple[int, int] = (48, 48), **kwargs: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    """A simulated blinking movie and its truth.

    The simulator's blinking defaults (on-time 3 frames, on-probability 0.02) give an
    on-time within a few percent of the truth (``correlation_time_frames``) from about
    1500 frames.
    """
    return simulate_movie(n_frames, shape, **{**SIMULATION, **kwargs})


def write_yaml(path: Path, content: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content, sort_keys=False))


def write_tiff(
    path: Path,
    movie: np.ndarray,
    *,
    ome_pixel_nm: float | None = None,
    ome_exposure_ms: float | None = None,
) -> None:
    """Write a movie, as OME-TIFF with PhysicalSizeX/Y when ``ome_pixel_nm`` is given.

    ``ome_exposure_ms`` adds every plane's ExposureTime (ms) to the OME-XML.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if ome_pixel_nm is None:
        tifffile.imwrite(path, movie, photometric="minisblack")
    else:
        size_um = ome_pixel_nm / 1000.0
        metadata: dict[str, Any] = {
            "axes": "TYX",
            "PhysicalSizeX": size_um,
            "PhysicalSizeXUnit": "µm",
            "PhysicalSizeY": size_um,
            "PhysicalSizeYUnit": "µm",
        }
        if ome_exposure_ms is not None:
            metadata["Plane"] = {
                "ExposureTime": [float(ome_exposure_ms)] * len(movie),
                "ExposureTimeUnit": ["ms"] * len(movie),
            }
        tifffile.imwrite(path, movie, ome=True, metadata=metadata)


def noise_movie(n_frames: int, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A quick movie for inputs that fail before any PSF is fitted."""
    rng = np.random.default_rng(seed)
    return rng.poisson(100, size=(n_frames, *shape)).astype(np.uint16)


def write_config(workdir: Path, **settings: Any) -> Path:
    """``config.yaml`` in ``workdir`` for a test run (own experiments, no demo)."""
    config = {
        "experiments_dir": "experiments",
        "demo": False,
        "results_dir": "results",
        "pixel_nm": None,
        "crop_pix": 31,
        "cuda": False,
        "min_frames": 100,
        "threads": 1,
    }
    config.update(settings)
    path = workdir / "config.yaml"
    write_yaml(path, config)
    return path


def as_ordinary_user() -> None:
    """Make the calling process obey file permissions, root or not (a ``preexec_fn``).

    Root reads and lists anything whatever its mode: it drops the two capabilities
    that allow it (``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``) from its bounding
    set, so the program it then runs meets ``chmod 000`` as a user would.
    """
    if os.name != "posix" or os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_snakemake(
    workdir: Path,
    *args: str,
    configfile: Path | None = None,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    as_user: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run the workflow on ``workdir`` (its config.yaml) with the repository's Snakefile.

    ``timeout`` bounds the run (subprocess.TimeoutExpired after it); ``env`` replaces
    the environment; ``as_user`` makes the run obey file permissions even as root
    (:func:`as_ordinary_user`).
    """
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile or workdir / "config.yaml"),
        *args,
    ]
    return subprocess.run(
        command,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        preexec_fn=as_ordinary_user if as_user else None,
    )


#: A script's error line (smlmlp_workflow.rule_log), not a log file's line that
#: Snakemake echoes (those start with a time stamp).
ERROR_LINE = re.compile(r"(?<!\d\d:\d\d:\d\d )ERROR [a-z_]+(?: [^\s:]+)*: .*")


def error_lines(output: str) -> list[str]:
    """The scripts' ``ERROR <step>: ...`` lines in a run's output, in order.

    Searched within lines: a script shares stderr with Snakemake, and a write of
    more than a pipe's atomic size can be split around the script's line.
    """
    return [m.group(0) for line in output.splitlines() if (m := ERROR_LINE.search(line))]


def job_counts(output: str) -> dict[str, int]:
    """Rule -> number of jobs, from the "Job stats" table Snakemake prints."""
    counts: dict[str, int] = {}
    if "Job stats:" not in output:
        return counts
    table = output.split("Job stats:", 1)[1]
    for line in table.splitlines()[3:]:
        match = re.match(r"^(\w+)\s+(\d+)\s*$", line)
        if not match:
            if counts:
                break
            continue
        counts[match[1]] = int(match[2])
    counts.pop("total", None)
    return counts


#: Attributes through which HDF5 dimension scales refer to each other (object
#: references, compared by the names of the scales instead).
_SCALE_REFERENCES = ("DIMENSION_LIST", "REFERENCE_LIST")


def h5_contents(path: Path) -> dict[str, Any]:
    """Every dataset and attribute of an HDF5 file, but its creation time; the dimension
    scales attached to each axis of a dataset by name."""
    import h5py

    contents: dict[str, Any] = {}

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            contents[f"{name}[]"] = item[()]
            scales = [[scale.name for scale in axis.values()] for axis in item.dims]
            contents[f"{name}@dims"] = np.array(repr(scales))
        for key, value in item.attrs.items():
            if key not in _SCALE_REFERENCES:
                contents[f"{name}@{key}"] = value

    with h5py.File(path, "r") as handle:
        for key, value in handle.attrs.items():
            if key != "created":
                contents[f"@{key}"] = value
        handle.visititems(visit)
    return contents


def h5_differences(first: Path, second: Path) -> list[str]:
    """Names of the datasets and attributes that differ, bit for bit (NaN equal to NaN)."""
    ours, theirs = h5_contents(first), h5_contents(second)
    names = sorted(set(ours) ^ set(theirs))
    for name in sorted(set(ours) & set(theirs)):
        a, b = np.asarray(ours[name]), np.asarray(theirs[name])
        if a.dtype.kind in "fc":
            same = a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
        else:
            same = a.shape == b.shape and bool(np.all(a == b))
        if not same:
            names.append(name)
    return names


HELPERS = SimpleNamespace(
    REPO=REPO,
    simulate=simulate,
    write_yaml=write_yaml,
    write_tiff=write_tiff,
    noise_movie=noise_movie,
    write_config=write_config,
    run_snakemake=run_snakemake,
    as_ordinary_user=as_ordinary_user,
    job_counts=job_counts,
    error_lines=error_lines,
    h5_differences=h5_differences,
)


@pytest.fixture(scope="session")
def wf() -> SimpleNamespace:
    """The helpers of this module (test modules cannot import a conftest)."""
    return HELPERS
