"""Raster group 4 (the rule) against 8 (the default) alone, alternating graph replays of just the two kernels
and cuBLASLt (as `fp8gen bench` times a shape), twice per shape: per-tensor, per-row and block scales."""
import torch

import fp8gen
from fp8gen.bench import RECIPE_KINDS, graph_ms, input_set_count, random_inputs
from fp8gen.build import build_many
from fp8gen.heuristics import choose_spec
from fp8gen.spec import DEFAULT_RASTER_GROUP, ScaleRecipe

SHAPES = [(16384, 16384, 16384), (16384, 16384, 6144), (12288, 12288, 12288)]


def specs(recipe, m, n, k):
    kind_a, kind_b = RECIPE_KINDS[recipe]
    rule = choose_spec(m, n, k, "e4m3", "e4m3", "bf16", ScaleRecipe(kind_a), ScaleRecipe(kind_b))
    return rule, rule.with_changes(raster_group=DEFAULT_RASTER_GROUP)


def main():
    build_many([s for r in RECIPE_KINDS for shape in SHAPES for s in specs(r, *shape)], jobs=16)
    for recipe in RECIPE_KINDS:
        for m, n, k in SHAPES:
            sets = [random_inputs(recipe, m, n, k) for _ in range(input_set_count(m, n, k))]
            kernels = [fp8gen.compile(s) for s in specs(recipe, m, n, k)]
            calls = [[lambda s=s, kern=kern: kern(s.a, s.b, *s.ours, out=s.out) for s in sets] for kern in kernels]
            calls.append([lambda s=s: torch._scaled_mm(s.a, s.b.t(), *s.theirs, out_dtype=torch.bfloat16) for s in sets])
            for run in (1, 2):
                t4, t8, tc = graph_ms(*calls)
                tf = lambda t: 2 * m * n * k / t / 1e9  # noqa: E731
                print(f"{recipe:6s} {m}x{n}x{k} run {run}: raster 4 {tf(t4):.0f}, raster 8 {tf(t8):.0f}, cuBLASLt {tf(tc):.0f} "
                      f"TFLOP/s; 4 / 8 {t8 / t4:.3f}, 4 / cuBLASLt {tc / t4:.3f}", flush=True)
            del sets, calls
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
