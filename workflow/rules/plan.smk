# `snakemake plan`: what a run would analyse, before anything is measured: every
# experiment's channels, each one's movie, frames, and the pixel size and exposure it
# would use (and from where), then the problems that would stop jobs. Printed, and
# kept in the log.


rule plan:
    localrule: True
    log:
        f"{RESULTS}/logs/plan.log",
    run:
        ws.print_plan(EXPERIMENTS, config, log[0])
