# The bundled demo: simulated experiments with known PSF widths, written on first run.


if DEMO:

    rule demo:
        output:
            ws.demo_outputs(config["experiments_dir"]),
        log:
            f"{RESULTS}/logs/demo.log",
        conda:
            "../envs/smlmlp.yaml"
        script:
            "../scripts/demo.py"
