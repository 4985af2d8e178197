# One job per channel: autocorrelation crop -> PSF -> Gaussian fit -> spline.


rule psf:
    input:
        spectrum=f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.npz",
        source=f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.json",
    output:
        f"{RESULTS}/{{experiment}}/psf/{{channel}}.npz",
    params:
        crop_pix=config["crop_pix"],
        time_windows=config["time_windows"],
        pixel_nm=lambda wildcards: as_lists(channel_of(wildcards).pixel_nm),
        exposure_ms=lambda wildcards: as_lists(channel_of(wildcards).exposure_ms),
        pixel_nm_default=config["pixel_nm"],
        exposure_ms_default=config["exposure_ms"],
        pixel_nm_from_file=config["pixel_nm_from_file"],
        wavelength_nm=lambda wildcards: as_lists(channel_of(wildcards).wavelength_nm),
        na=lambda wildcards: as_lists(channel_of(wildcards).na),
        wavelength_nm_default=config["wavelength_nm"],
        na_default=config["na"],
        experiments_dir=config["experiments_dir"],
    resources:
        mem_mb=1000,
    log:
        f"{RESULTS}/logs/psf/{{experiment}}/{{channel}}.log",
    conda:
        "../envs/smlmlp.yaml"
    script:
        "../scripts/psf.py"
