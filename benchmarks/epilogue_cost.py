"""Cost of the fused epilogue: plain GEMM vs GEMM with bias -> gelu (and more) fused, vs torch._scaled_mm
followed by the same ops as separate torch kernels. Same inputs, graph timing with alternating replays
(fp8gen/bench.py). Prints a table and writes JSON.

    python benchmarks/epilogue_cost.py [--shapes 8192x8192x8192,...] [--replays 40] [--json OUT.json]
    python benchmarks/epilogue_cost.py --build [--shapes ...] [--jobs 2]   # compile only (no GPU needed)
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

import fp8gen
from fp8gen.api import _chain_of
from fp8gen.bench import environment, graph_ms, input_set_count
from fp8gen.build import build_many
from fp8gen.heuristics import choose_spec

SHAPES = [(8192, 8192, 8192), (64, 7168, 16384), (4096, 7168, 2048)]


# fp8gen's variants: the gemm() arguments each passes (bias, residual: the input set's bf16 tensors).
FP8GEN_VARIANTS = {
    "fp8gen plain": {},
    "fp8gen bias": {"bias": True},
    "fp8gen gelu_tanh": {"activation": "gelu_tanh"},
    "fp8gen residual": {"residual": True},
    "fp8gen bias+gelu_tanh": {"bias": True, "activation": "gelu_tanh"},
    "fp8gen bias+gelu(erf)": {"bias": True, "activation": "gelu"},
    "fp8gen bias+gelu+residual": {"bias": True, "activation": "gelu", "residual": True},
    "fp8gen bias+gelu_tanh->e4m3 1x128": {"bias": True, "activation": "gelu_tanh", "requantize": "1x128"},
}
PINGPONG_WIDTH = 128  # 64x192 measured 1.46x slower than 64x128 at 8192^3
PINGPONG_CHAINS = ((), ("bias", "gelu_tanh"))


def fp8gen_call(s: dict, bias: bool = False, activation=None, residual: bool = False, requantize=None):
    kwargs = {"bias": s["bias"] if bias else None, "activation": activation,
              "residual": s["res"] if residual else None}
    if requantize:
        return fp8gen.gemm(s["a"], s["b"], s["sa"], s["sb"], out_dtype=torch.float8_e4m3fn, requantize=requantize,
                           **kwargs)
    return fp8gen.gemm(s["a"], s["b"], s["sa"], s["sb"], out=s["out"], **kwargs)


def fp8gen_spec(m: int, n: int, k: int, bias: bool = False, activation=None, residual: bool = False,
                requantize=None) -> fp8gen.GemmSpec:
    """The kernel fp8gen.gemm picks for a variant (per-tensor scales, bf16 bias and residual)."""
    out = "e4m3" if requantize else "bf16"
    chain = _chain_of(out, False, ("column", "bf16") if bias else None, "bf16" if residual else None, activation,
                      False, requantize)
    return choose_spec(m, n, k, "e4m3", "e4m3", out, "tensor", "tensor", chain)


def kernel_call(kernel, s: dict, bias: bool = False):
    """A compiled kernel on input set `s` (bf16 output), with its bf16 column bias when `bias`."""
    return kernel(s["a"], s["b"], s["sa"], s["sb"], out=s["out"], **({"bias": s["bias"]} if bias else {}))


def pingpong_spec(chain: tuple) -> fp8gen.GemmSpec:
    return fp8gen.GemmSpec(tile=(64, PINGPONG_WIDTH, 128), schedule="pingpong", epilogue=chain)


def variants(m: int, n: int, sets: list[dict]):
    """name -> list of graph-capturable calls (one per input set)."""
    def torch_gelu(s):
        y = torch._scaled_mm(s["a"], s["b"].t(), s["sa"], s["sb"], out_dtype=torch.bfloat16)
        return torch.nn.functional.gelu(y + s["bias"], approximate="tanh")

    table = {name: (lambda s, kwargs=kwargs: fp8gen_call(s, **kwargs)) for name, kwargs in FP8GEN_VARIANTS.items()}
    table["torch _scaled_mm plain"] = lambda s: torch._scaled_mm(s["a"], s["b"].t(), s["sa"], s["sb"],
                                                                 out_dtype=torch.bfloat16)
    table["torch _scaled_mm + bias + gelu_tanh"] = torch_gelu
    if m >= 2048:  # the ping-pong schedule: one consumer's epilogue overlaps the other's mainloop
        for chain in PINGPONG_CHAINS:
            kernel = fp8gen.compile(pingpong_spec(chain))
            name = f"ping-pong 64x{PINGPONG_WIDTH} {'+'.join(chain) or 'plain'}"
            table[name] = lambda s, kernel=kernel, bias=bool(chain): kernel_call(kernel, s, bias)
    return {name: [lambda s=s, f=f: f(s) for s in sets] for name, f in table.items()}


def build_kernels(shapes: list[tuple[int, int, int]], jobs: int) -> None:
    """Compile every fp8gen kernel the run would use (no GPU needed)."""
    specs = {fp8gen_spec(m, n, k, **kwargs) for m, n, k in shapes for kwargs in FP8GEN_VARIANTS.values()}
    if any(m >= 2048 for m, _, _ in shapes):
        specs |= {pingpong_spec(chain) for chain in PINGPONG_CHAINS}
    for artifact in build_many(sorted(specs, key=lambda spec: spec.name), jobs=jobs):
        print(artifact.spec.name, flush=True)


def heuristic_tiles(m: int, n: int, k: int) -> str:
    """The tile widths the heuristics give the plain GEMM and the chains that may differ from it: a
    variant's "vs fp8gen plain" ratio includes any difference in tile."""
    def tile(**variant) -> str:
        bm, bn, _ = fp8gen_spec(m, n, k, **variant).tile
        return f"{bm}x{bn}"

    return (f"tiles: plain {tile()}, with a residual {tile(residual=True)}, "
            f"1x128 re-quantized {tile(requantize='1x128')}")


