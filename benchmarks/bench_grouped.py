"""Grouped FP8 GEMM (mixture of experts) on DeepGEMM's published shapes: fp8gen.grouped_gemm vs a loop of
torch._scaled_mm over the experts (same block-scaled inputs, one run, CUDA-graph timing with alternating
replays). Prints a table and writes JSON.

    python benchmarks/bench_grouped.py [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

import fp8gen
from fp8gen.bench import environment, graph_ms

# (layout, experts, rows per expert, N, K, DeepGEMM's published H800 TFLOP/s)
SHAPES = [
    ("contiguous", 4, 8192, 4096, 7168, 1346),
    ("contiguous", 8, 4096, 7168, 2048, None),
    ("masked", 1, 1024, 4096, 7168, 1233),
    ("masked", 8, 256, 7168, 2048, None),
]


def block_inputs(groups: int, rows: int, n: int, k: int):
    a = (torch.randn(groups * rows, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    b = (torch.randn(groups, n, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    sa = (torch.rand(k // 128, groups * rows, device="cuda") + 0.5).t()          # 1x128, M-major
    sb = torch.rand(groups, n // 128, k // 128, device="cuda") + 0.5             # 128x128 per expert
    return a, b, sa, sb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="bench_grouped.json")
    args = parser.parse_args(argv)
    rows_out = []
    print(f"{'layout':10s} {'G':>2s} {'rows':>5s} {'N':>5s} {'K':>5s} {'fp8gen TF/s':>11s} {'loop TF/s':>9s} "
          f"{'ratio':>6s} {'DeepGEMM':>8s}")
    for layout, groups, rows, n, k, published in SHAPES:
        a, b, sa, sb = block_inputs(groups, rows, n, k)
        out = torch.empty(groups * rows, n, dtype=torch.bfloat16, device="cuda")
        if layout == "contiguous":
            m_indices = torch.arange(groups, dtype=torch.int32, device="cuda").repeat_interleave(rows)
            ours = lambda: fp8gen.grouped_gemm(a, b, sa, sb, m_indices=m_indices, out=out, validate=False)  # noqa: E731
        else:
            masked_m = torch.full((groups,), rows, dtype=torch.int32, device="cuda")
            a3, sa3, out3 = a.view(groups, rows, k), sa.reshape(groups, rows, -1), out.view(groups, rows, n)
            ours = lambda: fp8gen.grouped_gemm(a3, b, sa3, sb, masked_m=masked_m, out=out3, validate=False)  # noqa: E731

        # cuBLASLt wants each expert's A scales M-major with their own leading dimension.
        expert_sa = [sa[g * rows:(g + 1) * rows].t().contiguous().t() for g in range(groups)]

        def loop():
            for g in range(groups):
                torch._scaled_mm(a[g * rows:(g + 1) * rows], b[g].t(), expert_sa[g], sb[g].t(),
                                 out_dtype=torch.bfloat16)

        t_ours, t_loop = graph_ms([ours], [loop])
        flops = 2.0 * groups * rows * n * k
        row = {"layout": layout, "groups": groups, "rows": rows, "n": n, "k": k, "fp8gen_ms": t_ours,
               "loop_ms": t_loop, "fp8gen_tflops": flops / t_ours / 1e9, "loop_tflops": flops / t_loop / 1e9,
               "deepgemm_h800_tflops": published}
        rows_out.append(row)
        print(f"{layout:10s} {groups:2d} {rows:5d} {n:5d} {k:5d} {row['fp8gen_tflops']:11.0f} "
              f"{row['loop_tflops']:9.0f} {t_loop / t_ours:6.2f} {published or '-':>8}")
    with open(args.json, "w") as f:
        json.dump({"environment": environment(), "rows": rows_out}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
