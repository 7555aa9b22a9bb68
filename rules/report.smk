# Step 7: the summary table and plot over every model and GoodNet, and the workflow
# report's front page (`snakemake --report results/report.html` builds the report).


report: "../report/workflow.rst"


rule summary:
    input:
        metrics=all_metrics(),
        goodnets=all_goodnets(),
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
