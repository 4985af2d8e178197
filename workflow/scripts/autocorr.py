"""Rule autocorr: stream one channel's movie into its summed power spectra."""

import _bootstrap  # noqa: F401

from smlmlp import workflow_support as ws

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)

with ws.rule_log(sm.log[0], step=f"autocorr {sm.params.label}", subject=sm.input.movie) as log:
    ws.run_autocorr(
        sm.input.movie,
        sm.output.spectrum,
        sm.output.source,
        label=sm.params.label,
        split=sm.params.split,
        half=sm.params.half,
        min_frames=sm.params.min_frames,
        chunk_frames=sm.config["chunk_frames"],
        memory_budget_mb=sm.config["memory_budget_mb"],
        cuda=sm.resources.gpu > 0,
        threads=sm.threads,
        logger=log,
    )
