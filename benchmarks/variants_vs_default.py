"""Alternative kernel specs vs the kernel fp8gen.gemm picks vs torch._scaled_mm (cuBLASLt), per recipe:
CUDA-graph timing over rotating input sets with alternating replays (fp8gen/bench.py). Prints one line of
TFLOP/s per recipe and shape, and the geomean speed of each variant relative to the default; writes JSON.

    python benchmarks/variants_vs_default.py --variants pingpong            # the 4 quick shapes
    python benchmarks/variants_vs_default.py --variants wide --shapes suite  # prefill + square of the suite
    python benchmarks/variants_vs_default.py --variants decode              # the decode shapes of the suite
    python benchmarks/variants_vs_default.py --variants decode-stages --recipes tensor
    python benchmarks/variants_vs_default.py --variants decode-splits --json decode-splits.json
    python benchmarks/variants_vs_default.py --variants cluster --shapes suite --recipes block
    python benchmarks/variants_vs_default.py --variants stages --recipes tensor,block
    python benchmarks/variants_vs_default.py --variants widths --shapes suite
    python benchmarks/variants_vs_default.py --variants tail --shapes suite
    python benchmarks/variants_vs_default.py --variants tail --shapes benchmarks/tail_check_shapes.toml
    python benchmarks/variants_vs_default.py --variants raster --shapes suite --recipes block

Variants: pingpong (64-row ping-pong tiles: 64x128; 64x192 where B's scales allow; 64x256 with fast
accumulation, per-tensor only) and wide (128x192 tiles with one promoted partial fragment where B's scales
allow; 128x256 with fast accumulation, per-tensor only: an upper bound, not accurate enough for a default)
and decode (for M <= 128: tile widths 32 .. 128 with the heuristic's K splits, and 64-wide without splits)
and decode-stages (the same widths and splits, each at the default stage count and at the most that fit)
and decode-splits (for M <= 128: tile widths 16 .. 128, each with every K split whose work units fill half
to all of the SMs, at least MIN_K_BLOCKS_PER_SPLIT K blocks each; stages as the heuristics give them)
and cluster (128x128 tiles in 2-CTA clusters sharing B by TMA multicast) and stages (128x128 tiles with the
most pipeline stages that fit, and one and two fewer) and widths (128-row tiles 144, 160, 176 and 192 wide,
where B's scale blocks allow: widths between 128 and 192 fill the waves of shapes where neither does) and
tail (the widths the heuristics weigh, 128 and 192, per-tensor also 176, each with the default K split,
which may split the last wave's tiles (heuristics.tail_split), and with split_k=1, no split) and raster (the
default spec of each shape with the other raster groups of RASTER_GROUPS: M tiles per group of the tile
scheduler's grouped rasterization).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import fp8gen
from fp8gen import GemmSpec, ScaleRecipe, tuning
from fp8gen.bench import (DEFAULT_SHAPES, RECIPE_KINDS, environment, geomean, graph_ms, input_set_count, load_shapes,
                          random_inputs)
from fp8gen.build import build_many
from fp8gen.heuristics import (DECODE_DEEP_BELOW_WIDTH, DECODE_DEEP_MAX_M, DECODE_NARROW_WIDTH, DECODE_WIDTHS,
                               DECODE_WIDTHS_BLOCK_B, DECODE_WIDTHS_BLOCK_B_128_ROWS, H100_SM_COUNT,
                               MIN_K_BLOCKS_PER_SPLIT, ceil_div)
from fp8gen.spec import spans_two_blocks_at_most

WIDTH_VARIANTS = (144, 160, 176, 192)
QUICK_SHAPES = [(8192, 8192, 8192), (4096, 7168, 2048), (2048, 7168, 16384), (4096, 2112, 7168)]


DECODE_VARIANT_WIDTHS = (32, 48, 64, 96, 128)
DECODE_SPLIT_COUNTS = (1, 2, 3, 4, 6, 8, 12, 16)
RASTER_GROUPS = (1, 2, 4, 8, 16, 32)


def raster_variants(default: GemmSpec) -> list[tuple[GemmSpec, int | None]]:
    """(spec, split_k) pairs: the shape's default spec with each other raster group, the default split."""
    return [(default.with_changes(raster_group=group), None) for group in RASTER_GROUPS
            if group != default.raster_group]


