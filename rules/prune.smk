# Activations, the pruning sweep, and one pruned model per threshold X.


rule activations:
    input:
        model=badnet_model,
        clean_valid=data_file("clean_valid"),
    output:
        "results/{badnet}/activations.npy",
    log:
        "logs/{badnet}/activations.log",
    benchmark:
        "benchmarks/{badnet}/activations.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=model_source,
        input_scale=input_scale,
        layer=pruned_layer,
        batch_size=config["evaluate"]["batch_size"],
    script:
        "../scripts/activations.py"


rule prune_sweep:
    input:
        model=badnet_model,
        activations="results/{badnet}/activations.npy",
        clean_valid=data_file("clean_valid"),
        poisoned=sweep_poisoned,
    output:
        csv="results/{badnet}/prune_sweep.csv",
        clean="results/{badnet}/clean_accuracy.npy",
        asr="results/{badnet}/attack_success_rate.npy",
        plot=report(
            "results/{badnet}/prune_sweep.png",
            caption="../report/prune_sweep.rst",
            category="Pruning sweeps",
            labels={"BadNet": "{badnet}"},
        ),
    log:
        "logs/{badnet}/prune_sweep.log",
    benchmark:
        "benchmarks/{badnet}/prune_sweep.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        source=model_source,
        input_scale=input_scale,
        layer=pruned_layer,
        thresholds=config["prune"]["thresholds"],
        batch_size=config["prune"]["batch_size"],
    script:
        "../scripts/prune_sweep.py"


rule prune:
    input:
        model=badnet_model,
        sweep="results/{badnet}/prune_sweep.csv",
    output:
        model="results/{badnet}/pruned/X{x}.keras",
        info="results/{badnet}/pruned/X{x}.json",
    log:
        "logs/{badnet}/prune_X{x}.log",
    benchmark:
        "benchmarks/{badnet}/prune_X{x}.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        source=model_source,
        layer=pruned_layer,
    script:
        "../scripts/prune.py"
