"""Next session's lead: what bounds a narrow decode tile's K-block turn (the decode model's per-K-block floor,
docs/performance.md, sixteenth session). Per-tensor scales at the suite's narrow decode shapes, one kernel spec
per row, all alternating in one graph replay with cuBLASLt (twice):

- the default (promoted accumulation: each 128 of K in a partial fragment, two alternating, added into fp32),
- fast accumulation (wgmma accumulates all of K; no promotion round trip per K block: an upper bound, not a
  candidate default),
- promotion every 64 of K (ptxas serializes the wgmma of the 16-wide kernels so built: their figure says
  what serialization costs, not where the floor is), and a 64-deep K tile promoted every 64 (BK = 64: twice the turns for the same
  bytes; the most stages that fit).

If fast accumulation runs far ahead of the default, the floor is the promotion round trip (wait, FADD, the
next batch's issue) and more partial fragments in flight are the lever; if BK = 64 costs twice the time per
byte, the floor is per stage (barriers, TMA issue), and deeper K tiles are.

    python docs/results/2026-12-05j-decode-floor.py
"""
import torch

import fp8gen
from fp8gen.bench import graph_ms, input_set_count, random_inputs
from fp8gen.build import build_many
from fp8gen.heuristics import choose_spec

SHAPES = [(64, 2112, 7168), (128, 2112, 7168), (64, 4096, 7168), (128, 4096, 7168)]


def variants(m, n, k):
    default = choose_spec(m, n, k, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    bm, bn, _ = default.tile
    shallow = default.with_changes(tile=(bm, bn, 64), promotion_interval=64, stages="auto")
    return {
        "default": default,
        "fast": default.with_changes(accumulation="fast"),
        "promote 64": default.with_changes(promotion_interval=64),
        "BK 64": shallow.with_changes(stages=shallow.max_stages()),
    }


def main():
    build_many([s for shape in SHAPES for s in variants(*shape).values()], jobs=16)
    for m, n, k in SHAPES:
        specs = variants(m, n, k)
        sets = [random_inputs("tensor", m, n, k) for _ in range(input_set_count(m, n, k))]
        kernels = [fp8gen.compile(s) for s in specs.values()]
        calls = [[lambda s=s, kern=kern: kern(s.a, s.b, *s.ours, out=s.out) for s in sets] for kern in kernels]
        calls.append([lambda s=s: torch._scaled_mm(s.a, s.b.t(), *s.theirs, out_dtype=torch.bfloat16) for s in sets])
        for run in (1, 2):
            times = graph_ms(*calls)
            tflops = [2 * m * n * k / t / 1e9 for t in times]
            print(f"{m}x{n}x{k} run {run} ({specs['default'].name}): "
                  + ", ".join(f"{name} {v:.0f}" for name, v in zip([*specs, "cuBLASLt"], tflops)) + " TFLOP/s",
                  flush=True)


if __name__ == "__main__":
    main()
