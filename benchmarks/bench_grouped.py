"""Grouped FP8 GEMM (mixture of experts) on DeepGEMM's published shapes: fp8gen.grouped_gemm vs a loop of
torch._scaled_mm over the experts (same block-scaled inputs, one run, CUDA-graph timing over rotating
input sets with alternating replays). Prints a table and writes JSON.

    python benchmarks/bench_grouped.py [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

import fp8gen
from fp8gen.bench import environment, graph_ms, input_set_count

# (layout, experts, rows per expert, N, K, DeepGEMM's published H800 TFLOP/s)
SHAPES = [
    ("contiguous", 4, 8192, 4096, 7168, 1346),
    ("contiguous", 8, 4096, 7168, 2048, None),
    ("masked", 1, 1024, 4096, 7168, 1233),
    ("masked", 8, 256, 7168, 2048, None),
]


def block_inputs(groups: int, rows: int, n: int, k: int) -> dict:
    a = (torch.randn(groups * rows, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    b = (torch.randn(groups, n, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    sa = (torch.rand(k // 128, groups * rows, device="cuda") + 0.5).t()          # 1x128, M-major
    sb = torch.rand(groups, n // 128, k // 128, device="cuda") + 0.5             # 128x128 per expert
    out = torch.empty(groups * rows, n, dtype=torch.bfloat16, device="cuda")
    # cuBLASLt wants each expert's A scales M-major with their own leading dimension.
    expert_sa = [sa[g * rows:(g + 1) * rows].t().contiguous().t() for g in range(groups)]
    return {"a": a, "b": b, "sa": sa, "sb": sb, "out": out, "expert_sa": expert_sa}


def grouped_call(layout: str, groups: int, rows: int, n: int, k: int, s: dict):
    """fp8gen.grouped_gemm on input set `s` in `layout` (every expert holding `rows` rows)."""
    if layout == "contiguous":
        m_indices = torch.arange(groups, dtype=torch.int32, device="cuda").repeat_interleave(rows)
        return lambda: fp8gen.grouped_gemm(s["a"], s["b"], s["sa"], s["sb"], m_indices=m_indices, out=s["out"],
                                           validate=False)
    masked_m = torch.full((groups,), rows, dtype=torch.int32, device="cuda")
    a3, sa3, out3 = s["a"].view(groups, rows, k), s["sa"].reshape(groups, rows, -1), s["out"].view(groups, rows, n)
    return lambda: fp8gen.grouped_gemm(a3, s["b"], sa3, s["sb"], masked_m=masked_m, out=out3, validate=False)


def loop_call(groups: int, rows: int, s: dict):
    """The same GEMMs as a loop of torch._scaled_mm, one per expert."""
    def loop():
        for g in range(groups):
            torch._scaled_mm(s["a"][g * rows:(g + 1) * rows], s["b"][g].t(), s["expert_sa"][g], s["sb"][g].t(),
                             out_dtype=torch.bfloat16)
    return loop


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="bench_grouped.json")
    args = parser.parse_args(argv)
    rows_out = []
    print(f"{'layout':10s} {'G':>2s} {'rows':>5s} {'N':>5s} {'K':>5s} {'fp8gen TF/s':>11s} {'loop TF/s':>9s} "
          f"{'ratio':>6s} {'DeepGEMM':>8s}")
    for layout, groups, rows, n, k, published in SHAPES:
        # Rotating input sets, as fp8gen bench does: each call starts with its operands out of L2.
        sets = [block_inputs(groups, rows, n, k) for _ in range(input_set_count(groups * rows, groups * n, k))]
        t_ours, t_loop = graph_ms([grouped_call(layout, groups, rows, n, k, s) for s in sets],
                                  [loop_call(groups, rows, s) for s in sets])
        flops = 2.0 * groups * rows * n * k
        row = {"layout": layout, "groups": groups, "rows": rows, "n": n, "k": k, "input_sets": len(sets),
               "fp8gen_ms": t_ours, "loop_ms": t_loop, "fp8gen_tflops": flops / t_ours / 1e9,
               "loop_tflops": flops / t_loop / 1e9, "deepgemm_h800_tflops": published}
        rows_out.append(row)
        print(f"{layout:10s} {groups:2d} {rows:5d} {n:5d} {k:5d} {row['fp8gen_tflops']:11.0f} "
              f"{row['loop_tflops']:9.0f} {t_loop / t_ours:6.2f} {published or '-':>8}")
    with open(args.json, "w") as f:
        json.dump({"environment": environment(), "rows": rows_out}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
