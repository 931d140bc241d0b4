"""Grouped contiguous/masked block-scale kernels: spec variants timed against the default in one graph_ms run.
    python .scratch/grouped_sweep.py [--build]"""
import os, sys, json
sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
import fp8gen
from fp8gen import GemmSpec, grouped

VARIANTS = {"default": {}, "raster4": {"raster_group": 4}, "raster16": {"raster_group": 16},
            "raster1": {"raster_group": 1}, "w128": {"tile": (128, 128, 128)}, "w160": {"tile": (128, 160, 128)},
            "s3": {"stages": 3}}
SHAPES = [("contiguous", 4, 8192, 4096, 7168, 1346), ("contiguous", 8, 4096, 7168, 2048, None),
          ("masked", 1, 1024, 4096, 7168, 1233)]
override = {}


def patched_spec(**fields):
    return GemmSpec(**{**fields, **override})


grouped.GemmSpec = patched_spec


def specs():
    out = {}
    for name, changes in VARIANTS.items():
        for layout, g, rows, n, k, _ in SHAPES:
            block_m = 128
            width = fp8gen.heuristics.grouped_block_n(g * rows, n, block_m, fp8gen.ScaleRecipe("group"), fp8gen.ScaleRecipe("block"))
            fields = dict(scale_a="group", scale_b="block", tile=(block_m, width, 128), grouping=layout)
            try:
                out[(name, layout, g)] = GemmSpec(**{**fields, **changes})
            except Exception as exc:
                print(name, layout, "invalid:", str(exc)[:120])
    return out


def main():
    if "--build" in sys.argv:
        from fp8gen.build import build_many
        build_many(list(dict.fromkeys(specs().values())), jobs=int(os.environ.get("JOBS", "2")))
        return
    import torch
    import bench_grouped as bg
    from fp8gen.bench import graph_ms, input_sets_for
    valid = specs()
    rows_out = []
    for layout, g, rows, n, k, published in SHAPES:
        sets = [bg.grouped_inputs("block", g, rows, n, k) for _ in range(input_sets_for(g * (rows * k + n * k + 2 * rows * n)))]
        names = [name for name in VARIANTS if (name, layout, g) in valid]
        lists, refs = [], []
        for name in names:
            override.clear(); override.update(VARIANTS[name])
            calls = [bg.grouped_call(layout, g, rows, n, k, s) for s in sets]
            calls[0](); torch.cuda.synchronize()
            refs.append(sets[0]["out"].clone())
            # bind the variant's kernel now: grouped_gemm compiles per call, so capture under this override
            lists.append(calls)
        # graph_ms captures each list in turn; the override must hold per list: wrap each call
        wrapped = []
        for name, calls in zip(names, lists):
            def make(c, ch):
                def run():
                    override.clear(); override.update(ch); return c()
                return run
            wrapped.append([make(c, VARIANTS[name]) for c in calls])
        times = graph_ms(*wrapped)
        flops = 2.0 * g * rows * n * k
        same = [torch.equal(refs[0], r) for r in refs]
        for name, t, eq in zip(names, times, same):
            row = dict(layout=layout, groups=g, rows=rows, n=n, k=k, variant=name, tflops=flops / t / 1e9,
                       speedup=times[0] / t, same_as_default=eq, deepgemm=published)
            rows_out.append(row)
            print(f"{layout:10s} {g}x{rows}x{n}x{k} {name:9s} {row['tflops']:6.0f} TFLOP/s  x{row['speedup']:.3f}  identical {eq}", flush=True)
    json.dump(rows_out, open(os.environ.get("OUT", ".") + "/grouped_sweep.json", "w"), indent=1)


if __name__ == "__main__":
    main()
