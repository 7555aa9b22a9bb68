# goodnet: `make run` builds the demo GoodNets, `make study` the demo with 5 replicates,
# `make test` runs every test, `make test-fast` the unit tests alone.
# Both create the project's virtual environment (.venv) first if needed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= $(shell nproc)
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup system-deps run study test test-fast test-slurm bench bench-study bench-detect dag report docs format clean

setup: $(VENV)/.installed

# uv installs requirements.txt's pins, the same versions, several times faster than pip
# (BENCHMARKS.md, "Set-up"); pip installs them where uv cannot be had.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $$(grep '^uv==' requirements.txt) \
	  && $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt \
	  || $(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Debian packages for `make test` (chromium: tests/test_report.py opens the report) and
# `make dag` (graphviz: dot). apt-get runs only for what is missing, as root or through
# password-less sudo; without either it prints the apt-get command and goes on (the
# report test then skips, except as root or in CI, where a missing browser fails it).
SYSTEM_DEPS := dot:graphviz chromium:chromium

system-deps:
	@missing=(); for d in $(SYSTEM_DEPS); do \
	    command -v $${d%%:*} >/dev/null 2>&1 || missing+=($${d#*:}); done; \
	[ $${#missing[@]} -eq 0 ] && exit 0; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); \
	else echo "system-deps: missing $${missing[*]}: sudo apt-get install $${missing[*]}" >&2; exit 0; fi; \
	command -v apt-get >/dev/null || { echo "system-deps: install $${missing[*]} (no apt-get here)" >&2; exit 1; }; \
	echo "system-deps: apt-get install $${missing[*]}"; \
	apt=("$${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600); \
	"$${apt[@]}" update >/dev/null || echo "system-deps: apt-get update failed, trying anyway" >&2; \
	"$${apt[@]}" install -y --no-install-recommends "$${missing[@]}" >/dev/null

# The terminal is goodnet's logger plugin (snakemake_logger_plugin_goodnet): a line per
# finished job, a failed job's error and log, then the results (`goodnet results`). Job
# details go to logs/ and .snakemake/log/; plain `snakemake` prints as Snakemake does.
RUN := $(BIN)/snakemake --profile profiles/default --cores $(CORES) --logger goodnet

run: setup
	$(RUN)

# The demo with error bars: 5 replicates (config/study.yaml); replicate 1 is `make run`'s.
study: setup
	$(RUN) --configfile config/study.yaml

test: setup system-deps
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint
	$(BIN)/python -m pytest

# The edit-test loop: the unit tests only (no workflow runs, no browser), about a minute.
test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not workflow"

# A real one-node SLURM cluster on this machine (root or password-less sudo; installs
# Debian's slurm, munge, mariadb): the workflow through profiles/slurm + slurm-gpu,
# checked with sacct and against a local run. tests/slurm/run_goodnet.sh says more.
test-slurm: setup
	bash tests/slurm/run_goodnet.sh

bench: setup
	$(BIN)/python bench/bench_sweep.py

# The whole study at CSAW scale on stand-in data, as jobs (BENCHMARKS.md, "The whole study").
bench-study: setup
	$(BIN)/python bench/bench_study.py

# The trigger reverse-engineering: the demo's models of a finished `make run` (40 labels) and
# the real sunglasses BadNet at CSAW size (1283 labels) on stand-in data (BENCHMARKS.md).
bench-detect: setup
	$(BIN)/python bench/bench_detect.py --demo . --clean-controls 2020,2021 --csaw --write

# The job DAG and the rule graph of the demo default as SVG (graphviz; installed if
# missing). docs/rulegraph.svg (the README's picture) is a copy of results/rulegraph.svg.
dag: setup
	@$(MAKE) --no-print-directory system-deps SYSTEM_DEPS=dot:graphviz
	mkdir -p results
	$(BIN)/snakemake --dag > results/dag.dot
	dot -Tsvg results/dag.dot -o results/dag.svg
	$(BIN)/snakemake --rulegraph > results/rulegraph.dot
	dot -Tsvg results/rulegraph.dot -o results/rulegraph.svg

# The HTML report (plots and tables with their captions) of a finished `make run`.
report: setup
	$(BIN)/snakemake --report results/report.html

# config/README.md's key tables, from config/schema.yaml (a test fails when they drift).
docs: setup
	$(BIN)/python -m goodnet.config_doc

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile rules

clean:
	rm -rf results logs benchmarks/*/ benchmarks/*.tsv data/demo models/demo .snakemake
