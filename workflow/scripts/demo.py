"""Rule demo: simulate the demo experiments (movies, experiment.yaml, truth.yaml)."""

from smlmlp_workflow.demo import write_demo
from smlmlp_workflow.logs import rule_log

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)

with rule_log(sm.log[0], step="demo") as log:
    write_demo(sm.config["experiments_dir"], logger=log)
