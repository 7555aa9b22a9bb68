# Step 5: each BadNet and its repaired copy B', combined into its GoodNet (replicate 1's),
# with its verdict: measured with poisoned data, else estimated from the detection.


rule combine:
    input:
        badnet=of_goodnet(badnet_model),
        repaired=of_goodnet(repaired_model),
        clean_test=of_goodnet(data_file("clean_test")),
        poisoned_test=of_goodnet(test_poisoned_files),
        spread=of_goodnet(repaired_metrics_of_replicates),
        badnet_metrics=of_goodnet(badnet_metrics),
        detection=of_goodnet(detections),
        reversed_triggers=of_goodnet(badnet_reversed_triggers),
    output:
        folder=directory("results/{goodnet}"),
    log:
        "logs/{goodnet}/combine.log",
    benchmark:
        "benchmarks/{goodnet}/combine.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        badnet_name=of_goodnet(badnet_name),
        architecture=of_goodnet(badnet_architecture),
        input_scale=of_goodnet(input_scale),
        triggers=of_goodnet(test_triggers),
        threshold=float(GOODNET_X),
        repair=GOODNET_REPAIR,
        verdict=config["verdict"],
        batch_size=config["evaluate"]["batch_size"],
    script:
        "../scripts/combine.py"