def tail_variants(kind_a: str, kind_b: str) -> list[tuple[GemmSpec, int | None]]:
    """(spec, split_k) pairs: each prefill width the heuristics weigh, with the default split and without."""
    widths = (128, 176, 192) if kind_a == kind_b == "tensor" else (128, 192)
    specs = [GemmSpec(scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b), tile=(128, width, 128))
             for width in widths]
    return [(spec, split) for spec in specs for split in (None, 1)]


def decode_variants(m: int, kind_a: str, kind_b: str, deep: bool = False) -> list[tuple[GemmSpec, int | None]]:
    """(spec, split_k) pairs for a decode shape: each width with the heuristic's splits, 64 wide unsplit;
    deep: each width with the heuristic's splits at the default stage count and at the most that fit."""
    rows = 64 if m <= 64 else 128

    def spec(width, stages="auto"):
        return GemmSpec(scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b), tile=(rows, width, 128),
                        stages=stages)

    widths = [w for w in DECODE_VARIANT_WIDTHS if kind_b != "block" or 128 % w == 0]
    if deep:
        return [(s, None) for w in widths for s in (spec(w), spec(w, spec(w).max_stages()))]
    return [(spec(w), None) for w in widths] + [(spec(64), 1)]


def decode_split_variants(m: int, n: int, k: int, kind_a: str, kind_b: str) -> list[tuple[GemmSpec, int | None]]:
    """(spec, split_k) pairs for a decode shape: each width the heuristics weigh for its recipe (per-tensor:
    also 16 wide) with each split count whose work units fill between half and all of the SMs, at least
    MIN_K_BLOCKS_PER_SPLIT K blocks per unit (no split always); the heuristics' stages."""
    rows = 64 if m <= 64 else 128
    k_blocks = ceil_div(k, 128)
    if kind_b == "block":
        widths = DECODE_WIDTHS_BLOCK_B if rows == 64 else DECODE_WIDTHS_BLOCK_B_128_ROWS
    else:
        widths = DECODE_WIDTHS + ((DECODE_NARROW_WIDTH,) if kind_a == kind_b == "tensor" else ())
    pairs = []
    for width in sorted(widths):
        deep = width < DECODE_DEEP_BELOW_WIDTH or m <= DECODE_DEEP_MAX_M
        spec = GemmSpec(scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b), tile=(rows, width, 128))
        if deep:
            spec = spec.with_changes(stages=spec.max_stages())
        tiles = ceil_div(m, rows) * ceil_div(n, width)
        for splits in DECODE_SPLIT_COUNTS:
            units = tiles * splits
            if splits == 1 or (H100_SM_COUNT // 2 <= units <= H100_SM_COUNT
                               and k_blocks >= splits * MIN_K_BLOCKS_PER_SPLIT):
                pairs.append((spec, splits))
    return pairs


def variant_specs(variants: str, kind_a: str, kind_b: str) -> list[GemmSpec]:
    """The specs of one variant family for a recipe (block scales: 192-wide tiles straddle B's 128x128 scale
    blocks; 64-row ping-pong tiles that do measured slower than 128-wide ones, docs/performance.md)."""
    rows = 64 if variants == "pingpong" else 128
    schedule = "pingpong" if variants == "pingpong" else "cooperative"

    def spec(width, accumulation="promoted", cluster=(1, 1), stages="auto"):
        return GemmSpec(scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b), tile=(rows, width, 128),
                        schedule=schedule, accumulation=accumulation, cluster=cluster, stages=stages)

    if variants == "cluster":
        return [spec(128, cluster=(2, 1))]
    if variants == "stages":
        most = spec(128).stages
        return [spec(128, stages=stages) for stages in (most, most - 1, most - 2)]
    if variants == "widths":
        return [spec(width) for width in WIDTH_VARIANTS
                if kind_b != "block" or spans_two_blocks_at_most(width, ScaleRecipe(kind_b).group_size)]

    specs = [spec(128)] if variants == "pingpong" else []
    if kind_b != "block" or variants == "wide":
        specs.append(spec(192))
    if kind_b == "tensor":
        specs.append(spec(256, "fast"))
    return specs


def label(spec: GemmSpec) -> str:
    return spec.name.split("_", 6)[-1]  # tile, schedule, stages, accumulation


