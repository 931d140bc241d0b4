"""How well fp8gen's decode tile choice (fp8gen/heuristics.py: decode_seconds, decode_width, split_k) picks
among measured configurations: reads the output of `variants_vs_default.py --variants decode` (or
decode-splits) and prints,
per recipe and shape, the best measured (width, split), the run's default and the current heuristic's pick,
then the geomean and worst fraction of the best speed for both. With --fit, the grid search that chose the
model's constants (decode shapes with M >= 2, ranked by geomean fraction of the best).

    python benchmarks/decode_model_check.py docs/results/2026-12-05j-decode-splits-h100.txt [--fit]

No GPU needed.
"""

from __future__ import annotations

import argparse
import itertools
import re
from pathlib import Path

from fp8gen import heuristics
from fp8gen.bench import RECIPE_KINDS, geomean
from fp8gen.heuristics import (MIN_K_BLOCKS_PER_SPLIT, MAX_SPLITS, balanced_splits, ceil_div, choose_spec,
                               decode_seconds, split_k)

SM_COUNT = heuristics.H100_SM_COUNT
LINE = re.compile(r"(\w+)\s+(\d+)x(\d+)x(\d+): (.*)")
ENTRY = re.compile(r"(default )?(\d+)x(\d+)x128\S*(?: split (\d+))? (\d+)$")


def run_split(m: int, n: int, k: int, tile: tuple[int, int, int]) -> int:
    """The K split the measured runs gave a variant without an explicit one: the SM-filling rule fp8gen
    used before the decode model (every SM a unit, at least MIN_K_BLOCKS_PER_SPLIT K blocks each)."""
    tiles = ceil_div(m, tile[0]) * ceil_div(n, tile[1])
    k_blocks = ceil_div(k, tile[2])
    if tiles == 0 or 2 * tiles > SM_COUNT or k_blocks == 0:
        return 1
    return balanced_splits(k_blocks, max(1, min(SM_COUNT // tiles, k_blocks // MIN_K_BLOCKS_PER_SPLIT, MAX_SPLITS)))


def parse(path: Path) -> list[tuple[str, int, int, int, dict, tuple[int, int]]]:
    """(recipe, m, n, k, {(width, split): TFLOP/s}, the run's default (width, split)) per measured line."""
    shapes = []
    for line in path.read_text().splitlines():
        match = LINE.match(line)
        if not match:
            continue
        recipe, m, n, k = match.group(1), *(int(match.group(i)) for i in (2, 3, 4))
        measured, default = {}, None
        for part in match.group(5).split(" | "):
            entry = ENTRY.match(part)
            if not entry:
                continue  # cuBLASLt
            tile = (int(entry.group(2)), int(entry.group(3)), 128)
            config = (tile[1], int(entry.group(4)) if entry.group(4) else run_split(m, n, k, tile))
            measured[config] = float(entry.group(5))
            if entry.group(1):
                default = config
        shapes.append((recipe, m, n, k, measured, default))
    return shapes


def check(shapes) -> None:
    ours, defaults = [], []
    for recipe, m, n, k, measured, default in shapes:
        spec = choose_spec(m, n, k, "e4m3", "e4m3", "bf16", *RECIPE_KINDS[recipe])
        pick = (spec.tile[1], split_k(m, n, k, spec.tile, SM_COUNT))
        best = max(measured, key=measured.get)
        got = measured.get(pick)
        print(f"{recipe:6s} {m}x{n}x{k}: best {best} {measured[best]:.0f} | run's default {default} "
              f"{measured[default]:.0f} | now {pick} {'not measured' if got is None else f'{got:.0f}'}")
        if got is not None:
            ours.append(got / measured[best])
            defaults.append(measured[default] / measured[best])
    print(f"fraction of the best, over {len(ours)} shapes whose current pick was measured: now geomean "
          f"{geomean(ours):.3f} (worst {min(ours):.3f}); run's default {geomean(defaults):.3f} (worst {min(defaults):.3f})")


def fit(shapes) -> None:
    def modelled(recipe, m, n, k, width, splits, device, sm, kblock, kblock_k_groups, split_seconds):
        tile = (64 if m <= 64 else 128, width, 128)
        return decode_seconds(m, n, k, tile, splits, SM_COUNT, device_rate=device, sm_rate=sm,
                              kblock_seconds=kblock_k_groups if recipe == "block" else kblock,
                              split_seconds=split_seconds)

    results = []
    # device rate, SM rate, K-block floor, the floor with block scales, split cost
    grid = ((3e12, 4e12, 5e12, 6e12), (20e9, 30e9, 40e9, 50e9, 60e9), (60e-9, 80e-9, 100e-9, 120e-9, 140e-9),
            (100e-9, 120e-9, 140e-9, 160e-9, 180e-9, 200e-9), (2e-6, 3e-6, 4e-6, 6e-6, 8e-6))
    for constants in itertools.product(*grid):
        fractions = []
        for recipe, m, n, k, measured, _ in shapes:
            if m < 2:
                continue
            choice = min(measured, key=lambda c: (modelled(recipe, m, n, k, *c, *constants), -c[0]))
            fractions.append(measured[choice] / max(measured.values()))
        results.append((geomean(fractions), min(fractions), constants))
    for g, worst, (device, sm, kblock, kblock_k_groups, split_seconds) in sorted(results, reverse=True)[:10]:
        print(f"geomean {g:.4f} worst {worst:.3f}: device {device:.2g} B/s, SM {sm:.2g} B/s, K block "
              f"{kblock:.2g} s ({kblock_k_groups:.2g} s with block scales), split {split_seconds:.2g} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", type=Path, help="output of variants_vs_default.py --variants decode")
    parser.add_argument("--fit", action="store_true", help="also print the best constants of a grid search")
    args = parser.parse_args(argv)
    shapes = parse(args.variants)
    check(shapes)
    if args.fit:
        fit(shapes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
