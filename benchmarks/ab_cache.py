"""A/B of kernel builds in one process: the kernels another checkout compiled (its kernel cache directory)
against this tree's build of the same specs, on the same inputs, with alternating CUDA-graph replays
(fp8gen/bench.py). Checks the two outputs agree bit for bit, prints the speedup per shape and the geomean per
recipe, and writes JSON.

    # in a checkout of the old commit (no GPU needed):
    FP8GEN_CACHE_DIR=/tmp/old python benchmarks/ab_cache.py --build-only --tiles 128x192 --recipes tensor,row,block
    # in this one:
    python benchmarks/ab_cache.py --old-cache /tmp/old --tiles 128x192 --recipes tensor,row,block
    python benchmarks/ab_cache.py --old-cache /tmp/old --tiles 128x128,128x192 --recipes tensor --epilogue bias,gelu_tanh
    python benchmarks/ab_cache.py --old-cache /tmp/old --tiles 128x128 --shapes 4096x4096x7168,1024x4096x7168

An old kernel is found by its spec's name in the old cache; the launch metadata travels with its cubin, so
the old kernel runs as it was built (its kernel parameters must be this tree's). --epilogue: a chain of
activations, optionally after a bias (a random bf16 N-vector); the outputs of two builds then agree only where
the chain's code did not change. benchmarks/ab_patch.sh runs the whole A/B of a patch against this tree.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

import fp8gen
from fp8gen import GemmSpec, ScaleRecipe
from fp8gen.api import Kernel
from fp8gen.bench import RECIPE_KINDS, InputSet, environment, geomean, graph_ms, random_inputs, random_scale
from fp8gen.build import Artifact, build_many
from fp8gen.quantize import rows_contiguous

SHAPES = [(8192, 8192, 8192), (4096, 7168, 16384), (4096, 32768, 512), (2048, 57344, 8192), (4096, 2112, 7168),
          (4096, 24576, 1536)]


def old_kernel(cache: Path, spec: GemmSpec) -> Kernel:
    entries = [entry for entry in cache.glob(f"{spec.name}.*") if (entry / "kernel.cubin").is_file()]
    if len(entries) != 1:  # none, or builds of several template versions: which one is "old" is unclear
        raise SystemExit(f"{spec.name}: {len(entries)} builds in {cache}, need exactly one")
    entry = entries[0]
    return Kernel(Artifact(spec=spec, key=f"old:{entry.name}", cubin=(entry / "kernel.cubin").read_bytes(),
                           meta=json.loads((entry / "meta.json").read_text())))


CHAIN_OPS = ("bias", "relu", "gelu", "gelu_tanh", "silu")


def parse_epilogue(text: str) -> tuple[str, ...]:
    ops = tuple(op for op in text.split(",") if op)
    unknown = [op for op in ops if op not in CHAIN_OPS]
    if unknown or "bias" in ops[1:]:
        raise SystemExit(f"--epilogue takes an optional leading bias and activations {CHAIN_OPS[1:]}, got {text!r}")
    return ops


# fp8gen's recipes besides the benchmark's (which compares with cuBLASLt): 1x128 groups on both operands
AB_RECIPE_KINDS = {**RECIPE_KINDS, "group": ("group", "group")}


def ab_inputs(recipe: str, m: int, n: int, k: int) -> InputSet:
    if recipe != "group":
        return random_inputs(recipe, m, n, k)
    s = random_inputs("block", m, n, k)
    scale_b = rows_contiguous(random_scale("group", n, k))
    return InputSet(s.a, s.b, (s.ours[0], scale_b), (s.ours[0], scale_b), s.out)


def specs_of(recipes: str, tiles: str, chain: tuple[str, ...]) -> list[tuple[str, str, GemmSpec]]:
    """(recipe, tile, spec) of every kernel the A/B compares."""
    specs = []
    for recipe in recipes.split(","):
        kind_a, kind_b = AB_RECIPE_KINDS[recipe]
        for tile in tiles.split(","):
            bm, bn = map(int, tile.split("x"))
            specs.append((recipe, tile, GemmSpec(scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b),
                                                 tile=(bm, bn, 128), epilogue=chain)))
    return specs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-cache", type=Path, help="the other checkout's kernel cache (not with --build-only)")
    parser.add_argument("--build-only", action="store_true",
                        help="compile this tree's kernels of the comparison into FP8GEN_CACHE_DIR and stop (no GPU): "
                             "run so in the old checkout to fill the cache --old-cache then names")
    parser.add_argument("--recipes", default="tensor,row,block", help=f"comma-separated: {', '.join(AB_RECIPE_KINDS)}")
    parser.add_argument("--tiles", default="128x192", help="comma-separated BMxBN (BK 128)")
    parser.add_argument("--epilogue", default="", help="e.g. bias,gelu_tanh (default: none)")
    parser.add_argument("--shapes", default=None, help="comma-separated MxNxK (default: SHAPES)")
    parser.add_argument("--json", default="ab_cache.json")
    args = parser.parse_args(argv)
    chain = parse_epilogue(args.epilogue)
    specs = specs_of(args.recipes, args.tiles, chain)
    if args.build_only:
        # (the templates compiled are those of the fp8gen imported, which with an editable install may not be
        # this checkout's)
        print(f"compiling with fp8gen from {Path(fp8gen.__file__).parent}", flush=True)
        build_many([spec for *_, spec in specs], jobs=os.cpu_count() or 1)
        return 0
    if args.old_cache is None:
        parser.error("--old-cache is required (except with --build-only)")
    shapes = [tuple(map(int, shape.split("x"))) for shape in args.shapes.split(",")] if args.shapes else SHAPES
    rows, speedups = [], {}
    for recipe, tile, spec in specs:
        kernels = [old_kernel(args.old_cache, spec), fp8gen.compile(spec)]
        for m, n, k in shapes:
            sets = [ab_inputs(recipe, m, n, k) for _ in range(2)]
            first = sets[0]
            epilogue_args = {"bias": torch.randn(n, device="cuda").to(torch.bfloat16)} if "bias" in chain else {}
            outputs = [kernel(first.a, first.b, *first.ours, **epilogue_args) for kernel in kernels]
            identical = torch.equal(outputs[0], outputs[1])
            difference = ((outputs[1].float() - outputs[0].float()).norm() / outputs[0].float().norm()).item()
            calls = [[lambda s=s, kernel=kernel: kernel(s.a, s.b, *s.ours, out=s.out, **epilogue_args)
                      for s in sets]
                     for kernel in kernels]
            old_ms, new_ms = graph_ms(*calls)
            flops = 2 * m * n * k
            row = {"recipe": recipe, "spec": spec.name, "m": m, "n": n, "k": k, "old_tflops": flops / old_ms / 1e9,
                   "new_tflops": flops / new_ms / 1e9, "speedup": old_ms / new_ms, "identical": identical,
                   "relative_difference": difference}
            rows.append(row)
            speedups.setdefault(spec.name, []).append(row["speedup"])
            print(f"{recipe:6s} {tile} {m}x{n}x{k}: old {row['old_tflops']:.0f} new {row['new_tflops']:.0f} TFLOP/s, "
                  f"speedup {row['speedup']:.3f}, outputs identical: {identical}"
                  + ("" if identical else f" (relative Frobenius difference {difference:.1e})"), flush=True)
    for name, values in speedups.items():
        print(f"{name}: geomean speedup {geomean(values):.3f} ({len(values)} shapes)")
    with open(args.json, "w") as f:
        json.dump({"environment": environment(), "old_cache": str(args.old_cache), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
