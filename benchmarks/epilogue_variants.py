"""Builds of the bias -> gelu (erf) chain from other trees against this tree's plain GEMM and its bias -> gelu_tanh
chain: what an edit to the chain's device code costs, with the outputs' error against float64 gelu.

Each variant is a kernel cache directory holding one build of the chain's kernel for every shape (build it
from a copy of the tree with the edited header: `FP8GEN_CACHE_DIR=DIR python benchmarks/epilogue_cost.py
--build --shapes ...` there). Per-tensor scales, bf16 output, a random bf16 column bias; CUDA-graph timing
with alternating replays over rotating input sets (fp8gen/bench.py); two rounds per shape.

    python benchmarks/epilogue_variants.py --variants old=/tmp/old,new=/tmp/new
        [--shapes 8192x8192x8192,4096x2112x7168] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import fp8gen
from fp8gen.bench import environment, graph_ms, input_set_count

from ab_cache import old_kernel  # benchmarks/ is the script's directory
from epilogue_cost import fp8gen_spec, kernel_call, random_set


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", required=True, help="comma-separated LABEL=CACHE_DIR")
    parser.add_argument("--shapes", default="8192x8192x8192,4096x2112x7168,4096x7168x16384")
    parser.add_argument("--replays", type=int, default=30)
    parser.add_argument("--json", default="epilogue_variants.json")
    args = parser.parse_args(argv)
    rows = []
    for m, n, k in (tuple(map(int, shape.split("x"))) for shape in args.shapes.split(",")):
        sets = [random_set(m, n, k) for _ in range(input_set_count(m, n, k))]
        kernels = {"plain": (fp8gen.compile(fp8gen_spec(m, n, k)), False),
                   "bias+gelu_tanh": (fp8gen.compile(fp8gen_spec(m, n, k, bias=True, activation="gelu_tanh")), True)}
        for variant in args.variants.split(","):
            label, cache = variant.split("=", 1)
            spec = fp8gen_spec(m, n, k, bias=True, activation="gelu")
            kernels[f"bias+gelu {label}"] = (old_kernel(Path(cache), spec), True)
        s = sets[0]
        x = (s["a"].double() * s["sa"].double()) @ (s["b"].double() * s["sb"].double()).T + s["bias"].double()
        exact = torch.nn.functional.gelu(x)
        errors = {}
        for name, (kernel, bias) in kernels.items():
            kernel_call(kernel, s, bias)
            variant = name not in ("plain", "bias+gelu_tanh")
            errors[name] = ((s["out"].double() - exact).norm() / exact.norm()).item() if variant else None
        calls = [[lambda s=s, kernel=kernel, bias=bias: kernel_call(kernel, s, bias) for s in sets]
                 for kernel, bias in kernels.values()]
        for round_ in (1, 2):
            times = graph_ms(*calls, replays=args.replays)
            print(f"\nM={m} N={n} K={k} round {round_}")
            for (name, (kernel, _)), ms in zip(kernels.items(), times):
                error = f"{errors[name]:.2e}" if errors[name] is not None else "-"
                print(f"{name:28s} {kernel.spec.tile} {ms * 1e3:8.1f} us {2 * m * n * k / ms / 1e9:7.0f} TFLOP/s "
                      f"{ms / times[0]:6.3f}x  rel. error vs float64 gelu {error}", flush=True)
                rows.append({"m": m, "n": n, "k": k, "round": round_, "variant": name, "ms": ms,
                             "vs_plain": ms / times[0], "error": errors[name]})
    with open(args.json, "w") as f:
        json.dump({"environment": environment(), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
