"""fp8gen vs torch._scaled_mm (cuBLASLt), per-tensor scales, on the benchmark shape suite.

    python benchmarks/bench_scaled_mm.py [--shapes FILE] [--json OUT.json] [--groups square,prefill,decode]

Both libraries run on the same random e4m3 inputs in one process; times are the
median of triton.testing.do_bench (which flushes L2 between iterations).
Prints a table and per-group geomeans, and writes the full numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
import tomllib
from pathlib import Path

import torch
from triton.testing import do_bench

import fp8gen
from fp8gen.heuristics import choose_spec

DEFAULT_SHAPES = Path(fp8gen.__file__).parent / "data" / "bench_shapes.toml"


def load_shapes(path: Path, groups: set[str] | None) -> list[tuple[str, int, int, int]]:
    data = tomllib.loads(path.read_text())
    return [(entry["group"], m, n, k) for entry in data["shape"] for m, n, k in entry["mnk"]
            if groups is None or entry["group"] in groups]


def median_ms(fn) -> float:
    return do_bench(fn, warmup=25, rep=100, return_mode="median")


def bench_shape(m: int, n: int, k: int) -> dict:
    a = (torch.randn(m, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    b = (torch.randn(n, k, device="cuda") * 4).to(torch.float8_e4m3fn)
    sa = torch.rand(1, device="cuda") + 0.5
    sb = torch.rand(1, device="cuda") + 0.5
    out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
    spec = choose_spec(m, n, k, "e4m3", "e4m3", "bf16", "tensor", "tensor")
    kernel = fp8gen.compile(spec)
    ours = kernel(a, b, sa, sb, out=out).float()
    theirs = torch._scaled_mm(a, b.t(), sa, sb, out_dtype=torch.bfloat16).float()
    agreement = (torch.linalg.vector_norm(ours - theirs) / torch.linalg.vector_norm(theirs)).item()
    t_ours = median_ms(lambda: kernel(a, b, sa, sb, out=out))
    t_cublas = median_ms(lambda: torch._scaled_mm(a, b.t(), sa, sb, out_dtype=torch.bfloat16))
    flops = 2.0 * m * n * k
    bytes_moved = m * k + n * k + 2 * m * n
    return {
        "m": m, "n": n, "k": k, "spec": spec.name, "agreement_rel": agreement,
        "fp8gen_ms": t_ours, "cublaslt_ms": t_cublas,
        "fp8gen_tflops": flops / t_ours / 1e9, "cublaslt_tflops": flops / t_cublas / 1e9,
        "fp8gen_gbps": bytes_moved / t_ours / 1e6, "cublaslt_gbps": bytes_moved / t_cublas / 1e6,
        "ratio": t_cublas / t_ours,
    }


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", type=Path, default=DEFAULT_SHAPES)
    parser.add_argument("--groups", help="comma-separated groups to run (default: all)")
    parser.add_argument("--json", type=Path, default=Path("bench_scaled_mm.json"))
    args = parser.parse_args()
    groups = set(args.groups.split(",")) if args.groups else None
    rows = []
    for group, m, n, k in load_shapes(args.shapes, groups):
        row = {"group": group, **bench_shape(m, n, k)}
        rows.append(row)
        print(f"{group:8s} {m:6d} {n:6d} {k:6d}  fp8gen {row['fp8gen_tflops']:7.1f}  "
              f"cuBLASLt {row['cublaslt_tflops']:7.1f} TFLOP/s  ratio {row['ratio']:.2f}  "
              f"[{row['spec']}, agree {row['agreement_rel']:.1e}]", flush=True)
    summary = {g: geomean([r["ratio"] for r in rows if r["group"] == g]) for g in sorted({r["group"] for r in rows})}
    print("\n| group | M | N | K | fp8gen TFLOP/s | cuBLASLt TFLOP/s | fp8gen GB/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['group']} | {r['m']} | {r['n']} | {r['k']} | {r['fp8gen_tflops']:.1f} | "
              f"{r['cublaslt_tflops']:.1f} | {r['fp8gen_gbps']:.0f} | {r['ratio']:.2f} |")
    print("\ngeomean fp8gen/cuBLASLt speed ratio per group: " + ", ".join(f"{g} {v:.2f}" for g, v in summary.items()))
    env = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "fp8gen": fp8gen.__version__,
           "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    args.json.write_text(json.dumps({"env": env, "rows": rows, "geomean_ratio": summary}, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
