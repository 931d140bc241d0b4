"""fp8gen vs torch._scaled_mm (cuBLASLt) with the same scaling recipe, on the benchmark shape suite.

    python benchmarks/bench_scaled_mm.py [--recipe tensor,row,block] [--shapes FILE] [--json OUT.json]
                                         [--groups square,prefill,decode]

Recipes: tensor (per-tensor x per-tensor), row (per-row of A x per-row of B), block (A 1x128 groups x
B 128x128 blocks, DeepSeek-V3). Both libraries run on the same random e4m3 inputs in one process;
times are the median of triton.testing.do_bench (which flushes L2 between iterations). The relative
difference between the two outputs is printed as a guard against either being wrong.
Prints a table and per-group geomeans, and writes the full numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import tomllib
from pathlib import Path

import torch
from triton.testing import do_bench

import fp8gen
from fp8gen.heuristics import choose_spec

DEFAULT_SHAPES = Path(fp8gen.__file__).parent / "data" / "bench_shapes.toml"


def load_shapes(path: Path, groups: set[str] | None) -> list[tuple[str, int, int, int]]:
    data = tomllib.loads(path.read_text())
    return [(entry["group"], m, n, k) for entry in data["shape"] for m, n, k in entry["mnk"]
            if groups is None or entry["group"] in groups]


def median_ms(fn) -> float:
    return do_bench(fn, warmup=25, rep=100, return_mode="median")


RECIPE_KINDS = {"tensor": ("tensor", "tensor"), "row": ("row", "row"), "block": ("group", "block")}


def scales_for(recipe: str, m: int, n: int, k: int):
    """(fp8gen scale_a, scale_b, torch scale_a, scale_b): the same values in each library's layout."""
    positive = lambda *shape: torch.rand(*shape, device="cuda") + 0.5  # noqa: E731
    if recipe == "tensor":
        sa, sb = positive(1), positive(1)
        return sa, sb, sa, sb
    if recipe == "row":
        sa, sb = positive(m, 1), positive(n, 1)
        return sa, sb, sa, sb.reshape(1, n).contiguous()
    groups = -(-k // 128)
    sa_torch = positive(groups, m).t()                       # (M, L), M-major: what cuBLASLt requires
    sb = positive(-(-n // 128), groups)                      # (N/128, L)
    return sa_torch, sb, sa_torch, sb.t()                    # torch wants (L, N/128) with stride (1, L)


def bench_shape(recipe: str, m: int, n: int, k: int) -> dict:
    a = (torch.randn(m, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    b = (torch.randn(n, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    sa, sb, sa_t, sb_t = scales_for(recipe, m, n, k)
    out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
    spec = choose_spec(m, n, k, "e4m3", "e4m3", "bf16", *RECIPE_KINDS[recipe])
    kernel = fp8gen.compile(spec)
    ours = kernel(a, b, sa, sb, out=out).float()
    flops = 2.0 * m * n * k
    bytes_moved = m * k + n * k + 2 * m * n
    t_ours = median_ms(lambda: kernel(a, b, sa, sb, out=out))
    row = {"m": m, "n": n, "k": k, "spec": spec.name, "fp8gen_ms": t_ours, "fp8gen_tflops": flops / t_ours / 1e9,
           "fp8gen_gbps": bytes_moved / t_ours / 1e6, "weight_gbps": n * k / t_ours / 1e6}
    try:
        theirs = torch._scaled_mm(a, b.t(), sa_t, sb_t, out_dtype=torch.bfloat16).float()
    except RuntimeError as exc:  # cuBLASLt rejects some shapes for some recipes (e.g. M % 4 for blockwise)
        return {**row, "cublaslt_error": str(exc).splitlines()[0][:200]}
    t_cublas = median_ms(lambda: torch._scaled_mm(a, b.t(), sa_t, sb_t, out_dtype=torch.bfloat16))
    agreement = (torch.linalg.vector_norm(ours - theirs) / torch.linalg.vector_norm(theirs)).item()
    return {**row, "agreement_rel": agreement, "cublaslt_ms": t_cublas, "cublaslt_tflops": flops / t_cublas / 1e9,
            "cublaslt_gbps": bytes_moved / t_cublas / 1e6, "ratio": t_cublas / t_ours}


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="tensor", help="comma-separated: tensor, row, block")
    parser.add_argument("--shapes", type=Path, default=DEFAULT_SHAPES)
    parser.add_argument("--groups", help="comma-separated groups to run (default: all)")
    parser.add_argument("--json", type=Path, default=Path("bench_scaled_mm.json"))
    args = parser.parse_args()
    groups = set(args.groups.split(",")) if args.groups else None
    results = {}
    for recipe in args.recipe.split(","):
        if recipe not in RECIPE_KINDS:
            parser.error(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPE_KINDS)}")
        rows = [{"group": group, **bench_shape(recipe, m, n, k)} for group, m, n, k in load_shapes(args.shapes, groups)]
        results[recipe] = {"rows": rows, "geomean_ratio": report(recipe, rows)}
    env = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "fp8gen": fp8gen.__version__,
           "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    args.json.write_text(json.dumps({"env": env, "recipes": results}, indent=2))
    print(f"wrote {args.json}")


def report(recipe: str, rows: list[dict]) -> dict:
    print(f"\n### recipe: {recipe}\n")
    print("| group | M | N | K | fp8gen TFLOP/s | cuBLASLt TFLOP/s | ratio | fp8gen GB/s | agreement |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        theirs = f"{r['cublaslt_tflops']:.1f}" if "ratio" in r else "error"
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "-"
        agree = f"{r['agreement_rel']:.1e}" if "ratio" in r else r.get("cublaslt_error", "")[:40]
        print(f"| {r['group']} | {r['m']} | {r['n']} | {r['k']} | {r['fp8gen_tflops']:.1f} | {theirs} | {ratio} | "
              f"{r['fp8gen_gbps']:.0f} | {agree} |")
    summary = {g: geomean([r["ratio"] for r in rows if r["group"] == g and "ratio" in r])
               for g in sorted({r["group"] for r in rows})}
    print("\ngeomean fp8gen/cuBLASLt speed ratio per group: " + ", ".join(f"{g} {v:.2f}" for g, v in summary.items()))
    return summary


if __name__ == "__main__":
    main()
