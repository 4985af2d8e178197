"""Rule autocorr_merge: add the partial sums of a channel's frame ranges."""

from smlmlp_workflow.autocorr import merge_autocorr
from smlmlp_workflow.logs import rule_log

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)

with rule_log(sm.log[0], step=f"autocorr_merge {sm.params.label}") as log:
    merge_autocorr(
        list(sm.input.spectra),
        list(sm.input.sources),
        sm.output.spectrum,
        sm.output.source,
        label=sm.params.label,
        logger=log,
    )