def random_set(m: int, n: int, k: int) -> dict:
    return {"a": (torch.randn(m, k, device="cuda") * 4).to(torch.float8_e4m3fn),
            "b": (torch.randn(n, k, device="cuda") * 4).to(torch.float8_e4m3fn),
            "sa": torch.rand(1, device="cuda") + 0.5, "sb": torch.rand(1, device="cuda") + 0.5,
            "bias": torch.randn(n, device="cuda").to(torch.bfloat16),
            "res": torch.randn(m, n, device="cuda").to(torch.bfloat16),
            "out": torch.empty(m, n, dtype=torch.bfloat16, device="cuda")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="epilogue_cost.json")
    parser.add_argument("--shapes", default=",".join("x".join(map(str, s)) for s in SHAPES),
                        help="comma-separated MxNxK (default: %(default)s)")
    parser.add_argument("--replays", type=int, default=40, help="graph replays per variant (median taken)")
    parser.add_argument("--build", action="store_true", help="only compile the kernels (no GPU needed)")
    parser.add_argument("--jobs", type=int, default=2, help="--build: parallel compilations")
    args = parser.parse_args(argv)
    shapes = [tuple(map(int, shape.split("x"))) for shape in args.shapes.split(",")]
    if args.build:
        build_kernels(shapes, args.jobs)
        return 0
    rows = []
    for m, n, k in shapes:
        sets = [random_set(m, n, k) for _ in range(input_set_count(m, n, k))]
        calls = variants(m, n, sets)
        times = dict(zip(calls, graph_ms(*calls.values(), replays=args.replays)))
        base = times["fp8gen plain"]
        print(f"\nM={m} N={n} K={k}  ({len(sets)} rotating input sets; {heuristic_tiles(m, n, k)})")
        print(f"{'variant':40s} {'us':>9s} {'TFLOP/s':>8s} {'vs fp8gen plain':>16s}")
        for name, ms in times.items():
            print(f"{name:40s} {ms * 1e3:9.1f} {2 * m * n * k / ms / 1e9:8.0f} {ms / base:15.3f}x")
            rows.append({"m": m, "n": n, "k": k, "variant": name, "ms": ms, "vs_plain": ms / base})
    with open(args.json, "w") as f:
        json.dump({"environment": environment(), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
