"""Compile ahead (no GPU): GPU tests' kernels, the suite bench's picks, the group A/B kernels."""
import os, sys, time
sys.path.insert(0, os.getcwd())
from fp8gen import ScaleRecipe
from fp8gen.bench import DEFAULT_SHAPES, RECIPE_KINDS, load_shapes
from fp8gen.build import build_many
from fp8gen.heuristics import choose_spec
n = 0
t = 0
def main():
    global n, t
    specs = []
    if "bench" in sys.argv:
        for recipe in ("tensor", "row", "block"):
            ka, kb = RECIPE_KINDS[recipe]
            for _, m, n, k in load_shapes(DEFAULT_SHAPES):
                specs.append(choose_spec(m, n, k, "e4m3", "e4m3", "bf16", ScaleRecipe(ka), ScaleRecipe(kb), ()))
    if "ab" in sys.argv:
        sys.path.insert(0, "benchmarks")
        from ab_cache import specs_of
        specs += [s for *_, s in specs_of("group", "128x128,128x64", ())]
    if "ec" in sys.argv:
        sys.path.insert(0, "benchmarks")
        from epilogue_cost import FP8GEN_VARIANTS, SHAPES, fp8gen_spec, pingpong_spec, PINGPONG_CHAINS
        specs += [fp8gen_spec(m, n, k, **kw) for m, n, k in SHAPES for kw in FP8GEN_VARIANTS.values()]
        specs += [pingpong_spec(c) for c in PINGPONG_CHAINS]
    if "tests" in sys.argv:
        from tests.gpu.prebuild import kernel_specs_by_module
        for v in kernel_specs_by_module().values():
            specs += v
    specs = list(dict.fromkeys(specs))
    print(len(specs), "kernels", flush=True)
    t = time.time()
    def done(a):
        global n; n += 1
        if n % 20 == 0 or n == len(specs): print(f"{n}/{len(specs)} {time.time()-t:.0f} s", flush=True)
    build_many(specs, jobs=2, on_done=done)

if __name__ == '__main__':
    main()
