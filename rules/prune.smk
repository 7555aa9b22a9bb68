# Step 3: one pruned model per threshold X, its channels deleted physically.


rule prune:
    input:
        model=badnet_model,
        sweep=rules.sweep.output.table,
    output:
        pruned="results/{badnet}/pruned/X{x}.keras",
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
        architecture=badnet_architecture,
        layer=pruned_layer,
        threshold=threshold,
    script:
        "../scripts/prune.py"
