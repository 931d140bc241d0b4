#!/usr/bin/env bash
# Raster groups on the suite (per-tensor, per-row) and on shapes between 8192^3 and the large ones (all three).
source benchmarks/device_env.sh
timeout 270 python benchmarks/variants_vs_default.py --variants raster --shapes docs/results/2026-12-05i-raster-mid-shapes.toml \
  --recipes block,tensor,row --json $OUT/raster-mid.json > $OUT/raster-mid.txt 2>&1
timeout 300 python benchmarks/variants_vs_default.py --variants raster --shapes suite \
  --recipes tensor,row --json $OUT/raster-suite-tr.json > $OUT/raster-suite-tr.txt 2>&1
tail -22 $OUT/raster-mid.txt; tail -40 $OUT/raster-suite-tr.txt
