"""Device-to-device copy bandwidth (bytes read + written per second; `Tensor.copy_` of 2 GiB, median of 5
rounds of 10), and with --bench-json the weight bytes (N x K) per second of each decode shape of an
`fp8gen bench` run as a fraction of it (issue #4's "weight bandwidth vs copy bandwidth").

    python benchmarks/copy_bandwidth.py [--bench-json bench.json] [--copy-gbps GB/s]

--copy-gbps skips the measurement (no GPU needed then).
"""

from __future__ import annotations

import argparse
import json
import statistics


def copy_gbps(size: int = 2 << 30, rounds: int = 5, copies: int = 10) -> float:
    import torch

    source = torch.empty(size, dtype=torch.uint8, device="cuda")
    target = torch.empty_like(source)
    for _ in range(3):
        target.copy_(source)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(rounds):
        start.record()
        for _ in range(copies):
            target.copy_(source)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / copies)
    return 2 * size / statistics.median(times) / 1e6  # bytes / ms -> GB/s


def weight_fractions(bench: dict, copy: float) -> list[tuple[tuple[int, int, int], dict[str, float]]]:
    """Per decode shape: weight GB/s of each recipe's fp8gen kernel (and cuBLASLt per-tensor)."""
    table: dict[tuple[int, int, int], dict[str, float]] = {}
    for recipe, result in bench["recipes"].items():
        for row in result["rows"]:
            if row["group"] != "decode":
                continue
            shape = (row["m"], row["n"], row["k"])
            table.setdefault(shape, {})[recipe] = row["n"] * row["k"] / row["fp8gen_ms"] / 1e6
            if recipe == "tensor" and row.get("cublaslt_ms"):
                table[shape]["cuBLASLt tensor"] = row["n"] * row["k"] / row["cublaslt_ms"] / 1e6
    return list(table.items())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-json", default=None, help="output of fp8gen bench --json")
    parser.add_argument("--copy-gbps", type=float, default=None, help="use this copy bandwidth instead of measuring")
    args = parser.parse_args(argv)
    copy = args.copy_gbps or copy_gbps()
    print(f"device-to-device copy: {copy:.0f} GB/s (read + write)")
    if args.bench_json:
        with open(args.bench_json) as f:
            rows = weight_fractions(json.load(f), copy)
        columns = ["tensor", "row", "block", "cuBLASLt tensor"]
        print("weight GB/s (fraction of copy) | shape | " + " | ".join(columns))
        for (m, n, k), values in rows:
            print(f"{m}x{n}x{k} | " + " | ".join(f"{values[c]:.0f} ({values[c] / copy:.0%})" if c in values else "-"
                                             for c in columns))
        for c in columns:
            fractions = [values[c] / copy for _, values in rows if c in values]
            if fractions:
                print(f"{c}: median {statistics.median(fractions):.0%}, best {max(fractions):.0%}, "
                      f">= 85% on {sum(f >= 0.85 for f in fractions)} of {len(fractions)} shapes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
