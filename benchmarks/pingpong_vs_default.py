"""The ping-pong schedule vs the kernel fp8gen.gemm picks vs torch._scaled_mm (cuBLASLt), per recipe, on
prefill shapes: CUDA-graph timing over rotating input sets with alternating replays (fp8gen/bench.py).
Prints one line of TFLOP/s per recipe and shape.

    python benchmarks/pingpong_vs_default.py
"""

from __future__ import annotations

import torch

import fp8gen
from fp8gen import GemmSpec, ScaleRecipe, tuning
from fp8gen.bench import RECIPE_KINDS, graph_ms, input_set_count, random_inputs
from fp8gen.build import build_many

SHAPES = [(8192, 8192, 8192), (4096, 7168, 2048), (2048, 7168, 16384), (4096, 2112, 7168)]


def pingpong_specs(kind_a: str, kind_b: str) -> list[GemmSpec]:
    """64x128 for every recipe; 64x192 where B's scales allow (block scales need BN | 128); 64x256 only
    with fast accumulation (its promoted partials do not fit the registers), per-tensor only."""
    def spec(width, accumulation="promoted"):
        return GemmSpec(scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b), tile=(64, width, 128),
                        schedule="pingpong", accumulation=accumulation)

    specs = [spec(128)]
    if kind_b != "block":
        specs.append(spec(192))
    if kind_b == "tensor":
        specs.append(spec(256, "fast"))
    return specs


def label(spec: GemmSpec) -> str:
    return spec.name.split("_", 6)[-1]  # tile, schedule, stages, accumulation


def main() -> None:
    build_many([s for kinds in RECIPE_KINDS.values() for s in pingpong_specs(*kinds)], jobs=16)
    gpu = torch.cuda.get_device_name()
    for recipe, (kind_a, kind_b) in RECIPE_KINDS.items():
        for m, n, k in SHAPES:
            sets = [random_inputs(recipe, m, n, k) for _ in range(input_set_count(m, n, k))]
            default = tuning.select_spec(gpu, m, n, k, "e4m3", "e4m3", "bf16", ScaleRecipe(kind_a), ScaleRecipe(kind_b))
            kernels = {f"default {label(default)}": fp8gen.compile(default)}
            kernels.update({label(s): fp8gen.compile(s) for s in pingpong_specs(kind_a, kind_b)})
            calls = [[lambda s=s, kernel=kernel: kernel(s.a, s.b, *s.ours, out=s.out) for s in sets]
                     for kernel in kernels.values()]
            calls.append([lambda s=s: torch._scaled_mm(s.a, s.b.t(), *s.theirs, out_dtype=torch.bfloat16) for s in sets])
            times = graph_ms(*calls)
            flops = 2 * m * n * k
            line = " | ".join(f"{name} {flops / t / 1e9:.0f}" for name, t in zip([*kernels, "cuBLASLt"], times))
            print(f"{recipe:6s} {m}x{n}x{k}: {line}", flush=True)


if __name__ == "__main__":
    main()
