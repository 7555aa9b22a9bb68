# The demo's synthetic face data, clean and poisoned; real studies bring their own h5 files.
if DEMO:

    rule demo_data:
        output:
            train=demo_files()[0],
            valid=demo_files()[1],
            test=demo_files()[2],
            poisoned=demo_files()[3:],
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
        script:
            "../scripts/demo_data.py"
