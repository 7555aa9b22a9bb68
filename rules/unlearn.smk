# A second repair: unlearning, the BadNet fine-tuned on clean validation data partly
# stamped with the reversed triggers of its detection, at their true labels.


rule unlearn:
    input:
        model=badnet_model,
        detection=expand(DETECTION, net="badnet", allow_missing=True)[0],
        triggers=expand(REVERSED_TRIGGERS, net="badnet", allow_missing=True)[0],
        clean_valid=data_file("clean_valid"),
    output:
        unlearned=UNLEARNED,
        info=UNLEARNED_INFO,
    log:
        "logs/{badnet}/unlearn.log",
    benchmark:
        "benchmarks/{badnet}/unlearn.tsv"
    conda:
        tf_env()
    threads: TRAINING_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        architecture=badnet_architecture,
        input_scale=input_scale,
        training=config["fine_tune"],
        stamped_fraction=config["unlearn"]["stamped_fraction"],
        seed=run_seed,
        tf_threads=TRAINING_THREADS,
    script:
        "../scripts/unlearn.py"
