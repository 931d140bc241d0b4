#!/usr/bin/env bash
# Raster groups 1..32 on each shape's default spec, at large shapes (16384^3 took raster group 2-4 faster
# than the default 8 for block scales in this session's suite run).
source benchmarks/device_env.sh
timeout 560 python benchmarks/variants_vs_default.py --variants raster --shapes docs/results/2026-12-05i-raster-shapes.toml \
  --recipes block,tensor,row --json $OUT/raster-large.json > $OUT/raster-large.txt 2>&1
tail -40 $OUT/raster-large.txt
