"""Grouped FP8 GEMM (mixture of experts) on DeepGEMM's published shapes: fp8gen.grouped_gemm vs a loop of
torch._scaled_mm over the experts, and for per-row scales also vs torch._scaled_grouped_mm (cuBLASLt/CUTLASS
in torch; rowwise scales only on sm_90), and vs one fp8gen.gemm of the same total shape (all rows, expert 0's
weights: what the grouping itself costs). Same inputs, one run, CUDA-graph timing over rotating input sets
with alternating replays. Prints a table and writes JSON.

    python benchmarks/bench_grouped.py [--recipes block,row] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

import fp8gen
from fp8gen.bench import environment, graph_ms, input_sets_for

# (layout, experts, rows per expert, N, K, DeepGEMM's published H800 TFLOP/s)
SHAPES = [
    ("contiguous", 4, 8192, 4096, 7168, 1346),
    ("contiguous", 8, 4096, 7168, 2048, None),
    ("masked", 1, 1024, 4096, 7168, 1233),
    ("masked", 8, 256, 7168, 2048, None),
]


def grouped_inputs(recipe: str, groups: int, rows: int, n: int, k: int) -> dict:
    """Operands and scales of one input set; block: 1x128 A groups x 128x128 B blocks, row: per-row both."""
    a = (torch.randn(groups * rows, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    b = (torch.randn(groups, n, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    out = torch.empty(groups * rows, n, dtype=torch.bfloat16, device="cuda")
    if recipe == "row":
        sa = torch.rand(groups * rows, device="cuda") + 0.5
        sb = torch.rand(groups, n, device="cuda") + 0.5
        expert_sa = [sa[g * rows:(g + 1) * rows].reshape(rows, 1) for g in range(groups)]
        expert_sb = [sb[g].reshape(1, n) for g in range(groups)]
    else:
        sa = (torch.rand(k // 128, groups * rows, device="cuda") + 0.5).t()          # 1x128, M-major
        sb = torch.rand(groups, n // 128, k // 128, device="cuda") + 0.5             # 128x128 per expert
        # cuBLASLt wants each expert's A scales M-major with their own leading dimension.
        expert_sa = [sa[g * rows:(g + 1) * rows].t().contiguous().t() for g in range(groups)]
        expert_sb = [sb[g].t() for g in range(groups)]
    return {"a": a, "b": b, "sa": sa, "sb": sb, "out": out, "expert_sa": expert_sa, "expert_sb": expert_sb}


def grouped_call(layout: str, groups: int, rows: int, n: int, k: int, s: dict):
    """fp8gen.grouped_gemm on input set `s` in `layout` (every expert holding `rows` rows)."""
    if layout == "contiguous":
        m_indices = torch.arange(groups, dtype=torch.int32, device="cuda").repeat_interleave(rows)
        return lambda: fp8gen.grouped_gemm(s["a"], s["b"], s["sa"], s["sb"], m_indices=m_indices, out=s["out"],
                                           validate=False)
    masked_m = torch.full((groups,), rows, dtype=torch.int32, device="cuda")
    sa3 = s["sa"].reshape(groups, rows, *s["sa"].shape[1:])
    a3, out3 = s["a"].view(groups, rows, k), s["out"].view(groups, rows, n)
    return lambda: fp8gen.grouped_gemm(a3, s["b"], sa3, s["sb"], masked_m=masked_m, out=out3, validate=False)


def loop_call(groups: int, rows: int, s: dict):
    """The same GEMMs as a loop of torch._scaled_mm, one per expert."""
    def loop():
        for g in range(groups):
            torch._scaled_mm(s["a"][g * rows:(g + 1) * rows], s["b"][g].t(), s["expert_sa"][g], s["expert_sb"][g],
                             out_dtype=torch.bfloat16)
    return loop


def plain_call(recipe: str, groups: int, rows: int, n: int, s: dict):
    """One fp8gen.gemm over all the experts' rows with expert 0's weights: the same FLOPs as one plain GEMM,
    to tell the grouped kernel's own cost from the shape's."""
    sa = s["sa"].reshape(groups * rows, 1) if recipe == "row" else s["sa"]
    sb = s["sb"][0].reshape(n, 1) if recipe == "row" else s["sb"][0]
    return lambda: fp8gen.gemm(s["a"], s["b"][0], sa, sb, out=s["out"])


def torch_grouped_call(layout: str, groups: int, rows: int, n: int, k: int, s: dict):
    """torch._scaled_grouped_mm with per-row scales: contiguous as a 2-D A with end offsets per expert,
    masked as a batched 3-D A (every expert's whole buffer)."""
    b_t = s["b"].transpose(-2, -1)  # (G, K, N), N-major: the "column-major" B torch wants
    if layout == "contiguous":
        offs = torch.arange(1, groups + 1, dtype=torch.int32, device="cuda") * rows
        return lambda: torch._scaled_grouped_mm(s["a"], b_t, s["sa"], s["sb"], offs=offs, out_dtype=torch.bfloat16)
    a3, sa3 = s["a"].view(groups, rows, k), s["sa"].view(groups, rows)
    return lambda: torch._scaled_grouped_mm(a3, b_t, sa3, s["sb"], out_dtype=torch.bfloat16)


def torch_grouped_or_error(recipe: str, layout: str, groups: int, rows: int, n: int, k: int, sets: list):
    """The torch._scaled_grouped_mm calls of each input set, or the error this torch gives for them."""
    if recipe != "row":
        return None, "rowwise scales only"
    calls = [torch_grouped_call(layout, groups, rows, n, k, s) for s in sets]
    try:
        calls[0]()
        torch.cuda.synchronize()
    except (RuntimeError, AttributeError) as exc:
        return None, str(exc).splitlines()[0][:160]
    return calls, None


def bench_row(recipe: str, layout: str, groups: int, rows: int, n: int, k: int, published) -> dict:
    # Rotating input sets, as fp8gen bench does: each call starts with its operands out of L2.
    set_bytes = groups * (rows * k + n * k + 2 * rows * n)  # fp8 A and B, bf16 D
    sets = [grouped_inputs(recipe, groups, rows, n, k) for _ in range(input_sets_for(set_bytes))]
    torch_calls, torch_error = torch_grouped_or_error(recipe, layout, groups, rows, n, k, sets)
    lists = [[grouped_call(layout, groups, rows, n, k, s) for s in sets], [loop_call(groups, rows, s) for s in sets],
             [plain_call(recipe, groups, rows, n, s) for s in sets]]
    times = graph_ms(*lists, *([torch_calls] if torch_calls else []))
    flops = 2.0 * groups * rows * n * k
    row = {"recipe": recipe, "layout": layout, "groups": groups, "rows": rows, "n": n, "k": k,
           "input_sets": len(sets), "fp8gen_ms": times[0], "loop_ms": times[1],
           "fp8gen_tflops": flops / times[0] / 1e9, "loop_tflops": flops / times[1] / 1e9,
           "plain_ms": times[2], "plain_tflops": flops / times[2] / 1e9,
           "deepgemm_h800_tflops": published if recipe == "block" else None}
    if torch_calls:
        row.update(torch_grouped_ms=times[3], torch_grouped_tflops=flops / times[3] / 1e9)
    else:
        row["torch_grouped_error"] = torch_error
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="block,row")
    parser.add_argument("--json", default="bench_grouped.json")
    args = parser.parse_args(argv)
    rows_out = []
    print(f"{'recipe':6s} {'layout':10s} {'G':>2s} {'rows':>5s} {'N':>5s} {'K':>5s} {'fp8gen TF/s':>11s} "
          f"{'loop TF/s':>9s} {'plain TF/s':>10s} {'_scaled_grouped_mm':>18s} {'DeepGEMM':>8s}")
    for recipe in args.recipes.split(","):
        for layout, groups, rows, n, k, published in SHAPES:
            row = bench_row(recipe, layout, groups, rows, n, k, published)
            rows_out.append(row)
            grouped = f"{row['torch_grouped_tflops']:.0f}" if "torch_grouped_tflops" in row else "n/a"
            print(f"{recipe:6s} {layout:10s} {groups:2d} {rows:5d} {n:5d} {k:5d} {row['fp8gen_tflops']:11.0f} "
                  f"{row['loop_tflops']:9.0f} {row['plain_tflops']:10.0f} {grouped:>18s} {row['deepgemm_h800_tflops'] or '-':>8}", flush=True)
            if "torch_grouped_error" in row and recipe == "row":
                print(f"    torch._scaled_grouped_mm: {row['torch_grouped_error']}")
    with open(args.json, "w") as f:
        json.dump({"environment": environment(), "rows": rows_out}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
