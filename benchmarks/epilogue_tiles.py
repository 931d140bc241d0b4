"""Fused epilogue cost per tile width: plain, bias + gelu_tanh and gelu_tanh kernels with 128- and 192-wide
tiles on one shape (per-tensor e4m3 -> bf16), CUDA-graph timing over rotating input sets with alternating
replays. Shows whether a chain should keep the wide tile the heuristics pick for the plain GEMM.

    python benchmarks/epilogue_tiles.py [--shape 8192x8192x8192] [--widths 128,192]
"""

from __future__ import annotations

import argparse

import fp8gen
from fp8gen.bench import graph_ms, input_set_count
from fp8gen.build import build_many

from epilogue_cost import random_set  # benchmarks/ is the script's directory

GELU_TANH = {"op": "gelu", "approximate": "tanh"}
CHAINS = {"plain": (), "bias+gelu_tanh": ("bias", GELU_TANH), "gelu_tanh": (GELU_TANH,)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="8192x8192x8192")
    parser.add_argument("--widths", default="128,192")
    parser.add_argument("--replays", type=int, default=30)
    args = parser.parse_args(argv)
    m, n, k = map(int, args.shape.split("x"))
    widths = [int(w) for w in args.widths.split(",")]
    specs = {(name, w): fp8gen.GemmSpec(tile=(128, w, 128), epilogue=chain) for name, chain in CHAINS.items()
             for w in widths}
    build_many(list(specs.values()), jobs=16)
    sets = [random_set(m, n, k) for _ in range(input_set_count(m, n, k))]
    calls = []
    for (name, _), spec in specs.items():
        kernel = fp8gen.compile(spec)
        extra = (lambda s: {"bias": s["bias"]}) if "bias" in name else (lambda s: {})
        calls.append([lambda s=s, kernel=kernel, extra=extra: kernel(s["a"], s["b"], s["sa"], s["sb"], out=s["out"],
                                                                      **extra(s)) for s in sets])
    times = dict(zip(specs, graph_ms(*calls, replays=args.replays)))
    widest_plain = times[("plain", widths[-1])]
    for (name, width), ms in times.items():
        print(f"{name:16s} {width}: {ms * 1e3:8.1f} us  vs plain same width {ms / times[('plain', width)]:.3f}  "
              f"vs plain {widths[-1]} {ms / widest_plain:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
