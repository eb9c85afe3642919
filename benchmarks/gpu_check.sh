#!/usr/bin/env bash
# GPU readiness check: one command on a machine with a GPU, one table and one JSON record at the end.
#
#   bash benchmarks/gpu_check.sh            # paper scale: ResNet-50 @ 256 px (benchmarks/gpu_check.py says what)
#   bash benchmarks/gpu_check.sh --smoke    # tiny settings on the CPU: checks the script itself (CI does)
#
# Needs only Python with torch, torchvision, torch-geometric, h5py, OpenCV, pandas and numpy: no dlib, no
# Snakemake, no network, no cache brought along. Steps: (1) `gpu_check.py build` writes a synthetic 256 px
# DISFA-like cache (4,000 frames, the paper config's 24 heatmap channels; 48 frames at 64 px with --smoke)
# with g2rl's own cache writers into $GPU_CHECK_DIR (default /tmp/g2rl_gpu_check, or ..._smoke), reused when
# there; (2) `gpu_check.py measure` on it, every part under its own time limit, all of them within
# GPU_CHECK_BUDGET seconds (default 420). Limits: the build GPU_CHECK_BUILD_TIMEOUT (default 120 s), the
# measurement its budget + 60 s: under 10 minutes in all. The record goes to $GPU_CHECK_OUT/gpu_check.json
# (default: the scratch folder). Python: $PYTHON, else .venv/bin/python, else /opt/torch/.venv/bin/python,
# else python3.
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then PY=$PYTHON
elif [[ -x .venv/bin/python ]]; then PY=.venv/bin/python
elif [[ -x /opt/torch/.venv/bin/python ]]; then PY=/opt/torch/.venv/bin/python
else PY=python3; fi
SMOKE=()
DIR=${GPU_CHECK_DIR:-/tmp/g2rl_gpu_check}
if [[ "${1:-}" == "--smoke" ]]; then SMOKE=(--smoke --device cpu); DIR=${GPU_CHECK_DIR:-/tmp/g2rl_gpu_check_smoke}; fi
OUT=${GPU_CHECK_OUT:-$DIR}
BUDGET=${GPU_CHECK_BUDGET:-420}
mkdir -p "$DIR" "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
t0=$(date +%s)
echo "# gpu_check.sh: $PY ($("$PY" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)' 2>&1))"
if [[ ! -f "$DIR/crops.h5" || ! -f "$DIR/heatmaps_sigma2.h5" ]]; then
  if ! timeout "${GPU_CHECK_BUILD_TIMEOUT:-120}" "$PY" benchmarks/gpu_check.py build --out "$DIR" "${SMOKE[@]}" \
      > "$DIR/build.log" 2>&1; then
    echo "cache build failed or timed out: see $DIR/build.log"
    tail -5 "$DIR/build.log"
    exit 1
  fi
  cat "$DIR/build.log"
fi
echo "# cache ready after $(( $(date +%s) - t0 )) s"
timeout $(( BUDGET + 60 )) "$PY" benchmarks/gpu_check.py measure "${SMOKE[@]}" --budget "$BUDGET" \
  --crops "$DIR/crops.h5" --heatmaps "$DIR/heatmaps_sigma2.h5" --record "$OUT/gpu_check.json"
rc=$?
echo "# gpu_check.sh done in $(( $(date +%s) - t0 )) s (exit $rc); record: $OUT/gpu_check.json"
exit $rc
