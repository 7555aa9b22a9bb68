# Steps 1 and 2: mean activation per channel of the pruned layer on clean validation
# data, then the pruning sweep, clean accuracy and ASR after each channel pruned. One job:
# both need the same features of the clean validation set, computed once. It also draws
# the activation picture (clean and poisoned mean activations in pruning order).


rule sweep:
    input:
        model=badnet_model,
        clean_valid=data_file("clean_valid"),
        poisoned=sweep_poisoned_files,
    output:
        activations="results/{badnet}/activations.npy",
        table="results/{badnet}/prune_sweep.csv",
        clean_accuracy="results/{badnet}/clean_accuracy.npy",
        attack_success_rate="results/{badnet}/attack_success_rate.npy",
        plot=report(
            "results/{badnet}/prune_sweep.png",
            caption="../report/sweep.rst",
            category="Pruning sweeps",
            labels={"BadNet": "{badnet}"},
        ),
        activation_plot=report(
            "results/{badnet}/activations.png",
            caption="../report/activations.rst",
            category="Activations",
            labels={"BadNet": "{badnet}"},
        ),
    log:
        "logs/{badnet}/sweep.log",
    benchmark:
        "benchmarks/{badnet}/sweep.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=6000,
        runtime=60,
    params:
        architecture=badnet_architecture,
        input_scale=input_scale,
        layer=pruned_layer,
        triggers=sweep_triggers,
        poisoned_split=sweep_poisoned_split,
        thresholds=config["prune"]["thresholds"],
        batch_size=config["prune"]["batch_size"],
    script:
        "../scripts/sweep.py"
