"""What each part of a scaling recipe costs: the same tile with per-tensor, B block, A group and group x
block scales (and stage counts), timed in one run with alternating CUDA-graph replays over rotating inputs.

    python benchmarks/recipe_cost.py [--shapes 8192x8192x8192,4096x7168x16384,8192x10240x8192]
"""

from __future__ import annotations

import argparse
import sys

import torch

import fp8gen
from fp8gen.bench import graph_ms, input_set_count, random_scale
from fp8gen.build import build_many
from fp8gen.spec import GemmSpec

# (scale_a, scale_b, stages, tile width)
VARIANTS = [("tensor", "tensor", 6, 128), ("tensor", "tensor", 5, 128), ("tensor", "block", 6, 128),
            ("group", "tensor", 5, 128), ("group", "block", 5, 128), ("group", "block", 4, 128),
            ("tensor", "tensor", "auto", 192), ("group", "block", "auto", 192)]


def variant_specs() -> list[GemmSpec]:
    return [GemmSpec(scale_a=a, scale_b=b, tile=(128, w, 128), stages=s) for a, b, s, w in VARIANTS]


def time_shape(m: int, n: int, k: int, specs: list[GemmSpec]) -> list[float]:
    sets = input_set_count(m, n, k)
    a = [(torch.randn(m, k, device="cuda") * 4).to(torch.float8_e4m3fn) for _ in range(sets)]
    b = [(torch.randn(n, k, device="cuda") * 4).to(torch.float8_e4m3fn) for _ in range(sets)]
    out = [torch.empty(m, n, dtype=torch.bfloat16, device="cuda") for _ in range(sets)]
    call_lists = []
    for spec in specs:
        kernel = fp8gen.compile(spec)
        sa = [random_scale(spec.scale_a.kind, m, k) for _ in range(sets)]
        sb = [random_scale(spec.scale_b.kind, n, k) for _ in range(sets)]
        call_lists.append([lambda i=i, kernel=kernel, sa=sa, sb=sb: kernel(a[i], b[i], sa[i], sb[i], out=out[i], split_k=1)
                           for i in range(sets)])
    return [2.0 * m * n * k / ms / 1e9 for ms in graph_ms(*call_lists)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="8192x8192x8192,4096x7168x16384,8192x10240x8192")
    args = parser.parse_args(argv)
    specs = variant_specs()
    build_many(specs, jobs=len(specs))
    for shape in args.shapes.split(","):
        m, n, k = (int(x) for x in shape.split("x"))
        tflops = time_shape(m, n, k, specs)
        print(f"{shape}: " + "  ".join(f"{s.scale_a.kind}x{s.scale_b.kind} {s.tile[1]} s{s.stages} {t:.0f}"
                                        for s, t in zip(specs, tflops)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
