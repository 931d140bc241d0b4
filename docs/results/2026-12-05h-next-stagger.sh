#!/usr/bin/env bash
# Next session, first call: staggered consumers (docs/results/2026-12-05h-stagger.patch) A/B against the tree.
LOG=$OUT/log.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv >> $LOG
source benchmarks/device_env.sh
export AB_OLD_CACHE=/tmp/ab-old
AB_NEW_CACHE=/tmp/ab-new timeout 280 bash benchmarks/ab_patch.sh docs/results/2026-12-05h-stagger.patch --tiles 128x192 \
  --recipes tensor,row,block --shapes 8192x8192x8192,4096x7168x16384,4096x7168x2048,16384x16384x16384 --json $OUT/ab-plain.json >> $LOG 2>&1
echo "plain done $SECONDS s" >> $LOG
for e in bias,gelu bias,gelu_tanh; do
  AB_NEW_CACHE=/tmp/ab-new timeout $((560 - SECONDS)) bash benchmarks/ab_patch.sh docs/results/2026-12-05h-stagger.patch --tiles 128x192 \
    --recipes tensor --epilogue $e --shapes 8192x8192x8192,4096x7168x16384,4096x7168x2048 --json $OUT/ab-${e//,/-}.json >> $LOG 2>&1
  echo "$e done $SECONDS s" >> $LOG
done
