#!/usr/bin/env bash
# The raster-group rule (heuristics.LARGE_PROBLEM_MACS): whole GPU test suite, bitwise check of the rule's
# kernels against raster 8 at two large shapes, then the suite bench twice.
LOG=$OUT/log.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv >> $LOG
bash benchmarks/gpu_tests.sh 300 $OUT/gt >> $LOG 2>&1
source benchmarks/device_env.sh
echo "== check ($SECONDS s)" >> $LOG
timeout 90 python docs/results/2026-12-05i-raster-check.py >> $LOG 2>&1
for run in 1 2; do
  echo "== suite $run ($SECONDS s)" >> $LOG
  timeout $(( (580 - SECONDS) / (3 - run) )) python -m fp8gen bench --recipe tensor,row,block --json $OUT/suite$run.json \
    $([ $run = 1 ] && echo --plot $OUT/suite1.png) > $OUT/suite$run.txt 2>&1
  grep geomean $OUT/suite$run.txt >> $LOG
done
echo "done $SECONDS s" >> $LOG
cat $LOG
