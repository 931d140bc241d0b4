"""What limits each kernel the shape heuristics pick on the benchmark suite, from Nsight Compute counters.

Three steps (on the H100; the first compiles outside the profiler, the second runs each shape's kernel
once under ncu, the third prints the table):

    python benchmarks/profile_gemm.py build --recipe tensor
    ncu --csv --log-file ncu.csv -k regex:fp8gen_gemm --metrics "$(python benchmarks/profile_gemm.py metrics)" \\
        python benchmarks/profile_gemm.py run --recipe tensor --order order.json
    python benchmarks/profile_gemm.py table ncu.csv --order order.json

ncu locks the clocks near base (1.3-1.5 GHz SM on the H100 here) unless told otherwise, so durations are
longer than in the timed benchmarks; the utilisation percentages are what the table is for.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

from fp8gen.bench import DEFAULT_SHAPES, RECIPE_KINDS, load_shapes
from fp8gen.heuristics import H100_SM_COUNT, choose_spec, split_k
from fp8gen.spec import ceil_div

METRICS = {
    "gpu__time_duration.sum": "duration_ns",
    "sm__cycles_elapsed.avg.per_second": "sm_hz",
    "sm__pipe_tensor_cycles_active.avg.pct_of_peak_sustained_elapsed": "tensor_pct",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": "sm_pct",
    "lts__throughput.avg.pct_of_peak_sustained_elapsed": "l2_pct",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed": "dram_pct",
    "l1tex__throughput.avg.pct_of_peak_sustained_elapsed": "l1_pct",
}
BUSY = 70.0  # a unit at or above this % of its peak is called the limit
# ncu scales units for display (us or ms, MHz or GHz, "cycle/nsecond"): back to ns and Hz.
UNIT_FACTORS = {"ns": 1, "nsecond": 1, "us": 1e3, "usecond": 1e3, "ms": 1e6, "msecond": 1e6, "s": 1e9, "second": 1e9,
                "hz": 1, "khz": 1e3, "mhz": 1e6, "ghz": 1e9, "cycle/second": 1, "cycle/usecond": 1e6,
                "cycle/nsecond": 1e9, "%": 1}


def heuristic_spec(recipe: str, m: int, n: int, k: int):
    """The kernel the shape heuristics pick (what fp8gen.gemm runs where no tuning table overrides it)."""
    return choose_spec(m, n, k, "e4m3", "e4m3", "bf16", *RECIPE_KINDS[recipe])


def suite_specs(recipe: str) -> list[dict]:
    """Every suite shape with the heuristics' spec for it and its work units (tiles x K splits)."""
    rows = []
    for group, m, n, k in load_shapes(DEFAULT_SHAPES):
        spec = heuristic_spec(recipe, m, n, k)
        bm, bn, _ = spec.tile
        splits = split_k(m, n, k, spec.tile, H100_SM_COUNT)
        rows.append({"group": group, "m": m, "n": n, "k": k, "spec": spec.name,
                     "units": ceil_div(m, bm) * ceil_div(n, bn) * splits, "splits": splits})
    return rows


def run(recipe: str, order_path: str) -> None:
    import torch

    import fp8gen
    from fp8gen.bench import random_inputs

    rows = suite_specs(recipe)
    for row in rows:
        m, n, k = row["m"], row["n"], row["k"]
        s = random_inputs(recipe, m, n, k)
        fp8gen.compile(heuristic_spec(recipe, m, n, k))(s.a, s.b, *s.ours, out=s.out)
    torch.cuda.synchronize()
    with open(order_path, "w") as f:
        json.dump({"recipe": recipe, "rows": rows}, f, indent=2)


def build(recipe: str) -> None:
    from fp8gen import GemmSpec
    from fp8gen.build import build_many

    specs = {heuristic_spec(recipe, m, n, k) for _, m, n, k in load_shapes(DEFAULT_SHAPES)}
    build_many(sorted(specs, key=GemmSpec.__repr__), jobs=16)


def read_ncu_csv(path: str) -> list[dict]:
    """Per profiled kernel (in launch order): the metrics of METRICS as floats."""
    with open(path) as f:
        lines = [line for line in f if line.startswith('"')]  # skip ncu's ==PROF== lines
    kernels: dict[str, dict] = {}
    for record in csv.DictReader(lines):
        name = METRICS.get(record["Metric Name"])
        if name is not None:
            value = float(record["Metric Value"].replace(",", ""))
            kernels.setdefault(record["ID"], {})[name] = value * UNIT_FACTORS[record["Metric Unit"].strip().lower()]
    return [kernels[i] for i in sorted(kernels, key=int)]


def verdict(row: dict) -> str:
    busy = [(row[key], label) for key, label in (("tensor_pct", "tensor cores"), ("dram_pct", "DRAM"),
                                                 ("l2_pct", "L2"), ("l1_pct", "shared memory/L1"))
            if row[key] >= BUSY]
    if busy:
        return " + ".join(label for _, label in sorted(busy, reverse=True))
    waves = row["units"] / H100_SM_COUNT
    if waves < 1 or (waves < 4 and waves % 1 and waves % 1 < 0.75):
        return f"waves ({row['units']} units on {H100_SM_COUNT} SMs)"
    return "latency: no unit at 70% (pipeline fill, epilogue not overlapped)"


def table(csv_path: str, order_path: str) -> str:
    with open(order_path) as f:
        order = json.load(f)
    measured = read_ncu_csv(csv_path)
    if len(measured) != len(order["rows"]):
        raise SystemExit(f"{len(measured)} kernels in {csv_path}, {len(order['rows'])} shapes in {order_path}")
    lines = [f"recipe: {order['recipe']}",
             "| group | M | N | K | kernel | units | SM GHz | us | tensor % | SM % | L1/smem % | L2 % | DRAM % "
             "| weight GB/s | limit |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for shape, counters in zip(order["rows"], measured):
        row = {**shape, **counters}
        us = row["duration_ns"] / 1e3
        weight_gbps = row["n"] * row["k"] / us / 1e3
        kernel = row["spec"].split("_", 5)[-1] + (f" split {row['splits']}" if row["splits"] > 1 else "")
        lines.append(f"| {row['group']} | {row['m']} | {row['n']} | {row['k']} | {kernel} | {row['units']} "
                     f"| {row['sm_hz'] / 1e9:.2f} | {us:.1f} "
                     f"| {row['tensor_pct']:.0f} | {row['sm_pct']:.0f} | {row['l1_pct']:.0f} | {row['l2_pct']:.0f} "
                     f"| {row['dram_pct']:.0f} | {weight_gbps:.0f} | {verdict(row)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("metrics", help="print the --metrics list for ncu")
    for name in ("build", "run"):
        p = sub.add_parser(name)
        p.add_argument("--recipe", default="tensor", choices=list(RECIPE_KINDS))
        if name == "run":
            p.add_argument("--order", default="order.json", help="where to write the shapes in launch order")
    p = sub.add_parser("table")
    p.add_argument("csv")
    p.add_argument("--order", default="order.json")
    args = parser.parse_args(argv)
    if args.command == "metrics":
        print(",".join(METRICS))
    elif args.command == "build":
        build(args.recipe)
    elif args.command == "run":
        run(args.recipe, args.order)
    else:
        print(table(args.csv, args.order))
    return 0


if __name__ == "__main__":
    sys.exit(main())
