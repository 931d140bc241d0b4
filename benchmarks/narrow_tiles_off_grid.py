"""With M off the tile grid (M not a multiple of the tile's rows): the heuristics' pick with per-tensor
16-wide tiles against its pick without them (DECODE_NARROW_WIDTH withheld), and cuBLASLt, two rounds.
`build` compiles the kernels only (no GPU needed).

    python benchmarks/narrow_tiles_off_grid.py [build]
"""
from __future__ import annotations

import argparse

import torch

import fp8gen
import fp8gen.heuristics as h
from fp8gen.bench import graph_ms, input_set_count, random_inputs
from fp8gen.build import build_many


SHAPES = [(33, 2112, 7168), (48, 2112, 7168), (96, 2112, 7168), (100, 2112, 7168), (40, 1024, 4096), (80, 2048, 2048),
          (120, 1536, 7168), (72, 256, 4096), (56, 2112, 7168), (112, 2112, 7168)]


def picks(m, n, k):
    new = h.choose_spec(m, n, k, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    saved, h.DECODE_NARROW_WIDTH = h.DECODE_NARROW_WIDTH, 32
    try:
        old = h.choose_spec(m, n, k, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    finally:
        h.DECODE_NARROW_WIDTH = saved
    return new, old


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["build"], help="build: compile the kernels only (no GPU needed)")
    if parser.parse_args().mode == "build":
        build_many(list(dict.fromkeys(s for shape in SHAPES for s in picks(*shape))), jobs=2)
        return
    for round_ in (1, 2):
        for m, n, k in SHAPES:
            new, old = picks(m, n, k)
            if new == old:
                print(f"{m}x{n}x{k}: same pick {new.tile}"); continue
            sets = [random_inputs("tensor", m, n, k) for _ in range(input_set_count(m, n, k))]
            kernels = [fp8gen.compile(new), fp8gen.compile(old)]
            splits = [h.split_k(m, n, k, s.tile, 132) for s in (new, old)]
            calls = [[lambda s=s, kern=kern, sp=sp: kern(s.a, s.b, *s.ours, out=s.out, split_k=sp) for s in sets]
                     for kern, sp in zip(kernels, splits)]
            calls.append([lambda s=s: torch._scaled_mm(s.a, s.b.t(), *s.theirs, out_dtype=torch.bfloat16) for s in sets])
            t_new, t_old, t_cub = graph_ms(*calls)
            print(f"round {round_} {m}x{n}x{k}: new {new.tile[0]}x{new.tile[1]} s{new.stages} split {splits[0]} {t_new*1e3:.1f}us | "
                  f"old {old.tile[0]}x{old.tile[1]} s{old.stages} split {splits[1]} {t_old*1e3:.1f}us | cuBLASLt {t_cub*1e3:.1f}us | "
                  f"old/new {t_old/t_new:.3f}", flush=True)


if __name__ == "__main__":
    main()
