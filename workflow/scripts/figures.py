"""Rule figures: one PNG per channel of an experiment."""

import _bootstrap  # noqa: F401

from smlmlp import workflow_support as ws

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)
experiment = sm.wildcards.experiment

with ws.rule_log(sm.log[0], step=f"figures {experiment}", subject=sm.input[0]) as log:
    ws.run_figures(sm.input[0], sm.output[0], experiment=experiment, logger=log)
