# Step 7: the summary tables and plot over every model and GoodNet; with replicates, the
# band of each retrained BadNet's sweeps.


rule summary:
    input:
        metrics=all_metrics(),
        goodnets=all_goodnets(),
        detections=all_detections(),
    output:
        table=report(
            "results/summary.csv",
            caption="../report/summary_table.rst",
            category="Summary",
        ),
        per_trigger=report(
            "results/summary_triggers.csv",
            caption="../report/summary_triggers.rst",
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
        aggregate=report(
            "results/summary_aggregate.csv",
            caption="../report/summary_aggregate.rst",
            category="Summary",
        ),
        intervals=report(
            "results/summary_intervals.csv",
            caption="../report/summary_aggregate.rst",
            category="Summary",
        ),
        aggregate_html=report(
            "results/summary_aggregate.html",
            caption="../report/summary_aggregate.rst",
            category="Summary",
        ),
        detection_table=report(
            "results/detection.csv",
            caption="../report/detection_table.rst",
            category="Detection",
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
    params:
        replicates=REPLICATES,
        verdict=config["verdict"],
        repaired=repaired_defense(),
    script:
        "../scripts/summary.py"


# With several replicates of a BadNet that the demo trains, the band of their sweeps.
rule sweep_replicates:
    input:
        tables=replicate_sweeps,
    output:
        plot=report(
            "results/{badnet}/prune_sweep_replicates.png",
            caption="../report/sweep_replicates.rst",
            category="Pruning sweeps",
            labels={"BadNet": "{badnet}", "replicates": str(REPLICATES)},
        ),
    log:
        "logs/{badnet}/sweep_replicates.log",
    benchmark:
        "benchmarks/{badnet}/sweep_replicates.tsv"
    conda:
        "../envs/plots.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        badnet_name="{badnet}",
    script:
        "../scripts/sweep_replicates.py"
