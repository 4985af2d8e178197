# The heavy pass, one job per channel: stream the movie's frames into summed power
# spectra. Memory depends on the frame size and the chunk length, not on the movie length.


rule autocorr:
    input:
        movie=movie_files,
    output:
        spectrum=f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.npz",
        source=f"{RESULTS}/{{experiment}}/autocorr/{{channel}}.json",
    params:
        label="{experiment}/{channel}",
        split=lambda wildcards: channel_of(wildcards).split,
        half=lambda wildcards: channel_of(wildcards).half,
        min_frames=config["min_frames"],
    threads: config["threads"]
    resources:
        mem_mb=autocorr_mem_mb,
        runtime=autocorr_runtime,
        gpu=1 if CUDA else 0,
    log:
        "logs/autocorr/{experiment}/{channel}.log",
    conda:
        "../envs/smlmlp.yaml"
    script:
        "../scripts/autocorr.py"
