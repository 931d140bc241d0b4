#!/usr/bin/env bash
# Sixteenth session, call 4: which part of the block factors costs: per-thread factors from registers (no
# shared loads, products or selects in the loop; FFMA with three register operands) against factors
# replaced by 1 (FFMA with an immediate). Outputs differ from main's in both.
set -uo pipefail
source benchmarks/device_env.sh
log=$OUT/log.txt
exec > >(tee -a "$log") 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
SHAPES=8192x8192x8192,16384x16384x16384,4096x7168x16384,2048x8192x28672
for p in register-factors const-factors; do
  echo "== A/B: $p, block 128x192"
  AB_OLD_CACHE=/tmp/ab-old bash benchmarks/ab_patch.sh docs/results/2026-12-05j-$p.patch --tiles 128x192 \
      --recipes block --shapes $SHAPES --json $OUT/ab-$p.json
done
