"""Time against K at M = 1, N = 8192 for several 64-row tiles with and without a K split, and cuBLASLt
(per-tensor scales, bf16 out, CUDA-graph timing as `fp8gen bench`): separates a split's fixed cost from the
weights' streaming rate. `build` compiles the kernels only (no GPU needed; carry the cache to the device).

    python benchmarks/small_m_time_vs_k.py [build]
"""
from __future__ import annotations

import argparse

import torch

import fp8gen
import fp8gen.heuristics as h
from fp8gen import GemmSpec
from fp8gen.bench import graph_ms, input_set_count, random_inputs
from fp8gen.build import build_many


N = 8192
KS = [4096, 8192, 16384, 32768]


def deep(bm, bn):
    return GemmSpec(tile=(bm, bn, 128), stages=GemmSpec(tile=(bm, bn, 128)).max_stages())


CONFIGS = [("64x128 split2", deep(64, 128), 2), ("64x128 split1", deep(64, 128), 1), ("64x128 split4", deep(64, 128), 4),
           ("64x64 split1", deep(64, 64), 1), ("64x64 split2", deep(64, 64), 2), ("64x32 split1", deep(64, 32), 1),
           ("64x16 split1", deep(64, 16), 1), ("64x16 split2", deep(64, 16), 2),
           ("64x128 s5 split2", GemmSpec(tile=(64, 128, 128), stages=5), 2), ("64x64 s6 split2", GemmSpec(tile=(64, 64, 128), stages=6), 2)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["build"], help="build: compile the kernels only (no GPU needed)")
    if parser.parse_args().mode == "build":
        build_many(list(dict.fromkeys(s for _, s, _ in CONFIGS)), jobs=2)
        return
    pick = h.choose_spec(1, N, 8192, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    print("pick:", pick.tile, pick.stages, "split", h.split_k(1, N, 8192, pick.tile, 132))
    kernels = [fp8gen.compile(s) for _, s, _ in CONFIGS]
    print("K | " + " | ".join(name for name, _, _ in CONFIGS) + " | cuBLASLt   (us; GB/s of B)")
    for k in KS:
        sets = [random_inputs("tensor", 1, N, k) for _ in range(input_set_count(1, N, k))]
        calls = [[lambda s=s, kern=kern, sp=min(sp, k // 128): kern(s.a, s.b, *s.ours, out=s.out, split_k=sp) for s in sets]
                 for kern, (_, _, sp) in zip(kernels, CONFIGS)]
        calls.append([lambda s=s: torch._scaled_mm(s.a, s.b.t(), *s.theirs, out_dtype=torch.bfloat16) for s in sets])
        times = graph_ms(*calls)
        print(f"{k} | " + " | ".join(f"{t*1e3:.1f} ({N*k/t/1e6:.0f})" for t in times), flush=True)


if __name__ == "__main__":
    main()
