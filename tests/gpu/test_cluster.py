"""2-CTA clusters: vertically adjacent tiles share each B tile through TMA multicast."""

from __future__ import annotations

import pytest
import torch

from fp8gen import GemmSpec, ScaleRecipe
from fp8gen.heuristics import tail_split
from tests.gpu.support import check_recipe_gemm

PAIRS = [("tensor", "tensor"), ("row", "row"), ("group", "block"), ("group", "group")]


def cluster_spec(kind_a: str, kind_b: str, out: str, **extra) -> GemmSpec:
    tile = (128, 64, 128) if kind_b == "group" else (128, 128, 128)
    return GemmSpec(out=out, scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b), tile=tile, cluster=(2, 1),
                    **extra)


def kernel_specs() -> list[GemmSpec]:
    return ([cluster_spec(a, b, out) for a, b in PAIRS for out in ("bf16", "f32")]
            + [cluster_spec("tensor", "tensor", "bf16", accumulation="fast")])


@pytest.mark.parametrize("kind_a,kind_b", PAIRS)
@pytest.mark.parametrize("out_name", ["bf16", "f32"])
# 300 rows: three M tiles, so the second cluster's upper CTA computes a tile wholly past M.
@pytest.mark.parametrize("m,n,k", [(300, 333, 784), (2048, 1024, 2048), (128, 64, 128), (1, 200, 256)])
def test_cluster_matches_reference(kind_a, kind_b, out_name, m, n, k, generator):
    check_recipe_gemm(m, n, k, "e4m3", "e4m3", kind_a, kind_b, out_name, generator,
                      spec=cluster_spec(kind_a, kind_b, out_name))


@pytest.mark.parametrize("splits", [2, 5])
def test_cluster_with_split_k(splits, generator):
    check_recipe_gemm(300, 500, 128 * 11 + 16, "e4m3", "e4m3", "group", "block", "bf16", generator,
                      split_k=splits, spec=cluster_spec("group", "block", "bf16"))


@pytest.mark.parametrize("kind_a,kind_b", [("tensor", "tensor"), ("group", "block")])
def test_cluster_with_split_tail(kind_a, kind_b, generator):
    # Six tile rows (three cluster rows) and one more tile column than a third of the clusters per wave:
    # one wave of whole cluster tiles, the rest split in K (heuristics.tail_split).
    spec = cluster_spec(kind_a, kind_b, "bf16")
    clusters = torch.cuda.get_device_properties(0).multi_processor_count // 2
    m, n, k = 6 * 128 - 50, (clusters // 3 + 1) * 128 - 30, 128 * 40 + 16
    assert tail_split(m, n, k, spec.tile, 2 * clusters, cluster_m=2).splits > 1
    check_recipe_gemm(m, n, k, "e4m3", "e4m3", kind_a, kind_b, "bf16", generator, spec=spec)


def test_cluster_fast_accumulation(generator):
    check_recipe_gemm(1000, 1000, 4096, "e4m3", "e4m3", "tensor", "tensor", "bf16", generator,
                      spec=cluster_spec("tensor", "tensor", "bf16", accumulation="fast"))
