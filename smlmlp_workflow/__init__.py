"""What the Snakemake workflow needs beyond the science: experiments, settings, logs.

The workflow (``Snakefile``, ``workflow/``) stays a thin layer: it asks this package
which experiments and channels exist, what each step needs, and calls one
function per step. Everything here works on plain values and paths, so it is
tested without Snakemake.

This package uses the science package :mod:`smlmlp`; :mod:`smlmlp` never imports
it. Both are installed by the same ``pyproject.toml``.

Modules
-------
:mod:`~smlmlp_workflow.settings`
    ``experiment.yaml`` and config checks, CUDA choice, pixel size / exposure precedence.
:mod:`~smlmlp_workflow.discovery`
    Experiments, channels and the files of multi-file series.
:mod:`~smlmlp_workflow.fingerprints`
    Sizes and sampled content of the movies (changes that modification times miss).
:mod:`~smlmlp_workflow.frames`
    Frame ranges of ``frames_per_job`` (whole chunks and whole blocks of frames).
:mod:`~smlmlp_workflow.demo`
    The bundled demo: its experiments, simulation and truth.
:mod:`~smlmlp_workflow.resources`
    Memory and runtime requests, chunk lengths.
:mod:`~smlmlp_workflow.logs`
    Rule logs, one-line errors, progress.
:mod:`~smlmlp_workflow.runs`
    The run working in a folder: a live run and a stale lock told apart.
:mod:`~smlmlp_workflow.autocorr`, :mod:`~smlmlp_workflow.psf`,
:mod:`~smlmlp_workflow.on_time`, :mod:`~smlmlp_workflow.info`,
:mod:`~smlmlp_workflow.summary`
    What each rule runs.

The public names of these modules are re-exported here
(``import smlmlp_workflow as ws``; ``ws.discover_experiments``).
"""

from smlmlp.folder_movies import list_movies
from smlmlp.loading import HALF_NAMES
from smlmlp.movie_series import TIFF_SUFFIXES, group_series, is_tiff_name

from ._common import PathLike
from .autocorr import merge_autocorr, run_autocorr
from .demo import (
    DEMO_EXPERIMENTS,
    DEMO_EXPOSURE_MS,
    DEMO_FRAMES,
    DEMO_PIXEL_NM,
    DEMO_SHAPE,
    DEMO_SIMULATION,
    demo_experiments,
    demo_files,
    demo_outputs,
    write_demo,
)
from .discovery import (
    Channel,
    Experiment,
    discover_experiments,
    inspect_experiment,
    left_out_lines,
    movie_files,
)
from .fingerprints import file_fingerprint, movie_fingerprint, refresh_fingerprint
from .frames import (
    WHOLE_MOVIE,
    frame_range_label,
    movie_frame_count,
    parse_frame_range,
    plan_frame_ranges,
)
from .info import run_info
from .logs import EXPECTED_ERRORS, FrameProgress, logged_problems, rule_log
from .on_time import on_time_channels, run_on_time
from .plan import format_plan, print_plan
from .psf import run_psf
from .resources import (
    BASELINE_MEM_MB,
    FALLBACK_FRAME_SHAPE,
    autocorr_mem_mb,
    autocorr_runtime_min,
    merge_mem_mb,
    movie_frame_shape,
    on_time_mem_mb,
    on_time_runtime_min,
    plan_chunk_frames,
)
from .runs import RUN_CONFIG, clear_run, lock_problem, record_run, record_run_config
from .settings import (
    ANALYSIS_KEYS,
    SETTINGS_FILE,
    SettingsError,
    analysis_config,
    check_config,
    check_results_dir,
    check_settings,
    demo_enabled,
    normalise_config,
    pixel_pair,
    read_settings,
    resolve_cuda,
)
from .summary import format_summary_table, print_run_summary, run_figures, run_summary

__all__ = [
    "ANALYSIS_KEYS",
    "BASELINE_MEM_MB",
    "DEMO_EXPERIMENTS",
    "DEMO_EXPOSURE_MS",
    "DEMO_FRAMES",
    "DEMO_PIXEL_NM",
    "DEMO_SHAPE",
    "DEMO_SIMULATION",
    "EXPECTED_ERRORS",
    "FALLBACK_FRAME_SHAPE",
    "HALF_NAMES",
    "SETTINGS_FILE",
    "TIFF_SUFFIXES",
    "WHOLE_MOVIE",
    "Channel",
    "Experiment",
    "FrameProgress",
    "PathLike",
    "SettingsError",
    "analysis_config",
    "autocorr_mem_mb",
    "autocorr_runtime_min",
    "check_config",
    "RUN_CONFIG",
    "clear_run",
    "check_results_dir",
    "demo_enabled",
    "format_plan",
    "print_plan",
    "normalise_config",
    "check_settings",
    "demo_experiments",
    "demo_files",
    "demo_outputs",
    "discover_experiments",
    "left_out_lines",
    "file_fingerprint",
    "frame_range_label",
    "group_series",
    "inspect_experiment",
    "lock_problem",
    "is_tiff_name",
    "list_movies",
    "movie_files",
    "merge_autocorr",
    "merge_mem_mb",
    "movie_frame_count",
    "movie_fingerprint",
    "movie_frame_shape",
    "on_time_channels",
    "on_time_mem_mb",
    "on_time_runtime_min",
    "parse_frame_range",
    "pixel_pair",
    "plan_chunk_frames",
    "plan_frame_ranges",
    "read_settings",
    "record_run",
    "record_run_config",
    "refresh_fingerprint",
    "resolve_cuda",
    "logged_problems",
    "rule_log",
    "run_autocorr",
    "run_figures",
    "run_info",
    "run_on_time",
    "run_psf",
    "run_summary",
    "format_summary_table",
    "print_run_summary",
    "write_demo",
]
