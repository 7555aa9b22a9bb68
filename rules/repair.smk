# Fine-tuning (baseline), fine-pruning, and the GoodNets.


rule fine_tune:
    input:
        model=badnet_model,
        clean_valid=data_file("clean_valid"),
    output:
        "results/{badnet}/fine_tuned.keras",
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
        source=model_source,
        input_scale=input_scale,
        fine_tune=config["fine_tune"],
        seed=config["seed"],
        tf_threads=TRAINING_THREADS,
    script:
        "../scripts/fine_tune.py"


rule fine_prune:
    input:
        model="results/{badnet}/pruned/X{x}.keras",
        info="results/{badnet}/pruned/X{x}.json",
        clean_valid=data_file("clean_valid"),
    output:
        "results/{badnet}/fine_pruned/X{x}.keras",
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
        fine_tune=config["fine_tune"],
        seed=config["seed"],
        tf_threads=TRAINING_THREADS,
    script:
        "../scripts/fine_tune.py"


rule goodnet:
    input:
        unpack(goodnet_inputs),
    output:
        directory("results/{goodnet}"),
    log:
        "logs/{goodnet}/goodnet.log",
    benchmark:
        "benchmarks/{goodnet}/goodnet.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        info=goodnet_params,
        batch_size=config["evaluate"]["batch_size"],
    script:
        "../scripts/goodnet.py"
