# Metrics on clean and poisoned test data for every model, and the summary table.


rule evaluate:
    input:
        model=defense_model,
        clean_test=data_file("clean_test"),
        poisoned_test=data_file("poisoned_test"),
    output:
        "results/{badnet}/metrics/{defense}.json",
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
        source=model_source,
        input_scale=input_scale,
        batch_size=config["evaluate"]["batch_size"],
    script:
        "../scripts/evaluate.py"


rule summary:
    input:
        metrics=all_metrics(),
        goodnets=[f"results/{g}" for g in GOODNETS.values()],
    output:
        table=report(
            "results/summary.csv",
            caption="../report/summary_table.rst",
            category="Summary",
        ),
        html=report(
            "results/summary.html",
            caption="../report/summary_table.rst",
            category="Summary",
        ),
        plot=report(
            "results/summary.png",
            caption="../report/summary_plot.rst",
            category="Summary",
        ),
    log:
        "logs/summary.log",
    benchmark:
        "benchmarks/summary.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/summary.py"
