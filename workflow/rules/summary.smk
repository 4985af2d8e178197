# Every experiment and channel in one table and one plot: drift of the optics at a glance.


rule summary:
    input:
        good_info_files(),
    output:
        table=report(
            f"{RESULTS}/summary.tsv",
            caption="../report/summary_table.rst",
            category="Summary",
            labels={"what": "table (tsv)"},
        ),
        html=report(
            f"{RESULTS}/summary.html",
            caption="../report/summary_table.rst",
            category="Summary",
            labels={"what": "table"},
        ),
        figure=report(
            f"{RESULTS}/summary.png",
            caption="../report/summary_plot.rst",
            category="Summary",
            labels={"what": "plot"},
        ),
    log:
        f"{RESULTS}/logs/summary.log",
    conda:
        "../envs/smlmlp.yaml"
    script:
        "../scripts/summary.py"
