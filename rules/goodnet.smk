# Step 6: the GoodNets, each BadNet beside its fine-pruned copy.


rule goodnet:
    input:
        unpack(goodnet_inputs),
    output:
        folder=directory("results/{goodnet}"),
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
        badnet_name=goodnet_params("badnet_name"),
        architecture=goodnet_params("architecture"),
        input_scale=goodnet_params("input_scale"),
        triggers=goodnet_params("triggers"),
        threshold=float(GOODNET_X),
        batch_size=config["evaluate"]["batch_size"],
    script:
        "../scripts/goodnet.py"
