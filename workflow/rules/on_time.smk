# One job per experiment (also with frames_per_job): every movie of the experiment is read
# twice more, into the temporal autocorrelation of its blinking and the on-time in frames
# (smlmlp.blink_temporal_on, the channels' curves averaged). The info step turns it into ms
# with the channels' exposure. Off with `on_time: false`.

if config["on_time"]:

    rule on_time:
        input:
            movies=experiment_movie_files,
            # what the autocorrelation read: rewritten when a movie changes, so that this
            # pass follows a changed movie in the same run (Snakemake does not rerun a
            # job whose only other inputs are ancient for a newer movie alone)
            sources=channel_source_files,
            # the channels' PSF sigma and pixel size; a rerun of psf (crop_pix, pixel size,
            # exposure) does not redo this pass (ancient): the sigma only sizes the
            # background filter, and in pixels it does not depend on the pixel size
            psf=on_time_psf_files,
        output:
            f"{RESULTS}/{{experiment}}/on_time.npz",
        params:
            label="{experiment}",
            channels=lambda wildcards: ws.on_time_channels(experiment_of(wildcards)),
            temporal_lags=config["temporal_lags"],
            fallback_psf_sigma_nm=config["on_time_psf_sigma_nm"],
            fiducials=config["fiducials"],
        threads: config["threads"]
        resources:
            mem_mb=ws.on_time_mem_mb(config["memory_budget_mb"]),
            runtime=on_time_runtime,
            gpu=1 if CUDA else 0,
        log:
            f"{RESULTS}/logs/on_time/{{experiment}}.log",
        conda:
            "../envs/smlmlp.yaml"
        script:
            "../scripts/on_time.py"
