# Step 5: clean accuracy and ASR of every defense's model on test data.


rule evaluate:
    input:
        model=defense_model,
        clean_test=data_file("clean_test"),
        poisoned_test=poisoned("poisoned_test")[0],
    output:
        metrics="results/{badnet}/metrics/{defense}.json",
    log:
        "logs/{badnet}/evaluate_{defense}.log",
    benchmark:
        "benchmarks/{badnet}/evaluate_{defense}.tsv"
    conda:
        "../envs/tensorflow.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        architecture=defense_architecture,
        input_scale=input_scale,
        triggers=poisoned("poisoned_test")[1],
        defense="{defense}",
        badnet_name="{badnet}",
        batch_size=config["evaluate"]["batch_size"],
    script:
        "../scripts/evaluate.py"
