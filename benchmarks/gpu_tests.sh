#!/usr/bin/env bash
# The whole GPU test suite in one device call, within a time limit, its output kept as it goes:
# compile the tests' kernels first (one NVRTC process per core, precompiled headers), then run the tests
# on up to 16 pytest-xdist workers sharing the GPU. Run from the repository root on the GPU machine:
#
#     bash benchmarks/gpu_tests.sh [SECONDS [OUTDIR]]     # defaults: 540 s, $OUT (or ./gpu-tests-out)
#
# Writes OUTDIR/prebuild.txt and OUTDIR/gpu-tests.txt and prints the pytest summary. Kernels already in
# FP8GEN_CACHE_DIR (benchmarks/device_env.sh sets /tmp/fp8gen-cache) are not compiled again.
set -uo pipefail
cd "$(dirname "$0")/.."
limit=${1:-540}
out=${2:-${OUT:-gpu-tests-out}}
mkdir -p "$out"
source benchmarks/device_env.sh || exit 1
start=$SECONDS
left() { echo $((limit - (SECONDS - start))); }
# `timeout 0` would mean no limit at all: a phase with no time left does not start
within_limit() {
  if [ "$(left)" -le 0 ]; then echo "no time left for: $*" >&2; return 124; fi
  timeout "$(left)" "$@"
}

cores=$(nproc)
echo "prebuild: $cores NVRTC processes, $(left) s left"
within_limit python -m tests.gpu.prebuild --jobs "$cores" > "$out/prebuild.txt" 2>&1
echo "prebuild: exit $?, $(tail -1 "$out/prebuild.txt")"

workers=$((cores < 16 ? cores : 16))
echo "tests: $workers workers, $(left) s left"
within_limit python -m pytest -q -n "$workers" --dist loadfile -rf tests/gpu 2>&1 > "$out/gpu-tests.txt"
status=$?
tail -5 "$out/gpu-tests.txt"
echo "tests: exit $status after $((SECONDS - start)) s"
exit $status
