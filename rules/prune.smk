# Step 3: one pruned model per threshold X, its channels deleted physically; one job per
# BadNet makes them all (one TensorFlow start-up instead of one per X).


rule prune:
    input:
        model=badnet_model,
        sweep=rules.sweep.output.table,
    output:
        pruned=expand(PRUNED_MODEL, x=XS, allow_missing=True),
        info=expand(PRUNED_INFO, x=XS, allow_missing=True),
    log:
        "logs/{badnet}/prune.log",
    benchmark:
        "benchmarks/{badnet}/prune.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        architecture=badnet_architecture,
        layer=pruned_layer,
        thresholds=[float(x) for x in XS],
    script:
        "../scripts/prune.py"
