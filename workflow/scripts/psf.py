"""Rule psf: autocorrelation crop -> PSF -> Gaussian fit -> spline, for one channel."""

from smlmlp_workflow.logs import rule_log
from smlmlp_workflow.psf import run_psf

sm = snakemake  # noqa: F821 (defined by Snakemake's script directive)
label = f"{sm.wildcards.experiment}/{sm.wildcards.channel}"

with rule_log(sm.log[0], step=f"psf {label}", subject=sm.input.spectrum) as log:
    run_psf(
        sm.input.spectrum,
        sm.input.source,
        sm.output[0],
        channel=sm.wildcards.channel,
        crop_pix=sm.params.crop_pix,
        time_windows=sm.params.time_windows,
        pixel_nm=sm.params.pixel_nm,
        exposure_ms=sm.params.exposure_ms,
        pixel_nm_default=sm.params.pixel_nm_default,
        exposure_ms_default=sm.params.exposure_ms_default,
        pixel_nm_from_file=sm.params.pixel_nm_from_file,
        wavelength_nm=sm.params.wavelength_nm,
        na=sm.params.na,
        wavelength_nm_default=sm.params.wavelength_nm_default,
        na_default=sm.params.na_default,
        experiments_dir=sm.params.experiments_dir,
        logger=log,
    )
