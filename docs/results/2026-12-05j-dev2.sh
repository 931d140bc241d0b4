#!/usr/bin/env bash
# Sixteenth session, call 2: block factors read at the end of the K block before (factors-ahead patch).
set -uo pipefail
source benchmarks/device_env.sh
log=$OUT/log.txt
exec > >(tee -a "$log") 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
patch=docs/results/2026-12-05j-factors-ahead.patch
echo "== A/B: factors ahead, block 128x192"
bash benchmarks/ab_patch.sh $patch --tiles 128x192 --recipes block \
    --shapes 8192x8192x8192,16384x16384x16384,4096x7168x16384,8192x10240x8192,2048x8192x28672,4096x4096x7168 \
    --json $OUT/ab-ahead.json
echo "== grouped, main"
python benchmarks/bench_grouped.py --recipes block --json $OUT/grouped-main.json
git apply $patch
echo "== grouped, factors ahead"
python benchmarks/bench_grouped.py --recipes block --json $OUT/grouped-ahead.json
echo "== suite, factors ahead"
python -m fp8gen bench --recipe tensor,row,block --json $OUT/suite-ahead.json --plot $OUT/suite-ahead.png
