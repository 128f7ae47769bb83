#!/usr/bin/env bash
# The GPU checks of `--device cuda`, as one prepared script for an NVIDIA GPU machine (< 8 min):
#
#   0. the exact integer GEMM back end chosen on each device (its self-checks and timing probe);
#   1. the CUDA tests (they skip where CUDA is absent, so here they must run, not skip):
#      exact int_matmul on the GPU against the CPU, a quantized GEMM's output and counts on both
#      devices, evaluate on the GPU against the CPU; with them the device, intmm and streaming tests;
#   2. a timing of `panacea evaluate` (the bench_scale worker) on a Llama-3.2-1B-shaped model on
#      the GPU, beside the same on the CPU cores there for the ratio.
#
# It needs a Python with a CUDA build of torch and the project's other dependencies importable
# (the project itself is taken from src/); PYTHON picks the interpreter (default python3).
# Usage: bash benchmarks/device_check.sh [OUT_DIR]      (writes OUT_DIR/device_check.log, *.csv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${1:-device-check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export PANACEA_CACHE=${PANACEA_CACHE:-$OUT/cache}
exec > >(tee "$OUT/device_check.log") 2>&1

"$PY" - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit(f"device_check: CUDA is not available (torch {torch.__version__}, CUDA build {torch.version.cuda})")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
from panacea.core.intmm_choice import choose_backend, cpu_features
print(cpu_features())
for device in ("cpu", "cuda"):
    print(choose_backend(device).describe())
PY

echo "== 1. CUDA tests"
"$PY" -m pytest -q -rs -p no:cacheprovider tests/models/test_device.py tests/core/test_intmm.py tests/core/test_intmm_backends.py tests/core/test_intmm_choice.py tests/models/test_streaming.py
skipped=$("$PY" -m pytest -q -p no:cacheprovider tests/models/test_device.py -rs 2>&1 | grep -c "needs CUDA" || true)
[ "$skipped" -eq 0 ] || { echo "device_check: $skipped CUDA tests skipped on a CUDA machine"; exit 1; }

echo "== 2. evaluate on a 1B-shaped Llama (2048 tokens), GPU then CPU"
time "$PY" benchmarks/bench_scale.py --sizes 1b --device cuda --csv "$OUT/bench_scale_cuda.csv"
time "$PY" benchmarks/bench_scale.py --sizes 1b --device cpu --csv "$OUT/bench_scale_cpu.csv"
echo "device_check: done"
