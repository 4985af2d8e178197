# smlmLP workflow: raw blinking movies -> autocorrelation -> PSF (and blinking on-time)
# -> HDF5 info file -> figures.
#
#   snakemake --cores all --profile profiles/default
#   make report            (the last run into results/, with that run's config)
#
# Settings: config/config.yaml (documented in config/README.md).

import os

from snakemake.utils import min_version

min_version("9.0")


# The folder the run works in (where snakemake runs, or --directory) has its settings
# in config/config.yaml; a folder without one (the workflow run with -s from elsewhere)
# takes the workflow's own, changed by --config (--configfile names another file).
SETTINGS_FILE = "config/config.yaml"
if not os.path.exists(SETTINGS_FILE):
    SETTINGS_FILE = os.path.join(workflow.basedir, SETTINGS_FILE)


configfile: SETTINGS_FILE


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/autocorr.smk"
include: "workflow/rules/psf.smk"
include: "workflow/rules/on_time.smk"
include: "workflow/rules/info.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/plan.smk"


# The run working in this folder is recorded while it holds Snakemake's lock, so that
# a run finding the lock can tell a live run from one that was killed; its config is
# kept in the results folder, so that `make report` reports what this run analysed
# (not by `snakemake plan`, which analyses nothing).
onstart:
    ws.record_run(".")
    if set(getattr(workflow.dag_settings, "targets", ()) or ()) != {"plan"}:
        ws.record_run_config(config, RESULTS)


# A run ends with its numbers in the terminal (the summary's table, or the experiments
# that finished when jobs failed), its warnings and its failed jobs' one-line errors.
onsuccess:
    ws.clear_run(".")
    ws.print_run_summary(RESULTS, since=RUN_STARTED, experiments=list(EXPERIMENTS))


onerror:
    ws.clear_run(".")
    ws.print_run_summary(RESULTS, since=RUN_STARTED, experiments=list(EXPERIMENTS))


# On a cluster (profiles/slurm) only the heavy jobs that stream the movies (autocorr,
# on_time) are submitted; these light steps (seconds each) run on the machine that runs
# snakemake instead of queueing (autocorr_merge too, see autocorr.smk).
localrules:
    all,
    finished,
    psf,
    info,
    figures,
    summary,


rule all:
    input:
        all_targets(),
    default_target: True


# What the run has made, for the report (`make report` reports this target): the
# experiments that finished, also when others failed.
rule finished:
    input:
        finished_targets(),
