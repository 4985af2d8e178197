# One job per experiment: results/{experiment}/figures/{channel}.png, in the report.


rule figures:
    input:
        f"{RESULTS}/{{experiment}}/psf_info.h5",
    output:
        report(
            directory(f"{RESULTS}/{{experiment}}/figures"),
            patterns=["{channel}.png"],
            caption="../report/figure.rst",
            category="PSF per channel",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "channel": "{channel}"},
        ),
    log:
        f"{RESULTS}/logs/figures/{{experiment}}.log",
    conda:
        "../envs/smlmlp.yaml"
    script:
        "../scripts/figures.py"
