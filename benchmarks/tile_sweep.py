"""Time every candidate tile shape (and raster group) on a few suite shapes, per-tensor e4m3, bf16 out.

    python benchmarks/tile_sweep.py

Prints, per shape, the candidates sorted by median TFLOP/s (do_bench). Used to choose the defaults
in fp8gen/heuristics.py.
"""

import argparse

import torch

import fp8gen
from fp8gen.build import build_many
from tests.gpu.support import random_fp8, random_scale

SHAPES = [(64, 4096, 7168), (128, 2112, 7168), (64, 7168, 2048), (64, 2112, 7168),
          (4096, 7168, 2048), (4096, 32768, 512), (8192, 8192, 8192)]


def candidates(m: int) -> list[fp8gen.GemmSpec]:
    if m <= 128:
        return [fp8gen.GemmSpec(tile=t) for t in [(64, 32, 128), (64, 64, 128), (64, 128, 128),
                                                  (128, 64, 128), (128, 128, 128)]]
    return [fp8gen.GemmSpec(tile=t, raster_group=g) for t in [(128, 128, 128), (128, 64, 128), (64, 128, 128),
                                                              (256, 64, 128)] for g in (4, 8, 16)]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    from triton.testing import do_bench  # (with torch's CUDA builds)

    build_many(list(dict.fromkeys(s for m, _, _ in SHAPES for s in candidates(m))), jobs=16)
    g = torch.Generator(device="cuda")
    g.seed()
    for m, n, k in SHAPES:
        a, b = random_fp8(m, k, torch.float8_e4m3fn, g), random_fp8(n, k, torch.float8_e4m3fn, g)
        sa, sb = random_scale(g), random_scale(g)
        out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
        timed = []
        for spec in candidates(m):
            kernel = fp8gen.compile(spec)
            ms = do_bench(lambda: kernel(a, b, sa, sb, out=out), return_mode="median")
            timed.append((2 * m * n * k / ms / 1e9, f"{spec.name} raster_group={spec.raster_group}"))
        print(f"{m}x{n}x{k}")
        for tflops, name in sorted(timed, reverse=True):
            print(f"   {tflops:7.1f} {name}")


if __name__ == "__main__":
    main()
