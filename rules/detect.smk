# Finding a backdoor without poisoned data: trigger reverse-engineering on clean
# validation data, for the BadNet ({net}: badnet) and for its repaired net B' (repaired),
# of every run that config detect.run_on covers.


rule detect:
    input:
        model=detection_model,
        clean_valid=data_file("clean_valid"),
        clean_test=data_file("clean_test"),
    output:
        report=DETECTION,
        triggers=REVERSED_TRIGGERS,
        picture=report(
            DETECTION_PICTURE,
            caption="../report/detection.rst",
            category="Detection",
            labels={"BadNet": "{badnet}", "model": "{net}"},
        ),
    log:
        "logs/{badnet}/detect_{net}.log",
    benchmark:
        "benchmarks/{badnet}/detect_{net}.tsv"
    conda:
        tf_env()
    threads: TRAINING_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        architecture=detection_architecture,
        input_scale=input_scale,
        settings=config["detect"],
        seed=run_seed,
        tf_threads=TRAINING_THREADS,
    script:
        "../scripts/detect.py"
