# One job per experiment: every channel (and, with on_time, the experiment's on-time) into
# results/{experiment}/psf_info.h5. An experiment folder that could not be read fails here,
# with its problem.


rule info:
    input:
        channels=channel_psf_files,
        on_time=on_time_files,
    output:
        report(
            f"{RESULTS}/{{experiment}}/psf_info.h5",
            caption="../report/info_file.rst",
            category="Info files",
            labels={"experiment": "{experiment}"},
        ),
    params:
        problem=lambda wildcards: experiment_of(wildcards).problem or "",
        config=experiment_config,
    log:
        f"{RESULTS}/logs/info/{{experiment}}.log",
    conda:
        "../envs/smlmlp.yaml"
    script:
        "../scripts/info.py"
