"""Host (CPU) time per GEMM call while the GPU is busy, so no call waits on the device: fp8gen's entry
points vs torch._scaled_mm vs a bare cuLaunchKernelEx of the same fp8gen kernel with prebuilt arguments.

    python benchmarks/host_overhead.py [--calls 2000] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time

import torch

import fp8gen
import fp8gen.torch_ops  # noqa: F401
from fp8gen import api
from fp8gen.bench import environment, random_inputs
from fp8gen.runtime import _driver, check

N, K = 7168, 2048


def per_call_us(call, calls: int, rounds: int = 7) -> float:
    """The best of `rounds` rounds of the mean CPU time per call, each with a long GPU sleep queued first.
    The minimum, because on a shared host noise only ever adds time."""
    best = float("inf")
    for _ in range(rounds):
        torch.cuda._sleep(int(calls * 2e5))  # ~0.1 ms of GPU time per call: every call below only enqueues
        start = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - start) / calls * 1e6)
        torch.cuda.synchronize()
    return best


def bare_launches(kernel: fp8gen.Kernel, a, b, sa, sb, out):
    """The launch fp8gen replays, issued with nothing else around it: through fp8gen's ctypes call, and
    through cuda.bindings' cuLaunchKernelEx with the same prebuilt void** parameters."""
    kernel(a, b, sa, sb, out=out, split_k=1)
    # This call's own plan (M = 1, 16 and 64 share a kernel: its other plans launch on other tensors).
    plan = kernel._plans.get(api._call_key(a, b, sa, sb, out, 1, ()))
    if plan is None:
        raise RuntimeError("this call is not replayed (e.g. its scales need a copy per call)")
    prepared = plan._launch
    stream = torch.cuda.current_stream().cuda_stream
    driver = _driver()
    config = driver.CUlaunchConfig()
    config.gridDimX, config.gridDimY, config.gridDimZ = prepared._config.grid
    config.blockDimX, config.blockDimY, config.blockDimZ = prepared._config.block
    config.sharedMemBytes = prepared._config.shared_mem_bytes
    config.hStream = driver.CUstream(stream)
    handle = kernel._kernel()._kernel
    params = ctypes.addressof(prepared._pointers)
    cuda_python_launch = lambda: driver.cuLaunchKernelEx(config, handle, params, 0)  # noqa: E731
    check(cuda_python_launch(), "cuLaunchKernelEx")  # a failing launch would time as a fast one
    return (lambda: prepared.launch(stream)), cuda_python_launch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", default="host_overhead.json")
    args = parser.parse_args(argv)
    rows = []
    names = ["fp8gen.gemm", "Kernel()", "torch.ops", "torch.ops scaled_mm", "ctypes launch", "cuda-python launch",
             "_scaled_mm"]
    print(f"{'recipe':6s} {'M':>4s} " + " ".join(f"{name:>{max(9, len(name))}s}" for name in names)
          + f"   (us of CPU per call, N={N}, K={K}, bf16 out)")
    for recipe in ("tensor", "block"):
        for m in (1, 16, 64):
            inputs = random_inputs(recipe, m, N, K)  # the same values in fp8gen's and _scaled_mm's layouts
            a, b, (sa, sb), out = inputs.a, inputs.b, inputs.ours, inputs.out
            scaled_mm = lambda: torch._scaled_mm(a, b.t(), *inputs.theirs, out_dtype=torch.bfloat16)  # noqa: E731
            kind_a, kind_b = ("tensor", "tensor") if recipe == "tensor" else ("group", "block")
            kernel = fp8gen.compile(fp8gen.heuristics.choose_spec(m, N, K, "e4m3", "e4m3", "bf16", kind_a, kind_b))
            ctypes_launch, cuda_python_launch = bare_launches(kernel, a, b, sa, sb, out)
            calls = {
                "fp8gen.gemm": lambda: fp8gen.gemm(a, b, sa, sb, out=out, split_k=1),
                "Kernel()": lambda: kernel(a, b, sa, sb, out=out, split_k=1),
                "torch.ops": lambda: torch.ops.fp8gen.gemm(a, b, sa, sb, torch.bfloat16, None, None, 1.0, 1.0, "",
                                                           None, 1),
                "torch.ops scaled_mm": lambda: torch.ops.fp8gen.scaled_mm(a, b, sa, sb, torch.bfloat16),
                "ctypes launch": ctypes_launch,
                "cuda-python launch": cuda_python_launch,
                "_scaled_mm": scaled_mm,
            }
            try:
                scaled_mm()
            except RuntimeError:  # cuBLASLt's blockwise path rejects some M (e.g. M = 1)
                del calls["_scaled_mm"]
            for call in calls.values():
                call()
            torch.cuda.synchronize()
            row = {"recipe": recipe, "m": m, **{name: per_call_us(call, args.calls) for name, call in calls.items()}}
            rows.append(row)
            print(f"{recipe:6s} {m:4d} " + " ".join(f"{row[name]:{max(9, len(name))}.1f}" if name in row
                                                   else f"{'n/a':>{max(9, len(name))}s}" for name in names))
    with open(args.json, "w") as f:
        json.dump({"environment": environment(), "n": N, "k": K, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
