#!/usr/bin/env bash
# Sixteenth session, call 6 (the refitted decode model in the tree): decode shapes off the suite whose pick
# changed, every width x split (variants_vs_default.py --variants decode-splits);
# the GPU tests, with the kernels compiled on the CPU machine and carried (.scratch/cache16.tar.xz).
set -uo pipefail
start=$SECONDS
source benchmarks/device_env.sh
log=$OUT/log.txt
exec > >(tee -a "$log") 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
mkdir -p /tmp/fp8gen-cache && tar -xJf .scratch/cache16.tar.xz -C /tmp/fp8gen-cache --strip-components=1
ls /tmp/fp8gen-cache | wc -l
python benchmarks/variants_vs_default.py --variants decode-splits \
    --shapes docs/results/2026-12-05j-decode-check-shapes.toml --recipes tensor,row,block --json $OUT/decode-check.json
# (the suite bench was dropped: the device budget left after a failed start did not cover it)
left=$((350 - (SECONDS - start)))
echo "GPU tests with $left s left"
bash benchmarks/gpu_tests.sh $left $OUT/gt
