#!/usr/bin/env bash
# Session 14, call 6: the erf chain's whole epilogue cost, an upper bound on hiding it: the bias -> gelu kernel
# with its store replaced by a sum of the accumulators (.scratch/no-epilogue.patch), A/B against the tree.
LOG=$OUT/log.txt
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv >> $LOG
source benchmarks/device_env.sh
AB_OLD_CACHE=/tmp/ab-old AB_NEW_CACHE=/tmp/ab-new timeout 100 bash benchmarks/ab_patch.sh .scratch/no-epilogue.patch --tiles 128x192 --recipes tensor --epilogue bias,gelu \
    --shapes 8192x8192x8192,4096x7168x16384 --json $OUT/ab-noepi-bias-gelu.json >> $LOG 2>&1
echo "done $SECONDS s" >> $LOG
