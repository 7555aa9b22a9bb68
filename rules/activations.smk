# Step 1: mean activation per channel of the pruned layer, on clean validation data.


rule activations:
    input:
        model=badnet_model,
        clean_valid=data_file("clean_valid"),
    output:
        activations="results/{badnet}/activations.npy",
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
        architecture=badnet_architecture,
        input_scale=input_scale,
        layer=pruned_layer,
        batch_size=config["evaluate"]["batch_size"],
    script:
        "../scripts/activations.py"
