#!/usr/bin/env bash
# Session 13, call 1: GPU tests of HEAD (kernels from the carried caches), then the fast erf gelu candidates
# (.scratch/erf-{exact,clamp,defer}.patch) A/B against HEAD (bias -> gelu, 128x192, per-tensor).
LOG=$OUT/log.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv >> $LOG
mkdir -p /tmp/caches && [ -d /tmp/caches/new ] || python3 -c "import tarfile; tarfile.open('.scratch/device-caches.tar.xz').extractall('/tmp/caches')"
FP8GEN_CACHE_DIR=/tmp/caches/new bash benchmarks/gpu_tests.sh 220 $OUT/gt >> $LOG 2>&1
echo "tests done $SECONDS s" >> $LOG
source benchmarks/device_env.sh
export AB_OLD_CACHE=/tmp/ab-old
for v in exact clamp torch defer torchdefer; do
  AB_NEW_CACHE=/tmp/ab-$v timeout $((595 - SECONDS)) bash benchmarks/ab_patch.sh .scratch/erf-$v.patch --tiles 128x192 --recipes tensor --epilogue bias,gelu \
    --shapes 8192x8192x8192,4096x7168x16384,4096x7168x2048 --json $OUT/ab-$v.json >> $LOG 2>&1
  echo "ab $v done $SECONDS s" >> $LOG
done
