#!/usr/bin/env bash
# Sixteenth session, call 5: decode shapes, every tile width with every K split that fills half to all SMs
# (variants_vs_default.py --variants decode-splits), and Nsight Compute on the default kernels of two narrow
# decode shapes (L2 and DRAM traffic: is A's re-read from L2 what bounds them?).
set -uo pipefail
source benchmarks/device_env.sh
log=$OUT/log.txt
exec > >(tee -a "$log") 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
python benchmarks/variants_vs_default.py --variants decode-splits --recipes tensor,row,block \
    --json $OUT/decode-splits.json
for shape in 64x2112x7168 128x4096x7168; do
  ncu --csv --log-file $OUT/ncu-$shape.csv -k regex:fp8gen_gemm --launch-skip 2 --launch-count 1 --metrics \
gpu__time_duration.sum,lts__t_sectors_srcunit_tex_op_read.sum,lts__throughput.avg.pct_of_peak_sustained_elapsed,\
dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sector_hit_rate.pct,\
sm__cycles_elapsed.avg.per_second \
      python benchmarks/time_kernel.py --recipe tensor --shape $shape
done
