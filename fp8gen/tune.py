"""`fp8gen tune`: time candidate kernels per shape on this GPU and keep the fastest in the tuning table.

For each shape and recipe, every candidate of fp8gen.tuning.candidates is compiled (in parallel), run on
the same random inputs as the default kernel and checked against it (a candidate whose output differs
by more than the output format's rounding is dropped), then timed with CUDA graphs over rotating input
sets, all candidates' replays alternating (fp8gen/bench.py). A candidate replaces the heuristic's
choice only when it is faster by more than MIN_GAIN, so run-to-run noise does not flip choices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from . import bench, tuning
from .api import compile as compile_spec, forget_plans
from .build import build_many
from .spec import ScaleRecipe

MIN_GAIN = 0.03
AGREEMENT = 1e-2  # largest relative Frobenius difference to the default kernel's bf16 output


def tune_shape(recipe: str, m: int, n: int, k: int, *, allow_fast: bool = False, jobs: int = 8) -> dict:
    """Measure the candidates for one shape (e4m3 inputs, bf16 output); record a winner in the table."""
    kind_a, kind_b = bench.RECIPE_KINDS[recipe]
    recipe_a, recipe_b = ScaleRecipe(kind_a), ScaleRecipe(kind_b)
    specs = tuning.candidates(m, n, k, "e4m3", "e4m3", "bf16", recipe_a, recipe_b, allow_fast=allow_fast)
    build_many(specs, jobs=jobs)
    kernels = [compile_spec(spec) for spec in specs]
    sets = [bench.random_inputs(recipe, m, n, k) for _ in range(bench.input_set_count(m, n, k))]
    reference = kernels[0](sets[0].a, sets[0].b, *sets[0].ours).float()
    usable = [kernel for kernel in kernels if _agrees(kernel, sets[0], reference)]
    times = bench.graph_ms(*[[lambda s=s, kernel=kernel: kernel(s.a, s.b, *s.ours, out=s.out) for s in sets]
                             for kernel in usable])
    default_ms = times[0]  # the default agrees with itself: usable[0] is kernels[0]
    best = min(range(len(usable)), key=times.__getitem__)
    if times[best] >= default_ms * (1 - MIN_GAIN):
        best = 0
    chosen, chosen_ms = usable[best], times[best]
    key = tuning.problem_key(m, n, k, "e4m3", "e4m3", "bf16", recipe_a, recipe_b)
    tuning.table(torch.cuda.get_device_name()).record(key, chosen.spec, chosen_ms, default_ms)
    return {"recipe": recipe, "m": m, "n": n, "k": k, "default": specs[0].name, "default_ms": default_ms,
            "chosen": chosen.spec.name, "chosen_ms": chosen_ms,
            "candidates": {kernel.spec.name: ms for kernel, ms in zip(usable, times)},
            "dropped": [kernel.spec.name for kernel in kernels if kernel not in usable]}


def _agrees(kernel, inputs, reference: torch.Tensor) -> bool:
    out = kernel(inputs.a, inputs.b, *inputs.ours).float()
    difference = (torch.linalg.vector_norm(out - reference) / torch.linalg.vector_norm(reference)).item()
    return difference <= AGREEMENT


def run(recipes: list[str], shapes_path: Path, groups: set[str] | None, allow_fast: bool, jobs: int,
        log: Callable[[str], None] = print) -> list[dict]:
    rows = []
    log(f"{'recipe':6s} {'M':>5s} {'N':>6s} {'K':>6s} {'default us':>10s} {'tuned us':>9s} {'gain':>6s}  kernel")
    for recipe in recipes:
        for _, m, n, k in bench.load_shapes(shapes_path, groups):
            row = tune_shape(recipe, m, n, k, allow_fast=allow_fast, jobs=jobs)
            rows.append(row)
            log(f"{recipe:6s} {m:5d} {n:6d} {k:6d} {row['default_ms'] * 1e3:10.1f} {row['chosen_ms'] * 1e3:9.1f} "
                f"{row['default_ms'] / row['chosen_ms']:5.2f}x  {row['chosen']}")
    path = tuning.table(torch.cuda.get_device_name()).save()
    tuning.reload()
    forget_plans()  # calls from now on go to the tuned kernels
    log(f"\ntuning table: {path}")
    return rows
