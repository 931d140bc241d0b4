"""Edge-shape GEMMs for compute-sanitizer (not a test: run it under the sanitizer on a GPU machine).

    compute-sanitizer --tool memcheck --error-exitcode 1 python benchmarks/sanitize.py
    compute-sanitizer --tool racecheck --error-exitcode 1 python benchmarks/sanitize.py --quick

Covers M and N off the tile, K = 16 (one partial K block), the smallest (64-row) and largest
(128x128) default tiles, every scale-reading path (per-tensor, per-row, A groups x B blocks, A groups
x B groups, both TMA-staged, UE8M0), the TMA-store epilogue, split-K, 2-CTA clusters and the
ping-pong schedule. Each result is also checked against
float64, so a run that the sanitizer passes still has to be right.
"""

import argparse
import sys

import torch

import fp8gen
from fp8gen.quantize import dequantize

SHAPES = [(1, 17, 16), (17, 1, 48), (65, 130, 144), (129, 257, 400), (300, 200, 1024)]
RECIPES = [("tensor", "tensor", "f32"), ("row", "row", "f32"), ("group", "block", "f32"),
           ("group", "group", "f32"), ("group", "group", "ue8m0"), ("group", "block", "ue8m0")]


# How the GEMM runs: the kernel fp8gen.gemm picks; the same with K split 3 ways (fp32 partials,
# arrival counters, last-CTA reduction); a 2-CTA cluster kernel (B multicast) for the recipe; the
# ping-pong schedule (two consumers alternating 64-row tiles).
VARIANTS = ["default", "split_k=3", "cluster 2x1", "ping-pong"]


def scale_dtype_of(kind: str, scale_dtype: str) -> str:
    return scale_dtype if kind in ("group", "block") else "f32"


def variant_kernel(variant: str, recipe_a: str, recipe_b: str, scale_dtype: str):
    width = 64 if recipe_b == "group" else 128
    layout = {"tile": (128, width, 128), "cluster": (2, 1)} if variant == "cluster 2x1" else {
        "tile": (64, width, 128), "schedule": "pingpong"}
    return fp8gen.compile(fp8gen.GemmSpec(
        out="f32", **layout,
        scale_a=fp8gen.ScaleRecipe(recipe_a, dtype=scale_dtype_of(recipe_a, scale_dtype)),
        scale_b=fp8gen.ScaleRecipe(recipe_b, dtype=scale_dtype_of(recipe_b, scale_dtype))))


def run(m: int, n: int, k: int, recipe_a: str, recipe_b: str, scale_dtype: str, variant: str) -> float:
    x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
    qa, sa = fp8gen.quantize(x, recipe_a, scale_dtype=scale_dtype_of(recipe_a, scale_dtype))
    qb, sb = fp8gen.quantize(w, recipe_b, scale_dtype=scale_dtype_of(recipe_b, scale_dtype))
    if variant in ("cluster 2x1", "ping-pong"):
        out = variant_kernel(variant, recipe_a, recipe_b, scale_dtype)(qa, qb, sa, sb)
    else:
        split_k = min(3, -(-k // 128)) if variant == "split_k=3" else None
        out = fp8gen.gemm(qa, qb, sa, sb, out_dtype=torch.float32, split_k=split_k)
    ref = dequantize(qa, sa, recipe_a) @ dequantize(qb, sb, recipe_b).T
    return ((out.double() - ref).norm() / ref.norm()).item()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two shapes and two recipe pairs only")
    quick = parser.parse_args().quick
    worst = 0.0
    for m, n, k in SHAPES[:2] if quick else SHAPES:
        for recipe in RECIPES[2:4] if quick else RECIPES:
            for variant in VARIANTS:
                err = run(m, n, k, *recipe, variant)
                worst = max(worst, err)
                print(f"{m}x{n}x{k} {recipe} {variant}: relative error {err:.2e}", flush=True)
    torch.cuda.synchronize()
    print(f"worst relative error {worst:.2e}")
    return 0 if worst < 2e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
