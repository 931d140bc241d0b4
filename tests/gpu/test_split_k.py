"""Split-K: K ranges computed by different CTAs and summed in split order by the last to finish."""

from __future__ import annotations

import pytest
import torch

import fp8gen
from fp8gen.heuristics import choose_spec, split_k, tail_split
from fp8gen.errors import InputError
from tests.gpu.support import check_recipe_gemm, random_fp8, random_scales, relative_error

PAIRS = [("tensor", "tensor"), ("row", "row"), ("group", "block"), ("group", "group"), ("tensor", "group")]
TAIL_K = 128 * 40 + 48  # 41 K blocks, the last one partial: uneven ranges in a split tail


def kernel_specs() -> list[fp8gen.GemmSpec]:
    return ([choose_spec(m, 1, 1, "e4m3", "e4m3", out, ra, rb)
             for m in (64, 130) for out in ("bf16", "f32") for ra, rb in PAIRS]
            + [tile_spec(width, out) for width in (128, 176, 192) for out in ("bf16", "f32")])


def tile_spec(width: int, out: str) -> fp8gen.GemmSpec:
    return fp8gen.GemmSpec(out=out, tile=(128, width, 128))


def tail_shape(spec: fp8gen.GemmSpec) -> tuple[int, int]:
    """(M, N) off the tile grid whose tiles fill one wave of this GPU and leave 1 to 3 for a second: three
    tile rows, one more tile column than a third of the SMs."""
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    bm, bn, _ = spec.tile
    m, n = 3 * bm - 84, (sms // 3 + 1) * bn - 20
    assert tail_split(m, n, TAIL_K, spec.tile, sms).splits > 1
    return m, n


@pytest.mark.parametrize("kind_a,kind_b", PAIRS)
@pytest.mark.parametrize("splits", [2, 3, 7])
@pytest.mark.parametrize("out_name", ["bf16", "f32"])
def test_explicit_splits_match_reference(kind_a, kind_b, splits, out_name, generator):
    # 21 K blocks, the last one partial: uneven ranges for 2 and 7 splits; M and N off the tile.
    check_recipe_gemm(130, 300, 128 * 20 + 48, "e4m3", "e4m3", kind_a, kind_b, out_name, generator, split_k=splits)


@pytest.mark.parametrize("kind_a,kind_b", PAIRS)
@pytest.mark.parametrize("out_name", ["bf16", "f32"])
def test_split_tail_matches_reference(kind_a, kind_b, out_name, generator):
    # One wave of whole tiles, then the last wave's few tiles split in K (heuristics.tail_split).
    spec = choose_spec(130, 1, 1, "e4m3", "e4m3", out_name, kind_a, kind_b)
    m, n = tail_shape(spec)
    check_recipe_gemm(m, n, TAIL_K, "e4m3", "e4m3", kind_a, kind_b, out_name, generator, spec=spec)


@pytest.mark.parametrize("width", [128, 176, 192])
@pytest.mark.parametrize("out_name", ["bf16", "f32"])
def test_split_tail_of_deferring_per_tensor_tiles(width, out_name, generator):
    # Their whole tiles defer the epilogue (128x128: 16-bit outputs only): the last whole tile's is stored
    # before the split unit starts.
    spec = tile_spec(width, out_name)
    m, n = tail_shape(spec)
    check_recipe_gemm(m, n, TAIL_K, "e4m3", "e4m3", "tensor", "tensor", out_name, generator, spec=spec)


def test_split_tail_is_deterministic_and_agrees_with_unsplit(generator):
    spec = choose_spec(130, 1, 1, "e4m3", "e4m3", "f32", "group", "block")
    m, n = tail_shape(spec)
    a = random_fp8(m, TAIL_K, torch.float8_e4m3fn, generator)
    b = random_fp8(n, TAIL_K, torch.float8_e4m3fn, generator)
    sa, sb = random_scales("group", m, TAIL_K, generator), random_scales("block", n, TAIL_K, generator)
    kernel = fp8gen.compile(spec)
    runs = [kernel(a, b, sa, sb) for _ in range(3)]
    for run in runs[1:]:
        assert torch.equal(run, runs[0])
    unsplit = kernel(a, b, sa, sb, split_k=1)
    assert not torch.equal(runs[0], unsplit)  # the tail was split: another fp32 summation order
    assert relative_error(runs[0], unsplit.double()) <= 1e-6


@pytest.mark.parametrize("m,n,k", [(64, 2112, 7168), (1, 1024, 7168), (128, 2112, 7168)])
def test_heuristic_splits_decode_shapes(m, n, k, generator):
    spec = choose_spec(m, n, k, "e4m3", "e4m3", "bf16", "group", "block")
    sm_count = torch.cuda.get_device_properties(0).multi_processor_count
    assert split_k(m, n, k, spec.tile, sm_count, spec.has_k_group_scales) > 1  # as fp8gen.gemm calls it
    check_recipe_gemm(m, n, k, "e4m3", "e4m3", "group", "block", "bf16", generator)


def test_split_k_is_deterministic_and_agrees_with_unsplit(generator):
    m, n, k = 64, 512, 8192
    a = random_fp8(m, k, torch.float8_e4m3fn, generator)
    b = random_fp8(n, k, torch.float8_e4m3fn, generator)
    sa, sb = random_scales("group", m, k, generator), random_scales("block", n, k, generator)
    runs = [fp8gen.gemm(a, b, sa, sb, out_dtype=torch.float32, split_k=8) for _ in range(3)]
    for run in runs[1:]:
        assert torch.equal(run, runs[0])
    unsplit = fp8gen.gemm(a, b, sa, sb, out_dtype=torch.float32, split_k=1)
    assert relative_error(runs[0], unsplit.double()) <= 1e-6  # same math, another fp32 summation order


@pytest.mark.parametrize("bad", [0, -1, 1000, 2.0, True])
def test_invalid_split_k_is_rejected(bad, generator):
    a = random_fp8(64, 1024, torch.float8_e4m3fn, generator)
    b = random_fp8(64, 1024, torch.float8_e4m3fn, generator)
    one = torch.ones(1, device="cuda")
    with pytest.raises(InputError, match="split_k"):
        fp8gen.gemm(a, b, one, one, split_k=bad)

