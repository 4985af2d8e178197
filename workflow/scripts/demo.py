"""Rule demo: simulate the demo experiments (movies, experiment.yaml, truth.yaml)."""

import _bootstrap  # noqa: F401

from smlmlp import workflow_support as ws

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)

with ws.rule_log(sm.log[0], step="demo") as log:
    ws.write_demo(sm.config["experiments_dir"], logger=log)
