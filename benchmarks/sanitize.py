"""Edge-shape GEMMs for compute-sanitizer (not a test: run it under the sanitizer on a GPU machine).

    compute-sanitizer --tool memcheck --error-exitcode 1 python benchmarks/sanitize.py
    compute-sanitizer --tool racecheck --error-exitcode 1 python benchmarks/sanitize.py --quick

Covers M and N off the tile, K = 16 (one partial K block), the smallest (64-row) and largest
(128x128, 7-stage) default tiles, and every scale-reading path: per-tensor, per-row, A groups x
B blocks, A groups x B groups (TMA-staged B scales), UE8M0. Each result is also checked against
float64, so a run that the sanitizer passes still has to be right.
"""

import sys

import torch

import fp8gen
from fp8gen.quantize import dequantize

SHAPES = [(1, 17, 16), (17, 1, 48), (65, 130, 144), (129, 257, 400), (300, 200, 1024)]
RECIPES = [("tensor", "tensor", "f32"), ("row", "row", "f32"), ("group", "block", "f32"),
           ("group", "group", "f32"), ("group", "group", "ue8m0"), ("group", "block", "ue8m0")]


def run(m: int, n: int, k: int, recipe_a: str, recipe_b: str, scale_dtype: str) -> float:
    x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
    qa, sa = fp8gen.quantize(x, recipe_a, scale_dtype=scale_dtype if recipe_a in ("group", "block") else "f32")
    qb, sb = fp8gen.quantize(w, recipe_b, scale_dtype=scale_dtype if recipe_b in ("group", "block") else "f32")
    out = fp8gen.gemm(qa, qb, sa, sb, out_dtype=torch.float32)
    ref = dequantize(qa, sa, recipe_a) @ dequantize(qb, sb, recipe_b).T
    return ((out.double() - ref).norm() / ref.norm()).item()


def main() -> int:
    quick = "--quick" in sys.argv
    worst = 0.0
    for m, n, k in SHAPES[:2] if quick else SHAPES:
        for recipe in RECIPES[2:4] if quick else RECIPES:
            err = run(m, n, k, *recipe)
            worst = max(worst, err)
            print(f"{m}x{n}x{k} {recipe}: relative error {err:.2e}", flush=True)
    torch.cuda.synchronize()
    print(f"worst relative error {worst:.2e}")
    return 0 if worst < 2e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
