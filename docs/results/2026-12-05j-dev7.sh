#!/usr/bin/env bash
# Sixteenth session's lead for the next GPU session (written for call 7, which never ran: no machine):
# decode shapes off the suite whose pick the refitted decode model changed, every width x split
# (variants_vs_default.py --variants decode-splits), what bounds a narrow decode tile's K-block turn
# (2026-12-05j-decode-floor.py), then the split-K and A-box GPU tests (the kernels compiled on the CPU machine
# and carried, where a cache is carried).
set -uo pipefail
start=$SECONDS
source benchmarks/device_env.sh
log=$OUT/log.txt
exec > >(tee -a "$log") 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
mkdir -p /tmp/fp8gen-cache
[ -f .scratch/cache16.tar.xz ] && tar -xJf .scratch/cache16.tar.xz -C /tmp/fp8gen-cache --strip-components=1
timeout 130 python benchmarks/variants_vs_default.py --variants decode-splits \
    --shapes docs/results/2026-12-05j-decode-check-shapes.toml --recipes tensor,row,block --json $OUT/decode-check.json
python docs/results/2026-12-05j-decode-floor.py
left=$((300 - (SECONDS - start)))
echo "GPU tests with $left s left"
timeout $left python -m pytest -q -n 16 --dist loadfile tests/gpu/test_split_k.py tests/gpu/test_a_box_rows.py 2>&1 | tail -5
