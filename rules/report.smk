# The workflow report's front page; `snakemake --report results/report.html` builds it.


report: "../report/workflow.rst"
