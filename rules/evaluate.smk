# Step 5: clean accuracy and ASR of every defense's model on test data, one job per
# BadNet: it reads the test sets once and scores every model (one metrics json each).


rule evaluate:
    input:
        models=defense_models,
        clean_test=data_file("clean_test"),
        poisoned_test=test_poisoned_files,
    output:
        metrics=expand(METRICS, defense=DEFENSES, allow_missing=True),
    log:
        "logs/{badnet}/evaluate.log",
    benchmark:
        "benchmarks/{badnet}/evaluate.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        defenses=list(DEFENSES),
        architectures=defense_architectures,
        input_scale=input_scale,
        triggers=test_triggers,
        badnet_name=badnet_name,
        replicate=replicate,
        batch_size=config["evaluate"]["batch_size"],
    script:
        "../scripts/evaluate.py"
