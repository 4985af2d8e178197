# The heavy pass: stream a channel's frames into summed power spectra. Memory depends on
# the frame size and the chunk length, not on the movie length.
#
# frames_per_job 0: one job per channel writes autocorr/{channel}.npz (+ .json).
# frames_per_job N: one job per range of about N frames writes its partial sums, and the
# light autocorr_merge job adds them into the same autocorr/{channel}.npz (+ .json).
# Sums over frames merge exactly, so both give the same numbers; psf reads either.

if config["frames_per_job"] == 0:

    rule autocorr:
        input:
            movie=movie_files,
            fingerprint=movie_fingerprint,
        output:
            spectrum=f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.npz",
            source=f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.json",
        params:
            label="{experiment}/{channel}",
            file_channel=lambda wildcards: channel_of(wildcards).file_channel,
            split=lambda wildcards: channel_of(wildcards).split,
            half=lambda wildcards: channel_of(wildcards).half,
            min_frames=config["min_frames"],
            # tiles must hold the crop (checked before the pass); without tiles the
            # pass does not depend on it, and a new crop_pix reruns psf only
            crop_pix=config["crop_pix"] if config["field_tiles"] else None,
            time_windows=config["time_windows"],
            field_tiles=config["field_tiles"],
            fiducials=config["fiducials"],
        threads: config["threads"]
        resources:
            mem_mb=autocorr_mem_mb,
            runtime=autocorr_runtime,
            gpu=1 if CUDA else 0,
        log:
            f"{RESULTS}/logs/autocorr/{{experiment}}/{{channel}}.log",
        conda:
            "../envs/smlmlp.yaml"
        script:
            "../scripts/autocorr.py"

else:

    localrules:
        autocorr_merge,

    rule autocorr:
        input:
            movie=movie_files,
            fingerprint=movie_fingerprint,
        output:
            spectrum=temp(
                f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.parts/frames_{{frames}}.npz"
            ),
            source=temp(
                f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.parts/frames_{{frames}}.json"
            ),
        params:
            label="{experiment}/{channel}",
            file_channel=lambda wildcards: channel_of(wildcards).file_channel,
            split=lambda wildcards: channel_of(wildcards).split,
            half=lambda wildcards: channel_of(wildcards).half,
            min_frames=config["min_frames"],
            # tiles must hold the crop (checked before the pass); without tiles the
            # pass does not depend on it, and a new crop_pix reruns psf only
            crop_pix=config["crop_pix"] if config["field_tiles"] else None,
            time_windows=config["time_windows"],
            field_tiles=config["field_tiles"],
            fiducials=config["fiducials"],
        threads: config["threads"]
        resources:
            mem_mb=autocorr_mem_mb,
            runtime=autocorr_runtime,
            gpu=1 if CUDA else 0,
        log:
            f"{RESULTS}/logs/autocorr/{{experiment}}/{{channel}}.parts/frames_{{frames}}.log",
        conda:
            "../envs/smlmlp.yaml"
        script:
            "../scripts/autocorr.py"

    rule autocorr_merge:
        input:
            spectra=lambda wildcards: autocorr_parts(wildcards, "npz"),
            sources=lambda wildcards: autocorr_parts(wildcards, "json"),
        output:
            spectrum=f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.npz",
            source=f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.json",
        params:
            label="{experiment}/{channel}",
        resources:
            mem_mb=autocorr_merge_mem_mb,
        log:
            f"{RESULTS}/logs/autocorr_merge/{{experiment}}/{{channel}}.log",
        conda:
            "../envs/smlmlp.yaml"
        script:
            "../scripts/autocorr_merge.py"
