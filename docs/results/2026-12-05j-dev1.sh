#!/usr/bin/env bash
# Sixteenth session, call 1: where the block recipe's time goes at 128x192 (against per-tensor), and why
# raster groups of 4 win at 16384^3.
set -uo pipefail
source benchmarks/device_env.sh
log=$OUT/log.txt
exec > >(tee -a "$log") 2>&1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv
SHAPES=8192x8192x8192,16384x16384x16384,4096x7168x16384
echo "== A/B: block factors replaced by 1 (upper bound of the factor work; outputs differ)"
bash benchmarks/ab_patch.sh docs/results/2026-12-05j-const-factors.patch --tiles 128x192 --recipes tensor,block \
    --shapes $SHAPES --json $OUT/ab-const.json
echo "== A/B: block scales in column halves"
bash benchmarks/ab_patch.sh docs/results/2026-12-05j-block-halves.patch --tiles 128x192 --recipes block \
    --shapes $SHAPES --json $OUT/ab-halves.json
echo "== ncu: raster groups 4, 8, 16 at 16384^3 block"
python docs/results/2026-12-05i-next-ncu-raster.py build
ncu --csv --log-file $OUT/ncu-raster.csv -k regex:fp8gen_gemm --launch-skip 3 --metrics \
gpu__time_duration.sum,sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_elapsed,\
lts__t_sector_hit_rate.pct,dram__bytes_read.sum,lts__t_sectors_srcunit_tex_op_read.sum,\
lts__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed \
    python docs/results/2026-12-05i-next-ncu-raster.py run
echo "== ncu source pages: block vs per-tensor, 8192^3, 128x192"
for r in block tensor; do
  ncu --set full --import-source no -k regex:fp8gen_gemm --launch-skip 2 --launch-count 1 -o /tmp/src-$r \
      python benchmarks/time_kernel.py --recipe $r --shape 8192x8192x8192 > /tmp/ncu-$r.log 2>&1 || tail -5 /tmp/ncu-$r.log
  ncu -i /tmp/src-$r.ncu-rep --page source --csv --print-source sass > /tmp/src-$r.csv
  ncu -i /tmp/src-$r.ncu-rep --page details --csv > /tmp/details-$r.csv
  xz -T0 -c /tmp/src-$r.csv > $OUT/src-$r.csv.xz
  xz -T0 -c /tmp/details-$r.csv > $OUT/details-$r.csv.xz
done
python benchmarks/ncu_stalls.py /tmp/src-block.csv /tmp/src-tensor.csv --top 8
