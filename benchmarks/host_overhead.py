"""Host (CPU) time per GEMM call while the GPU is busy, so no call waits on the device: fp8gen's entry
points vs torch._scaled_mm vs a bare cuLaunchKernelEx of the same fp8gen kernel with prebuilt arguments.

    python benchmarks/host_overhead.py [--calls 2000] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

import fp8gen
import fp8gen.torch_ops  # noqa: F401
from fp8gen.bench import environment
from fp8gen.runtime import _driver

N, K = 7168, 2048


def per_call_us(call, calls: int) -> float:
    """Median over 3 rounds of the mean CPU time per call, with a long GPU sleep queued first."""
    rounds = []
    for _ in range(3):
        torch.cuda._sleep(int(calls * 2e5))  # ~0.1 ms of GPU time per call: every call below only enqueues
        start = time.perf_counter()
        for _ in range(calls):
            call()
        rounds.append((time.perf_counter() - start) / calls * 1e6)
        torch.cuda.synchronize()
    return sorted(rounds)[len(rounds) // 2]


def bare_launch(kernel: fp8gen.Kernel, a, b, sa, sb, out):
    """cuLaunchKernelEx with everything prebuilt: the floor any Python entry point pays."""
    captured = {}
    loaded = kernel._kernel()
    original = loaded.launch

    def record(shape, stream, device_index, args, types):
        captured.update(shape=shape, args=args, types=types)
        original(shape, stream, device_index, args, types)

    loaded.launch = record
    kernel(a, b, sa, sb, out=out, split_k=1)
    loaded.launch = original
    driver = _driver()
    config = driver.CUlaunchConfig()
    shape = captured["shape"]
    config.gridDimX, config.gridDimY, config.gridDimZ = shape.grid
    config.blockDimX, config.blockDimY, config.blockDimZ = shape.block
    config.sharedMemBytes = shape.smem_bytes
    config.hStream = driver.CUstream(torch.cuda.current_stream().cuda_stream)
    params = (captured["args"], captured["types"])
    return lambda: driver.cuLaunchKernelEx(config, loaded._kernel, params, 0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", default="host_overhead.json")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'M':>4s} {'fp8gen.gemm':>12s} {'Kernel()':>9s} {'torch.ops':>10s} {'bare launch':>12s} "
          f"{'_scaled_mm':>11s}   (us of CPU per call, N={N}, K={K}, per-tensor bf16)")
    for m in (1, 16, 64):
        a = (torch.randn(m, K, device="cuda")).to(torch.float8_e4m3fn)
        b = (torch.randn(N, K, device="cuda")).to(torch.float8_e4m3fn)
        sa, sb = torch.ones(1, device="cuda"), torch.ones(1, device="cuda")
        out = torch.empty(m, N, dtype=torch.bfloat16, device="cuda")
        kernel = fp8gen.compile(fp8gen.heuristics.choose_spec(m, N, K, "e4m3", "e4m3", "bf16", "tensor", "tensor"))
        calls = {
            "fp8gen.gemm": lambda: fp8gen.gemm(a, b, sa, sb, out=out, split_k=1),
            "Kernel()": lambda: kernel(a, b, sa, sb, out=out, split_k=1),
            "torch.ops": lambda: torch.ops.fp8gen.gemm(a, b, sa, sb, torch.bfloat16, None, None, 1.0, 1.0, "", None, 1),
            "bare launch": bare_launch(kernel, a, b, sa, sb, out),
            "_scaled_mm": lambda: torch._scaled_mm(a, b.t(), sa, sb, out_dtype=torch.bfloat16),
        }
        for call in calls.values():
            call()
        torch.cuda.synchronize()
        row = {"m": m, **{name: per_call_us(call, args.calls) for name, call in calls.items()}}
        rows.append(row)
        print(f"{m:4d} " + " ".join(f"{row[name]:{max(9, len(name))}.1f}" for name in calls))
    with open(args.json, "w") as f:
        json.dump({"environment": environment(), "n": N, "k": K, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
