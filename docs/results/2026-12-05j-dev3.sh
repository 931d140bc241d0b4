#!/usr/bin/env bash
# Sixteenth session, call 3: the next batch's block factors read while this batch's MMA runs
# (factors-during-mma.patch); the grouped and suite benches only if the A/B gains.
set -uo pipefail
source benchmarks/device_env.sh
log=$OUT/log.txt
exec > >(tee -a "$log") 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
patch=docs/results/2026-12-05j-factors-during-mma.patch
echo "== A/B: factors during MMA, block 128x192"
bash benchmarks/ab_patch.sh $patch --tiles 128x192 --recipes block \
    --shapes 8192x8192x8192,16384x16384x16384,4096x7168x16384,8192x10240x8192,2048x8192x28672,4096x4096x7168 \
    --json $OUT/ab-during.json
gain=$(grep -o "geomean speedup [0-9.]*" $log | tail -1 | awk '{print $3}')
python3 -c "import sys; sys.exit(0 if float('$gain') > 1.005 else 1)" || { echo "no gain ($gain): stop"; exit 0; }
echo "== grouped, main"
python benchmarks/bench_grouped.py --recipes block --json $OUT/grouped-main.json
git apply $patch
echo "== grouped, factors during MMA"
python benchmarks/bench_grouped.py --recipes block --json $OUT/grouped-during.json
echo "== suite, factors during MMA"
python -m fp8gen bench --recipe tensor,row,block --json $OUT/suite-during.json --plot $OUT/suite-during.png
