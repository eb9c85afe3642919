# The two commands of the README:
#   make demo   set up .venv, run the whole demo reproduction (snakemake --cores all), write results/report.html
#   make test   set up .venv and run the test suite
# Other targets: make setup (only the environment), make clean-results.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test clean-results

setup: $(STAMP)

# Exact pins from envs/constraints.txt (torch 2.14.1 / torchvision 0.29.1 among them).
$(STAMP): pyproject.toml envs/constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3.x"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c envs/constraints.txt -e '.[test,workflow]'
	touch $(STAMP)

# The whole reproduction, then the HTML report of its tables and figures.
demo: setup
	$(BIN)/snakemake --cores all
	$(BIN)/snakemake --report results/report.html

test: setup
	$(BIN)/python -m pytest

clean-results:
	rm -rf results .snakemake
