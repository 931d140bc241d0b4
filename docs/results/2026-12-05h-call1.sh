#!/usr/bin/env bash
# Session 14, call 1: epilogue_cost on the final erf-gelu tree (.scratch/final14.patch on 28bef30; kernels
# compiled here), then the candidates (.scratch/erf14-*.patch) A/B against 28bef30 (bias -> gelu, 128x192,
# per-tensor, bf16 output, alternating graph replays).
LOG=$OUT/log.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv >> $LOG
source benchmarks/device_env.sh
root=$PWD
rm -rf /tmp/final && cp -r . /tmp/final && (cd /tmp/final && git apply .scratch/final14.patch) || echo "final patch failed" >> $LOG
(cd /tmp/final && export PYTHONPATH=/tmp/site:/tmp/final FP8GEN_CACHE_DIR=/tmp/ec-final && \
  python benchmarks/epilogue_cost.py --build --jobs 16 > $OUT/ec-build.txt 2>&1 && echo "ec build $SECONDS s" >> $LOG && \
  timeout 150 python benchmarks/epilogue_cost.py --json $OUT/ec1.json > $OUT/ec1.txt 2>&1; echo "ec1 $SECONDS s" >> $LOG)
cd $root
export AB_OLD_CACHE=/tmp/ab-old
for v in d5clamp d5clampdefer d6clamp d5sel; do
  AB_NEW_CACHE=/tmp/ab-$v timeout $((585 - SECONDS)) bash benchmarks/ab_patch.sh .scratch/erf14-$v.patch --tiles 128x192 --recipes tensor --epilogue bias,gelu \
    --shapes 8192x8192x8192,4096x7168x16384,4096x7168x2048 --json $OUT/ab-$v.json >> $LOG 2>&1
  echo "ab $v done $SECONDS s" >> $LOG
done
