# The demo's synthetic face data; real studies bring their own h5 files.
if DEMO:

    rule demo_data:
        output:
            demo_outputs()["data"],
        log:
            "logs/demo_data.log",
        benchmark:
            "benchmarks/demo_data.tsv"
        conda:
            "../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=20,
        params:
            demo=DEMO,
            out_dir=output_dir,
        script:
            "../scripts/demo_data.py"
