"""Warp-stall samples of one kernel from an Nsight Compute source-page export: total samples, the stall
reasons summed over the kernel, and the instructions with the most samples (where the warps wait).

    ncu --set full -k regex:fp8gen_gemm --launch-skip 2 --launch-count 1 -o rep python benchmarks/time_kernel.py ...
    ncu -i rep.ncu-rep --page source --csv --print-source sass > source.csv
    python benchmarks/ncu_stalls.py source.csv [other.csv ...] [--top 14]    (.csv.xz files too)
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import lzma
from pathlib import Path

SAMPLES = "Warp Stall Sampling (All Samples)"


def rows_of(path: Path) -> list[dict]:
    """The export's instruction rows (its first line names the kernel, its second the columns)."""
    text = lzma.open(path, "rt").read() if path.suffix == ".xz" else path.read_text()
    lines = list(csv.reader(io.StringIO(text)))
    header = lines[1]
    return [dict(zip(header, line)) for line in lines[2:] if len(line) == len(header)]


def number(text: str) -> float:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def report(path: Path, top: int) -> None:
    rows = rows_of(path)
    reasons = [k for k in rows[0] if k.startswith("stall_") and "Not Issued" not in k]
    totals = collections.Counter({k[len("stall_"):]: sum(number(r[k]) for r in rows) for k in reasons})
    print(f"{path.name}: {sum(number(r[SAMPLES]) for r in rows):.0f} samples")
    print("  by reason: " + ", ".join(f"{k} {v:.0f}" for k, v in totals.most_common(9)))
    for r in sorted(rows, key=lambda r: -number(r[SAMPLES]))[:top]:
        main = max(reasons, key=lambda k: number(r[k]))[len("stall_"):]
        print(f"  {number(r[SAMPLES]):6.0f} {main:12s} {r['Source'].strip()[:80]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="+", type=Path, help="ncu --page source --csv exports (.csv or .csv.xz)")
    parser.add_argument("--top", type=int, default=14, help="instructions to list per kernel")
    args = parser.parse_args(argv)
    for path in args.exports:
        report(path, args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
