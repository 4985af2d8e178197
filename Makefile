# One command to run the workflow on the bundled demo, one to run the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all

.PHONY: run test lint bench clean setup setup-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[workflow]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed-run

setup: $(VENV)/.installed-run
setup-test: $(VENV)/.installed-test

run: setup
	$(BIN)/snakemake --cores $(CORES) --profile profiles/default
	$(BIN)/snakemake --cores 1 --profile profiles/default --report results/report.html
	@echo
	@echo "Results:  $(CURDIR)/results/"
	@echo "Summary:  $(CURDIR)/results/summary.tsv"
	@echo "Report:   $(CURDIR)/results/report.html"

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -ra

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

bench: setup-test
	$(BIN)/python benchmarks/bench_spatial_psf.py

clean:
	rm -rf results .snakemake
