#!/usr/bin/env bash
# A/B of a source patch on the GPU machine: the kernels of this tree (old) against those of a copy with PATCH
# applied (new), through benchmarks/ab_cache.py (same inputs, alternating CUDA-graph replays, outputs compared
# bit for bit). Run from the repository root; the arguments after PATCH go to ab_cache.py:
#
#     bash benchmarks/ab_patch.sh docs/results/2026-12-05-uniform-wgmma-descriptors.patch \
#         --tiles 128x128,128x192 --recipes tensor,row,block --json "$OUT/ab.json"
#
# AB_OLD_CACHE / AB_NEW_CACHE name kernel caches to use and fill (default: empty ones), e.g. caches compiled
# ahead with `ab_cache.py --build-only` on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
patch=$(realpath "$1")
shift
source benchmarks/device_env.sh
work=$(mktemp -d)
old_cache=${AB_OLD_CACHE:-$work/old-cache}
new_cache=${AB_NEW_CACHE:-$work/new-cache}
FP8GEN_CACHE_DIR="$old_cache" python benchmarks/ab_cache.py --build-only "$@"
cp -r . "$work/new"
(cd "$work/new" && git apply "$patch")
cd "$work/new"
PYTHONPATH="/tmp/site:$work/new" FP8GEN_CACHE_DIR="$new_cache" \
    python benchmarks/ab_cache.py --old-cache "$old_cache" "$@"
