"""Rule summary: sigmas of every experiment and channel, as a table and a plot."""

import _bootstrap  # noqa: F401

from smlmlp import workflow_support as ws

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)

with ws.rule_log(sm.log[0], step="summary") as log:
    ws.run_summary(list(sm.input), sm.output.table, sm.output.figure, logger=log)
