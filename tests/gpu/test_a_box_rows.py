"""M below one tile: kernels up to 128 wide load only A's M rows (GemmSpec.a_box_rows) and zero the rest of
each stage once; wider ones load whole, zero-filled boxes. Both against the float64 reference, with and
without a K split, and with a 2-CTA cluster (its second CTA's rows lie wholly past M)."""

from __future__ import annotations

import pytest

from fp8gen import GemmSpec, ScaleRecipe
from tests.gpu.support import check_recipe_gemm

SPECS = {
    "64x16": GemmSpec(tile=(64, 16, 128), stages=22),
    "64x64": GemmSpec(tile=(64, 64, 128)),
    "128x128": GemmSpec(tile=(128, 128, 128)),
    "128x192": GemmSpec(tile=(128, 192, 128)),
    "block_128x192": GemmSpec(scale_a=ScaleRecipe("group"), scale_b=ScaleRecipe("block"), tile=(128, 192, 128)),
    "cluster_128x128": GemmSpec(tile=(128, 128, 128), cluster=(2, 1)),
}


def kernel_specs() -> list[GemmSpec]:
    return list(SPECS.values())


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("m", [1, 40, 127, 130])
@pytest.mark.parametrize("split_k", [1, 2])
def test_m_below_and_past_one_tile_matches_float64(name, m, split_k, generator):
    spec = SPECS[name]
    expected_rows = min(m, spec.tile[0]) if spec.tile[1] <= 128 else spec.tile[0]
    assert spec.a_box_rows(m) == expected_rows
    kind_a, kind_b = spec.scale_a.kind, spec.scale_b.kind
    check_recipe_gemm(m, 300, 1008, "e4m3", "e4m3", kind_a, kind_b, "bf16", generator,
                      split_k=split_k if spec.cluster == (1, 1) else None, spec=spec)
