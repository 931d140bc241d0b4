#!/usr/bin/env bash
# Session 14, call 3 (tree c194eba): the GPU tests, epilogue_cost, then the deferred erf gelu with the whole
# head batch (.scratch/erf14-defer.patch) and with its left half only (.scratch/erf14-halfhead.patch) A/B
# against the tree (bias -> gelu, 128x192, per-tensor, bf16 output).
LOG=$OUT/log.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv >> $LOG
source benchmarks/device_env.sh
bash benchmarks/gpu_tests.sh 330 $OUT/gt >> $LOG 2>&1
echo "tests done $SECONDS s" >> $LOG
FP8GEN_CACHE_DIR=/tmp/ec python benchmarks/epilogue_cost.py --build --jobs 16 > /dev/null 2>&1
FP8GEN_CACHE_DIR=/tmp/ec timeout 100 python benchmarks/epilogue_cost.py --json $OUT/ec.json > $OUT/ec.txt 2>&1
echo "ec done $SECONDS s" >> $LOG
export AB_OLD_CACHE=/tmp/ab-old
for v in halfhead defer; do
  AB_NEW_CACHE=/tmp/ab-$v timeout $((590 - SECONDS)) bash benchmarks/ab_patch.sh .scratch/erf14-$v.patch --tiles 128x192 --recipes tensor --epilogue bias,gelu \
    --shapes 8192x8192x8192,4096x7168x16384,4096x7168x2048 --json $OUT/ab-$v.json >> $LOG 2>&1
  echo "ab $v done $SECONDS s" >> $LOG
done
