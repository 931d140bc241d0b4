"""Next session's lead: why raster groups of 4 beat 8 at 16384^3 (docs/performance.md, fifteenth session).
Runs the block-scale 128x192 kernel with groups 4 and 8 (and 16) once each at 16384^3, after a warm-up, for
Nsight Compute:

    python docs/results/2026-12-05i-next-ncu-raster.py build
    ncu --csv --log-file $OUT/ncu.csv -k regex:fp8gen_gemm --launch-skip 3 --metrics \\
      gpu__time_duration.sum,sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_elapsed,\\
lts__t_sector_hit_rate.pct,dram__bytes_read.sum,lts__t_sectors_srcunit_tex_op_read.sum,\\
lts__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed \\
      python docs/results/2026-12-05i-next-ncu-raster.py run

(--launch-skip 3 skips the warm-up launches; the three profiled launches are groups 4, 8, 16 in that order.)
"""
import sys

import torch

import fp8gen
from fp8gen.bench import random_inputs
from fp8gen.build import build_many
from fp8gen.heuristics import choose_spec
from fp8gen.spec import ScaleRecipe

M = N = K = 16384
GROUPS = (4, 8, 16)


def specs():
    rule = choose_spec(M, N, K, "e4m3", "e4m3", "bf16", ScaleRecipe("group"), ScaleRecipe("block"))
    return [rule.with_changes(raster_group=g) for g in GROUPS]


def main():
    if sys.argv[1:] == ["build"]:
        build_many(specs(), jobs=len(GROUPS))
        return
    x = random_inputs("block", M, N, K)
    kernels = [fp8gen.compile(s) for s in specs()]
    for kernel in kernels:  # warm-up, skipped by ncu
        kernel(x.a, x.b, *x.ours, out=x.out)
    for kernel in kernels:
        kernel(x.a, x.b, *x.ours, out=x.out)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main()
