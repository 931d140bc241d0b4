"""Launch the kernel fp8gen.gemm picks for one shape and recipe (or a given tile) on random inputs: three
launches, then, with --time, three rounds of 20 launches timed with CUDA events (TFLOP/s per round; the
first round is the least throttled). --bias and --activation add a fused epilogue chain (a random bf16
column bias, then the activation); --cublas launches torch._scaled_mm on the same inputs instead. Also the
target for Nsight Compute:

    python benchmarks/time_kernel.py --recipe row --shape 8192x10240x8192 --time
    ncu --set full -k regex:fp8gen_gemm --launch-skip 2 --launch-count 1 -o row \\
        python benchmarks/time_kernel.py --recipe row --shape 8192x10240x8192
    python benchmarks/time_kernel.py --shape 8192x8192x8192 --bias --activation gelu_tanh --time
    python benchmarks/time_kernel.py --tile 128x128 --cluster 2 --stages 5 --shape 4096x4096x7168 --time
"""

from __future__ import annotations

import argparse

import torch

import fp8gen
from fp8gen.bench import RECIPE_KINDS, random_inputs
from fp8gen.epilogue import EpilogueOp
from fp8gen.heuristics import choose_spec


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=sorted(RECIPE_KINDS), default="tensor")
    parser.add_argument("--shape", default="8192x8192x8192", help="MxNxK")
    parser.add_argument("--tile", default=None, help="BMxBN (BK 128) instead of the heuristic's tile")
    parser.add_argument("--cluster", type=int, default=1, help="with --tile: CTAs per cluster along M")
    parser.add_argument("--stages", default="auto", help="with --tile: pipeline stages")
    parser.add_argument("--bias", action="store_true", help="fuse a random bf16 column bias")
    parser.add_argument("--activation", default=None, help="fuse an activation, e.g. relu, gelu_tanh")
    parser.add_argument("--cublas", action="store_true", help="launch torch._scaled_mm instead")
    parser.add_argument("--time", action="store_true", help="time 3 x 20 launches")
    args = parser.parse_args(argv)
    m, n, k = map(int, args.shape.split("x"))
    kind_a, kind_b = RECIPE_KINDS[args.recipe]
    chain = tuple(EpilogueOp.parse(op) for op in ([{"op": "bias", "dtype": "bf16"}] if args.bias else [])
                  + ([args.activation] if args.activation else []))
    if not args.tile and (args.cluster != 1 or args.stages != "auto"):
        parser.error("--cluster and --stages need --tile (the heuristic's pick has its own)")
    if args.tile:
        bm, bn = map(int, args.tile.split("x"))
        spec = fp8gen.GemmSpec(scale_a=fp8gen.ScaleRecipe(kind_a), scale_b=fp8gen.ScaleRecipe(kind_b),
                               tile=(bm, bn, 128), epilogue=chain, cluster=(args.cluster, 1),
                               stages=args.stages if args.stages == "auto" else int(args.stages))
    else:
        spec = choose_spec(m, n, k, "e4m3", "e4m3", "bf16", kind_a, kind_b, chain)
    inputs = random_inputs(args.recipe, m, n, k)
    scale_a, scale_b = inputs.ours
    bias = {"bias": torch.randn(n, device="cuda").to(torch.bfloat16)} if args.bias else {}

    if args.cublas:
        print("torch._scaled_mm", flush=True)

        def launch():
            torch._scaled_mm(inputs.a, inputs.b.t(), *inputs.theirs, out_dtype=torch.bfloat16)
    else:
        kernel = fp8gen.compile(spec)
        print(spec.name, flush=True)

        def launch():
            kernel(inputs.a, inputs.b, scale_a, scale_b, out=inputs.out, **bias)

    for _ in range(3):
        launch()
    torch.cuda.synchronize()
    if args.time:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(3):
            start.record()
            for _ in range(20):
                launch()
            end.record()
            torch.cuda.synchronize()
            ms = start.elapsed_time(end) / 20
            print(f"{ms * 1e3:.1f} us {2 * m * n * k / ms / 1e9:.1f} TFLOP/s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
