#!/usr/bin/env bash
# GPU readiness check (issue 16 target 3): one command on a machine with a GPU, a table at the end.
#
#   bash benchmarks/gpu_check.sh            # paper scale: ResNet-50 @ 256 px, 4/8/16 loader workers, 1/2/4 trainings,
#                                           # card placement: cards x 2 probes (and trainings, on several cards)
#   bash benchmarks/gpu_check.sh --smoke    # tiny settings on the CPU: checks the script itself
#
# Steps: (1) the demo data and a DISFA cache at 256 px (64 px with --smoke), built by the workflow in a scratch
# folder ($GPU_CHECK_DIR, default /tmp/g2rl_gpu_check; reused when already there); (2) benchmarks/gpu_check.py
# on that cache and one demo video. Limits: the build GPU_CHECK_BUILD_TIMEOUT (default 240 s), each measured
# part GPU_CHECK_PART_TIMEOUT (default 60 s), the measuring script as a whole GPU_CHECK_TIMEOUT (default
# 420 s): under 11 minutes in the worst case, about 3 on a GPU machine. Uses $PYTHON (default: python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
DIR=${GPU_CHECK_DIR:-/tmp/g2rl_gpu_check}
SMOKE=()
CROP=256
DEVICE=auto
if [[ "${1:-}" == "--smoke" ]]; then SMOKE=(--smoke); CROP=64; DEVICE=cpu; DIR=${GPU_CHECK_DIR:-/tmp/g2rl_gpu_check_smoke}; fi
mkdir -p "$DIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PATH="$(dirname "$(command -v "$PY")"):$PATH"  # the workflow's rules run `python -m g2rl`
export PATH
t0=$(date +%s)
CACHE="$DIR/results/disfa/cache"
echo "preprocess: {crop_size: $CROP}" > "$DIR/crop_size.yaml"
if ! timeout "${GPU_CHECK_BUILD_TIMEOUT:-240}" "$PY" -m snakemake results/disfa/cache/heatmaps_sigma2.h5 \
    --cores all -s "$PWD/Snakefile" -d "$DIR" --configfile "$PWD/config/config.yaml" "$DIR/crop_size.yaml" \
    > "$DIR/build.log" 2>&1; then
  echo "cache build failed or timed out: see $DIR/build.log"
  tail -5 "$DIR/build.log"
  exit 1
fi
echo "# DISFA demo cache at $CROP px ready after $(( $(date +%s) - t0 )) s"
VIDEO=$(ls "$DIR"/results/demo_data/DISFA/Videos_LeftCamera/*.avi | head -1)
timeout "${GPU_CHECK_TIMEOUT:-420}" "$PY" benchmarks/gpu_check.py "${SMOKE[@]}" --device "$DEVICE" \
  --timeout "${GPU_CHECK_PART_TIMEOUT:-60}" --crops "$CACHE/crops.h5" --heatmaps "$CACHE/heatmaps_sigma2.h5" \
  --video "$VIDEO"
echo "# gpu_check.sh done in $(( $(date +%s) - t0 )) s"
