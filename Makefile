# goodnet: `make run` builds the demo GoodNets, `make test` runs every test.
# Both create the project's virtual environment (.venv) first if needed.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= $(shell nproc)
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup run test test-slurm bench dag report lint format clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

run: setup
	$(BIN)/snakemake --profile profiles/default --cores $(CORES)

test: setup
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint
	$(BIN)/python -m pytest

test-slurm: setup
	bash tests/slurm/run_test.sh

bench: setup
	$(BIN)/python benchmarks/bench_sweep.py

dag: setup
	mkdir -p results
	$(BIN)/snakemake --dag | dot -Tsvg > results/dag.svg
	$(BIN)/snakemake --rulegraph | dot -Tsvg > results/rulegraph.svg

report: setup
	$(BIN)/snakemake --report results/report.html

format: setup
	$(BIN)/snakefmt Snakefile rules

clean:
	rm -rf results logs benchmarks/*/ benchmarks/*.tsv data/demo models/demo .snakemake
