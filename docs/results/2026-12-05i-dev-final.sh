#!/usr/bin/env bash
# Final call: whole GPU test suite (kernels precompiled on the CPU machine: .scratch/cache15.tar.xz), the
# raster rule's bitwise/reference check, then raster 4 vs 8 alone at three large shapes.
# carry: [".whl", ".scratch/cache15.tar.xz"]
LOG=$OUT/log.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv >> $LOG
mkdir -p /tmp/c15 && python3 -c "import tarfile; tarfile.open('.scratch/cache15.tar.xz').extractall('/tmp/c15')"
FP8GEN_CACHE_DIR=/tmp/c15/cache15 bash benchmarks/gpu_tests.sh 330 $OUT/gt >> $LOG 2>&1
echo "== check ($SECONDS s)" >> $LOG
source benchmarks/device_env.sh
timeout 150 python docs/results/2026-12-05i-raster-check.py >> $LOG 2>&1
echo "== ab ($SECONDS s)" >> $LOG
timeout $((585 - SECONDS)) python docs/results/2026-12-05i-raster-ab.py >> $LOG 2>&1
echo "done $SECONDS s" >> $LOG
cat $LOG
