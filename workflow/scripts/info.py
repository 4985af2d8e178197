"""Rule info: every channel of an experiment (and its on-time) into its HDF5 info file."""

from smlmlp_workflow.info import run_info
from smlmlp_workflow.logs import rule_log

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)
experiment = sm.wildcards.experiment
on_time = list(sm.input.get("on_time", []))

with rule_log(sm.log[0], step=f"info {experiment}") as log:
    run_info(
        list(sm.input.channels),
        sm.output[0],
        experiment=experiment,
        config_json=sm.params.config,
        problem=sm.params.problem,
        on_time_path=on_time[0] if on_time else None,
        logger=log,
    )
