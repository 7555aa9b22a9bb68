# Step 4: clean accuracy and ASR of every defense's model on test data, one job per run:
# it reads the test sets once and scores every model (one metrics json each). Runs with
# detection also score their unlearned model and the BadNet's reversed triggers.


rule evaluate:
    input:
        models=defense_models,
        clean_test=data_file("clean_test"),
        poisoned_test=test_poisoned_files,
        withheld_test=withheld_files,
        detection=badnet_detection,
        reversed_triggers=badnet_reversed_triggers,
    output:
        metrics=expand(METRICS, defense=DEFENSES, allow_missing=True),
    log:
        "logs/{badnet}/evaluate.log",
    benchmark:
        "benchmarks/{badnet}/evaluate.tsv"
    wildcard_constraints:
        badnet=alternatives(UNDETECTED),
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        defenses=run_defenses,
        architectures=defense_architectures,
        input_scale=input_scale,
        triggers=test_triggers,
        withheld_triggers=withheld_triggers,
        badnet_name=badnet_name,
        replicate=replicate,
        batch_size=config["evaluate"]["batch_size"],
    script:
        "../scripts/evaluate.py"


# The same job for a run with detection: its unlearned model is one more defense.
use rule evaluate as evaluate_detected with:
    output:
        metrics=expand(METRICS, defense=[*DEFENSES, "unlearned"], allow_missing=True),
    wildcard_constraints:
        badnet=alternatives(DETECTED),
