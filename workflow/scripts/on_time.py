"""Rule on_time: temporal autocorrelation and blinking on-time of one experiment."""

from smlmlp_workflow.logs import rule_log
from smlmlp_workflow.on_time import run_on_time

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)

with rule_log(
    sm.log[0], step=f"on_time {sm.params.label}", subject=list(sm.input.movies)
) as log:
    run_on_time(
        sm.params.channels,
        list(sm.input.psf),
        sm.output[0],
        label=sm.params.label,
        temporal_lags=sm.params.temporal_lags,
        fallback_psf_sigma_nm=sm.params.fallback_psf_sigma_nm,
        fiducials=sm.params.fiducials,
        memory_budget_mb=sm.config["memory_budget_mb"],
        cuda=sm.resources.gpu > 0,
        threads=sm.threads,
        logger=log,
    )
