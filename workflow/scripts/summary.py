"""Rule summary: sigmas of every experiment and channel, as a table and a plot."""

from smlmlp_workflow.logs import rule_log
from smlmlp_workflow.summary import run_summary

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)

with rule_log(sm.log[0], step="summary") as log:
    run_summary(
        list(sm.input),
        sm.output.table,
        sm.output.figure,
        html_path=sm.output.html,
        logger=log,
    )
