"""Below 33 rows (fp8gen.heuristics.DECODE_MODEL_MIN_M): every 64-row width 32..128 with deep stages, with
and without the K split heuristics.split_k gives it, against cuBLASLt, per-tensor scales, on 14 shapes with
M = 1..32; `*` marks the heuristics' current pick. `build` compiles the kernels only (no GPU needed).

    python benchmarks/small_m_splits.py [build]
"""
from __future__ import annotations

import argparse

import torch

import fp8gen
import fp8gen.heuristics as h
from fp8gen import GemmSpec
from fp8gen.bench import graph_ms, input_set_count, random_inputs
from fp8gen.build import build_many


SHAPES = [(1, 8192, 8192), (1, 4096, 7168), (1, 2112, 7168), (1, 28672, 8192), (1, 24576, 1536), (1, 7168, 16384),
          (8, 8192, 8192), (16, 10240, 8192), (16, 4096, 7168), (16, 2112, 7168), (32, 28672, 8192), (32, 7168, 2048),
          (32, 8192, 8192), (4, 57344, 8192)]
WIDTHS = (128, 112, 96, 64, 32)


def deep(bn):
    return GemmSpec(tile=(64, bn, 128), stages=GemmSpec(tile=(64, bn, 128)).max_stages())


def sm_filling_split(m, n, k, bn, sm_count=132):
    """The split that gives every SM a unit (heuristics.split_k's rule for M < 33 before the unsplit rule)."""
    tiles, k_blocks = -(-m // 64) * -(-n // bn), -(-k // 128)
    if 2 * tiles > sm_count:
        return 1
    return h.balanced_splits(k_blocks, max(1, min(sm_count // tiles, k_blocks // h.MIN_K_BLOCKS_PER_SPLIT, h.MAX_SPLITS)))


def candidates(m, n, k):
    out = []
    for bn in WIDTHS:
        sp = sm_filling_split(m, n, k, bn)
        for s in sorted({1, sp, 2 if sp == 1 and 2 * (-(-n // bn)) <= 132 else 1}):
            out.append((f"{bn}/{s}", deep(bn), s))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["build"], help="build: compile the kernels only (no GPU needed)")
    if parser.parse_args().mode == "build":
        build_many([deep(bn) for bn in WIDTHS], jobs=2)
        return
    for m, n, k in SHAPES:
        pick = h.choose_spec(m, n, k, "e4m3", "e4m3", "bf16", "tensor", "tensor")
        pick_name = f"{pick.tile[1]}/{h.split_k(m, n, k, pick.tile, 132)}"
        cands = candidates(m, n, k)
        sets = [random_inputs("tensor", m, n, k) for _ in range(input_set_count(m, n, k))]
        kernels = [fp8gen.compile(s) for _, s, _ in cands]
        calls = [[lambda s=s, kern=kern, sp=sp: kern(s.a, s.b, *s.ours, out=s.out, split_k=sp) for s in sets]
                 for kern, (_, _, sp) in zip(kernels, cands)]
        calls.append([lambda s=s: torch._scaled_mm(s.a, s.b.t(), *s.theirs, out_dtype=torch.bfloat16) for s in sets])
        times = graph_ms(*calls)
        cells = " ".join(f"{name}{'*' if name == pick_name else ''}={t*1e3:.1f}" for (name, _, _), t in zip(cands, times))
        print(f"{m}x{n}x{k}: {cells} | cuBLASLt={times[-1]*1e3:.1f} us (pick {pick_name}, stages {pick.stages})", flush=True)


if __name__ == "__main__":
    main()
