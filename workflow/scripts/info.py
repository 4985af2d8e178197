"""Rule info: every channel of an experiment into its HDF5 info file."""

import _bootstrap  # noqa: F401

from smlmlp import workflow_support as ws

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)
experiment = sm.wildcards.experiment

with ws.rule_log(sm.log[0], step=f"info {experiment}") as log:
    ws.run_info(
        list(sm.input.channels),
        sm.output[0],
        experiment=experiment,
        config_json=sm.params.config,
        problem=sm.params.problem,
        logger=log,
    )
