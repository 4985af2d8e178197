# Shared by every rule: config validation, experiment discovery, input functions.
# Functions only (no rules), so that the rule files stay declarative.

import json
import re
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

import smlmlp_workflow as ws

# Booleans typed as words (--config demo=false), then one clear line for a bad config,
# then Snakemake's validation fills the defaults.
ws.normalise_config(config, workflow.source_path("../schemas/config.schema.yaml"))
try:
    ws.check_config(
        config,
        workflow.source_path("../schemas/config.schema.yaml"),
        files=workflow.configfiles,
        command_line=workflow.config_settings.config,
    )
except ValueError as error:
    raise WorkflowError(str(error))
validate(config, "../schemas/config.schema.yaml")

# A folder locked by another run: say whether it is still working or was killed.
if workflow.is_main_process:
    _lock_problem = ws.lock_problem(".")
    if _lock_problem:
        raise WorkflowError(_lock_problem)

RESULTS = config["results_dir"]
RUN_STARTED = time.time()  # a summary written after this is this run's (onsuccess)
try:
    ws.check_results_dir(RESULTS)  # a read-only share: one line, before any job
except ws.SettingsError as error:
    raise WorkflowError(str(error))
CUDA = ws.resolve_cuda(config["cuda"])
FRAMES_PER_JOB = config["frames_per_job"]
# the bundled demo is simulated only into its own folder (experiments_dir: demo_data)
DEMO = ws.demo_enabled(config)

# Discovery never fails because of one experiment: a bad folder keeps its problem,
# and that experiment's info job reports it (the others complete with --keep-going).
try:
    if DEMO:
        EXPERIMENTS = ws.demo_experiments(config["experiments_dir"], config)
    else:
        EXPERIMENTS = ws.discover_experiments(config["experiments_dir"], config)
except ws.SettingsError as error:
    raise WorkflowError(str(error))
if workflow.is_main_process:  # snapshots beside the movies: said once, at the start
    for _line in ws.left_out_lines(EXPERIMENTS):
        logger.warning(_line)


wildcard_constraints:
    experiment="|".join(re.escape(name) for name in EXPERIMENTS),
    channel=r"[^/]+",
    frames=rf"\d+-\d+|{ws.WHOLE_MOVIE}",


def experiment_of(wildcards):
    """The Experiment of a job's {experiment} wildcard."""
    return EXPERIMENTS[wildcards.experiment]


def channel_of(wildcards):
    """The Channel of a job's {experiment} and {channel} wildcards."""
    experiment = experiment_of(wildcards)
    try:
        return experiment.channels[wildcards.channel]
    except KeyError:
        known = ", ".join(experiment.channels) or "none"
        raise WorkflowError(
            f"experiment {experiment.name} has no channel {wildcards.channel} (channels: {known})"
        ) from None


def movie_files(wildcards):
    """Every file holding the channel's frames (the series' first file first)."""
    return list(channel_of(wildcards).files)


_FINGERPRINTS = {}


def movie_fingerprint(wildcards):
    """The channel's record of its files' sizes and sampled content, rewritten when it no
    longer matches them: a movie changed behind an older mtime still reruns its jobs."""
    key = (wildcards.experiment, wildcards.channel)
    if key not in _FINGERPRINTS:
        folder = f"{RESULTS}/{wildcards.experiment}/autocorr"
        ws.refresh_fingerprint(
            f"{folder}/{wildcards.channel}.fingerprint",
            channel_of(wildcards).files,
            f"{folder}/{wildcards.channel}.json",  # what the last pass read
        )
        path = f"{folder}/{wildcards.channel}.fingerprint"
        _FINGERPRINTS[key] = path
    return _FINGERPRINTS[key]


def autocorr_mem_mb(wildcards):
    """Memory of the streaming pass, from the frame size and the chunk length."""
    channel = channel_of(wildcards)
    return ws.autocorr_mem_mb(
        channel.files,
        channel.split,
        chunk_frames=config["chunk_frames"],
        memory_budget_mb=config["memory_budget_mb"],
        cuda=CUDA,
    )


