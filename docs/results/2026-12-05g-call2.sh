#!/usr/bin/env bash
# Session 13, call 2 (short): the GPU test modules with gelu kernels on this tree (kernels from
# .scratch/device-caches13.tar.xz), then benchmarks/epilogue_cost.py twice.
LOG=$OUT/log.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv >> $LOG
mkdir -p /tmp/caches13 && [ -d /tmp/caches13/new ] || python3 -c "import tarfile; tarfile.open('.scratch/device-caches13.tar.xz').extractall('/tmp/caches13')"
export FP8GEN_CACHE_DIR=/tmp/caches13/new
source benchmarks/device_env.sh
echo "setup $SECONDS s" >> $LOG
timeout 240 python -m pytest -q -n 16 --dist loadfile -rf tests/gpu/test_epilogue.py tests/gpu/test_gemm_special_values.py \
  tests/gpu/test_pingpong.py tests/gpu/test_torch_integration.py > $OUT/gpu-tests.txt 2>&1
tail -3 $OUT/gpu-tests.txt >> $LOG; echo "tests done $SECONDS s" >> $LOG
for r in 1 2; do
  timeout $((500 - SECONDS)) python benchmarks/epilogue_cost.py --json $OUT/ec$r.json > $OUT/ec$r.txt 2>&1
  echo "ec $r done $SECONDS s" >> $LOG
done
