"""Error and speed of the accumulation modes (promotion interval, fast accumulation).

    python benchmarks/accumulation.py

M = N = 8192, K in {16384, 8192}, e4m3 inputs, per-tensor scales. For each mode and output dtype:
the relative Frobenius error of the top-left 1024x1024 block against float64, and the median
TFLOP/s of two do_bench runs (so run-to-run spread is visible).
"""

import argparse

import torch

import fp8gen
from fp8gen.build import build_many
from tests.gpu.support import gemm_error, random_fp8, random_scale, reference_gemm

MODES = [dict(promotion_interval=p) for p in (32, 64, 128)] + [dict(accumulation="fast")]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    from triton.testing import do_bench  # (with torch's CUDA builds)

    specs = [fp8gen.GemmSpec(out=out, **mode) for out in ("bf16", "f32") for mode in MODES]
    build_many(specs, jobs=len(specs))
    g = torch.Generator(device="cuda")
    g.seed()
    m = n = 8192
    for k in (16384, 8192):
        a, b = random_fp8(m, k, torch.float8_e4m3fn, g), random_fp8(n, k, torch.float8_e4m3fn, g)
        sa, sb = random_scale(g), random_scale(g)
        ref = reference_gemm(a[:1024], b[:1024], sa, sb)
        for spec in specs:
            kernel = fp8gen.compile(spec)
            out = torch.empty(m, n, dtype=kernel.out_dtype, device="cuda")
            kernel(a, b, sa, sb, out=out)
            err = gemm_error(out[:1024, :1024], ref, a[:1024].double() * sa, b[:1024].double() * sb)
            tflops = [2 * m * n * k / do_bench(lambda: kernel(a, b, sa, sb, out=out), return_mode="median") / 1e9
                      for _ in range(2)]
            print(f"K={k} {spec.name:60s} err {err:.2e}  TFLOP/s {tflops[0]:.0f} {tflops[1]:.0f}", flush=True)


if __name__ == "__main__":
    main()
