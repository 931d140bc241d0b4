"""Read a `variants_vs_default.py --variants tail` JSON and judge the heuristics against it: per shape and
recipe, the (width, split) configuration choose_spec + tail_split pick now, its speed relative to the
fastest measured configuration, and the split launch against the same kernel unsplit for each width.
Prints a table and the geomeans per recipe. No GPU needed.

    python benchmarks/tail_model_check.py docs/results/2026-12-03-tail-split-h200.json
"""

from __future__ import annotations

import argparse
import json
import re

from fp8gen.bench import RECIPE_KINDS, geomean
from fp8gen.heuristics import H100_SM_COUNT, choose_spec, tail_split


def measured(tflops: dict[str, float], width: int, unsplit: bool) -> float | None:
    """The TFLOP/s of the 128-row tile `width` wide, with the default split (None) or split_k=1."""
    for name, value in tflops.items():
        if re.search(rf"\b128x{width}x128_", name) and name.endswith("split 1") == unsplit:
            return value
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json")
    args = parser.parse_args(argv)
    with open(args.json) as f:
        rows = json.load(f)["rows"]
    picks: dict[str, list[float]] = {}
    split_gains: dict[str, list[float]] = {}  # split / unsplit of the picked tile, where the pick splits
    print(f"{'recipe':6s} {'shape':18s} {'pick':>10s} {'pick/best':>9s}  split/unsplit per width")
    for row in rows:
        recipe, m, n, k, tflops = row["recipe"], row["m"], row["n"], row["k"], row["tflops"]
        kind_a, kind_b = RECIPE_KINDS[recipe]
        tile = choose_spec(m, n, k, "e4m3", "e4m3", "bf16", kind_a, kind_b).tile
        splits = tail_split(m, n, k, tile, H100_SM_COUNT).splits
        # A configuration the tail split leaves unsplit runs the same launch as split_k=1.
        pick = measured(tflops, tile[1], unsplit=splits == 1) or measured(tflops, tile[1], unsplit=False)
        best = max(value for name, value in tflops.items() if name != "cuBLASLt")
        picks.setdefault(recipe, []).append(pick / best)
        if splits > 1:
            split_gains.setdefault(recipe, []).append(pick / measured(tflops, tile[1], unsplit=True))
        gains = []
        for width in (128, 176, 192):
            split, unsplit = measured(tflops, width, False), measured(tflops, width, True)
            if split and unsplit:
                gains.append(f"{width}: {split / unsplit:.3f}")
        print(f"{recipe:6s} {f'{m}x{n}x{k}':18s} {f'{tile[1]}/{splits}':>10s} {pick / best:9.3f}  {', '.join(gains)}")
    for recipe, values in picks.items():
        gains = split_gains.get(recipe, [])
        print(f"{recipe}: pick / best geomean {geomean(values):.3f}, worst {min(values):.3f} ({len(values)} shapes); "
              + (f"split picks vs the same tile unsplit {geomean(gains):.3f} ({min(gains):.3f}-{max(gains):.3f}, "
                 f"{len(gains)} shapes)" if gains else "no split picks"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
