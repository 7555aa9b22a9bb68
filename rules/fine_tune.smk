# Step 4: fine-tuning on clean validation data, of the BadNet (the baseline) and of each
# pruned model (fine-pruning). Each replicate with its own seed; a replicate of a BadNet
# that is not retrained fine-prunes replicate 1's pruned models (pruned_model).


rule fine_tune:
    input:
        model=badnet_model,
        clean_valid=data_file("clean_valid"),
    output:
        tuned="results/{badnet}/fine_tuned.keras",
    log:
        "logs/{badnet}/fine_tune.log",
    benchmark:
        "benchmarks/{badnet}/fine_tune.tsv"
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
        seed=run_seed,
        tf_threads=TRAINING_THREADS,
    script:
        "../scripts/fine_tune.py"


rule fine_prune:
    input:
        model=pruned_model,
        info=pruned_info,
        clean_valid=data_file("clean_valid"),
    output:
        tuned="results/{badnet}/fine_pruned/X{x}.keras",
    log:
        "logs/{badnet}/fine_prune_X{x}.log",
    benchmark:
        "benchmarks/{badnet}/fine_prune_X{x}.tsv"
    conda:
        tf_env()
    threads: TRAINING_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    params:
        input_scale=input_scale,
        training=config["fine_tune"],
        seed=run_seed,
        tf_threads=TRAINING_THREADS,
    script:
        "../scripts/fine_prune.py"