def autocorr_runtime(wildcards):
    """Minutes for the streaming pass, or for its frame range (for cluster schedulers)."""
    fraction = 1.0
    frames = ws.parse_frame_range(wildcards.get("frames", ws.WHOLE_MOVIE))
    if frames is not None:
        fraction = (frames[1] - frames[0]) / max(channel_frame_count(wildcards) or 1, 1)
    return ws.autocorr_runtime_min(channel_of(wildcards).files, min(fraction, 1.0))


# ------------------------------------------------------------------ frames_per_job
_FRAME_COUNTS = {}


def channel_frame_count(wildcards):
    """Frames of the channel's movie (from its TIFF headers, read once), None if unreadable."""
    channel = channel_of(wildcards)
    if channel.n_frames is not None:
        return channel.n_frames
    key = (channel.files, channel.file_channel)
    if key not in _FRAME_COUNTS:
        _FRAME_COUNTS[key] = ws.movie_frame_count(channel.files, channel.file_channel)
    return _FRAME_COUNTS[key]


def autocorr_parts(wildcards, suffix):
    """The partial sums of the channel's frame ranges (one range when unreadable)."""
    n_frames = channel_frame_count(wildcards)
    if n_frames is None:  # its job reports what is wrong with the movie
        ranges = [None]
    else:
        ranges = ws.plan_frame_ranges(
            n_frames, FRAMES_PER_JOB, time_windows=config["time_windows"]
        )
    folder = f"{RESULTS}/{wildcards.experiment}/autocorr/{wildcards.channel}.parts"
    return [f"{folder}/frames_{ws.frame_range_label(frames)}.{suffix}" for frames in ranges]


def autocorr_merge_mem_mb(wildcards):
    """Memory to add the partial sums: two accumulators of the frame size."""
    channel = channel_of(wildcards)
    shape = channel.frame_shape or ws.movie_frame_shape(channel.movie, channel.split)
    return ws.merge_mem_mb(shape or ws.FALLBACK_FRAME_SHAPE)


def as_lists(candidates):
    """[origin, value] pairs as plain lists (stable params for rerun detection)."""
    return [[origin, value] for origin, value in candidates]


def channel_psf_files(wildcards):
    """The per-channel PSF files of an experiment (none for a bad experiment)."""
    experiment = experiment_of(wildcards)
    return [f"{RESULTS}/{experiment.name}/psf/{name}.npz" for name in experiment.channels]


def experiment_movie_files(wildcards):
    """Every movie file of an experiment, once (the halves of a split frame share theirs)."""
    files = []
    for channel in experiment_of(wildcards).channels.values():
        files += [f for f in channel.files if f not in files]
    return files


def channel_source_files(wildcards):
    """The per-channel records of what the autocorrelation read: rewritten whenever a
    movie changes (not when only crop_pix or a pixel size does)."""
    experiment = experiment_of(wildcards)
    return [f"{RESULTS}/{experiment.name}/autocorr/{name}.json" for name in experiment.channels]


def on_time_psf_files(wildcards):
    """The channels' PSF files as inputs of on_time: needed first, never a reason to rerun."""
    return [ancient(path) for path in channel_psf_files(wildcards)]


def on_time_files(wildcards):
    """The experiment's on-time result when it is measured (none for a bad experiment)."""
    if not config["on_time"] or not experiment_of(wildcards).ok:
        return []
    return [f"{RESULTS}/{wildcards.experiment}/on_time.npz"]


def on_time_runtime(wildcards):
    """Minutes for the on-time's two passes over the experiment's movies."""
    return ws.on_time_runtime_min(experiment_movie_files(wildcards))


def experiment_config(wildcards):
    """The settings stored in an experiment's info file (JSON)."""
    return ws.analysis_config(config, experiment_of(wildcards))


def good_info_files():
    """Info files of the experiments whose folders could be read."""
    return [f"{RESULTS}/{name}/psf_info.h5" for name, e in EXPERIMENTS.items() if e.ok]


def all_targets():
    """Every experiment's info file and figures, and the summary."""
    targets = [f"{RESULTS}/summary.tsv", f"{RESULTS}/summary.png", f"{RESULTS}/summary.html"]
    for name in EXPERIMENTS:
        targets += [f"{RESULTS}/{name}/psf_info.h5", f"{RESULTS}/{name}/figures"]
    return targets


def finished_targets():
    """The targets of all_targets() that a run has made: what the report of a run whose
    jobs failed in part holds (rule finished, `make report`)."""
    return [path for path in all_targets() if Path(path).exists()]
