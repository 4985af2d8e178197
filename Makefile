# One command to run the workflow on the bundled demo, one to run the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all
# Test files `make test` runs at a time (pytest-xdist; each file's tests on one worker).
TEST_WORKERS ?= 2
# The results folder `make report` reports (a run's results_dir).
RESULTS ?= results

.PHONY: run report test lint bench clean setup setup-test

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
	$(MAKE) --no-print-directory report RESULTS=results
	@echo
	@echo "Results:  $(CURDIR)/results/"
	@echo "Summary:  $(CURDIR)/results/summary.tsv"
	@echo "Report:   $(CURDIR)/results/report.html"

# The report of the last run into $(RESULTS), with that run's own config (every
# --config option included: the run keeps it in $(RESULTS)/run_config.yaml).
report: setup
	@test -f "$(RESULTS)/run_config.yaml" || { echo "make report: no run_config.yaml in $(RESULTS): run the workflow into it first (or give RESULTS=the run's results_dir)" >&2; exit 2; }
	$(BIN)/snakemake --cores 1 --profile profiles/default --configfile "$(RESULTS)/run_config.yaml" --report "$(RESULTS)/report.html" finished

test: setup-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -ra --numprocesses $(TEST_WORKERS) --dist loadfile

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

bench: setup-test
	$(BIN)/python benchmarks/bench_spatial_psf.py

clean:
	rm -rf results .snakemake
