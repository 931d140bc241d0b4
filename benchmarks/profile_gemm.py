"""One fp8gen.gemm call per shape, for Nsight Compute.

    ncu --clock-control none -k regex:fp8gen --launch-count 2 --section SpeedOfLight \
        --section WarpStateStats --section MemoryWorkloadAnalysis --section LaunchStats \
        --section Occupancy python benchmarks/profile_gemm.py
"""

import torch

import fp8gen
from tests.gpu.support import random_fp8, random_scale

SHAPES = [(8192, 8192, 8192), (4096, 32768, 512)]

if __name__ == "__main__":
    g = torch.Generator(device="cuda")
    g.seed()
    for m, n, k in SHAPES:
        a, b = random_fp8(m, k, torch.float8_e4m3fn, g), random_fp8(n, k, torch.float8_e4m3fn, g)
        fp8gen.gemm(a, b, random_scale(g), random_scale(g))
    torch.cuda.synchronize()
