# Step 3: fine-tuning on clean validation data, of the BadNet (the baseline) and of each
# pruned model (fine-pruning), in one job per run. Each replicate with its own seed; a
# replicate of a BadNet that is not retrained fine-prunes replicate 1's pruned models.


rule fine_tune:
    input:
        model=badnet_model,
        pruned=pruned_models,
        info=pruned_infos,
        clean_valid=data_file("clean_valid"),
    output:
        tuned=FINE_TUNED,
        fine_pruned=expand(FINE_PRUNED, x=XS, allow_missing=True),
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
