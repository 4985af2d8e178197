"""Rule figures: one PNG per channel of an experiment."""

from smlmlp_workflow.logs import rule_log
from smlmlp_workflow.summary import run_figures

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)
experiment = sm.wildcards.experiment

with rule_log(sm.log[0], step=f"figures {experiment}", subject=sm.input[0]) as log:
    run_figures(sm.input[0], sm.output[0], experiment=experiment, logger=log)