def cublas_runs(inputs) -> bool:
    try:
        torch._scaled_mm(inputs.a, inputs.b.t(), *inputs.theirs, out_dtype=torch.bfloat16)
        return True
    except RuntimeError:
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="pingpong",
                        choices=("pingpong", "wide", "decode", "decode-stages", "decode-splits", "cluster", "stages",
                                 "widths", "tail", "raster"))
    parser.add_argument("--shapes", default="quick",
                        help="quick: 4 prefill shapes; suite: the prefill and square shapes of bench_shapes.toml "
                             "(decode variants: its decode shapes); or a shape file in that format (all its shapes)")
    parser.add_argument("--recipes", default="tensor,row,block")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.variants.startswith("decode") and args.shapes in ("quick", "suite"):
        shapes = [(m, n, k) for _, m, n, k in load_shapes(DEFAULT_SHAPES, {"decode"})]
    else:
        shapes = (QUICK_SHAPES if args.shapes == "quick" else
                  [(m, n, k) for _, m, n, k in load_shapes(DEFAULT_SHAPES, {"prefill", "square"})]
                  if args.shapes == "suite" else [(m, n, k) for _, m, n, k in load_shapes(Path(args.shapes))])
    recipes = args.recipes.split(",")
    gpu = torch.cuda.get_device_name()

    def default_spec(recipe: str, m: int, n: int, k: int) -> GemmSpec:
        kind_a, kind_b = RECIPE_KINDS[recipe]
        return tuning.select_spec(gpu, m, n, k, "e4m3", "e4m3", "bf16", ScaleRecipe(kind_a), ScaleRecipe(kind_b))

    def variants_for(recipe: str, m: int, n: int, k: int) -> list[tuple[GemmSpec, int | None]]:
        kinds = RECIPE_KINDS[recipe]
        if args.variants == "raster":
            return raster_variants(default_spec(recipe, m, n, k))
        if args.variants == "decode-splits":
            return decode_split_variants(m, n, k, *kinds)
        if args.variants.startswith("decode"):
            return decode_variants(m, *kinds, deep=args.variants == "decode-stages")
        if args.variants == "tail":
            return tail_variants(*kinds)
        return [(spec, None) for spec in variant_specs(args.variants, *kinds)]

    build_many(list(dict.fromkeys(spec for recipe in recipes for m, n, k in shapes
                                  for spec, _ in variants_for(recipe, m, n, k))), jobs=16)
    rows, ratios = [], {}
    for recipe in recipes:
        for m, n, k in shapes:
            variants = variants_for(recipe, m, n, k)
            if not variants:
                continue
            sets = [random_inputs(recipe, m, n, k) for _ in range(input_set_count(m, n, k))]
            default = default_spec(recipe, m, n, k)
            kernels = {f"default {label(default)}": (fp8gen.compile(default), None)}
            # A variant the heuristics already pick here is the default: timed once, not compared with itself.
            kernels.update({label(s) + ("" if split is None else f" split {split}"): (fp8gen.compile(s), split)
                            for s, split in variants if (s, split) != (default, None)})
            calls = [[lambda s=s, kernel=kernel, split=split: kernel(s.a, s.b, *s.ours, out=s.out, split_k=split)
                      for s in sets] for kernel, split in kernels.values()]
            names = list(kernels)
            if cublas_runs(sets[0]):  # (no block scales at M = 1)
                calls.append([lambda s=s: torch._scaled_mm(s.a, s.b.t(), *s.theirs, out_dtype=torch.bfloat16)
                              for s in sets])
                names.append("cuBLASLt")
            times = graph_ms(*calls)
            flops = 2 * m * n * k
            tflops = {name: flops / t / 1e9 for name, t in zip(names, times)}
            rows.append({"recipe": recipe, "m": m, "n": n, "k": k, "tflops": tflops})
            for name, t in zip(names[1:], times[1:]):
                ratios.setdefault((recipe, name), []).append(times[0] / t)
            print(f"{recipe:6s} {m}x{n}x{k}: " + " | ".join(f"{name} {v:.0f}" for name, v in tflops.items()), flush=True)
    print("geomean speed relative to the default:")
    for (recipe, name), values in ratios.items():
        print(f"  {recipe:6s} {name:40s} {geomean(values):.3f} ({len(values)} shapes, min {min(values):.3f}, "
              f"max {max(values):.3f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": environment(), "variants": args.variants, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
