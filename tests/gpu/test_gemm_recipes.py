"""Every scaling recipe pair against a float64 reference of the dequantized operands."""

from __future__ import annotations

import itertools

import pytest
import torch

import fp8gen
from fp8gen.heuristics import choose_spec, tail_split
from fp8gen.spec import ScaleRecipe
from tests.gpu.support import (FORMATS, OUT, check_recipe_gemm as check, deepgemm_difference, random_fp8,
                               random_scales)

A_RECIPES = ["tensor", "row", "group"]
B_RECIPES = ["tensor", "row", "group", "block"]
PAIRS = list(itertools.product(A_RECIPES, B_RECIPES))
# The widths the decode heuristic picks besides 64 and 128.
DECODE_WIDTH_SPECS = [fp8gen.GemmSpec(tile=(block_m, width, 128), scale_a=ScaleRecipe(kind), scale_b=ScaleRecipe(kind))
                      for block_m in (64, 128) for width in (32, 48, 96, 112) for kind in ("tensor", "row")]


def kernel_specs() -> list[fp8gen.GemmSpec]:
    return ([choose_spec(m, 1, 1, fa, fb, o, ra, rb) for m in (32, 257) for fa in FORMATS for fb in FORMATS
             for o in OUT for ra, rb in PAIRS]
            + [choose_spec(m, 1, 1, "e4m3", "e4m3", o, ScaleRecipe(ra, dtype="ue8m0"),
                           ScaleRecipe(rb, dtype="ue8m0")) for m in (32, 257) for o in OUT
               for ra, rb in (("group", "block"), ("group", "group"))]
            + DECODE_WIDTH_SPECS + STRADDLING_BLOCK_SPECS
            + [one_partial_spec(ra, rb, o) for ra, rb in ONE_PARTIAL_PAIRS for o in OUT]
            + RASTER_SPECS)


@pytest.mark.parametrize("kind_a,kind_b", PAIRS)
@pytest.mark.parametrize("a_fmt,b_fmt", list(itertools.product(FORMATS, FORMATS)))
@pytest.mark.parametrize("out_name", list(OUT))
def test_recipe_pair(kind_a, kind_b, a_fmt, b_fmt, out_name, generator):
    # M, N off the tile and the 128 block grid; K leaves a partial last group (784 = 6 * 128 + 16).
    check(257, 333, 784, a_fmt, b_fmt, kind_a, kind_b, out_name, generator)


@pytest.mark.parametrize("k_blocks", [1, 2, 3, 5, 1001, 1002])
@pytest.mark.parametrize("kind_b", ["block", "group"])
@pytest.mark.parametrize("out_name", list(OUT))
def test_k_block_counts(k_blocks, kind_b, out_name, generator):
    check(32, 200, 128 * k_blocks, "e4m3", "e4m3", "group", kind_b, out_name, generator)


@pytest.mark.parametrize("m,n,k", [(1, 48, 256), (130, 16, 144), (64, 129, 16), (300, 1000, 4096), (2048, 1536, 7168)])
@pytest.mark.parametrize("kind_b", ["block", "group"])
def test_edge_shapes(m, n, k, kind_b, generator):
    check(m, n, k, "e4m3", "e4m3", "group", kind_b, "bf16", generator)


@pytest.mark.parametrize("kind_b", ["block", "group"])
@pytest.mark.parametrize("out_name", list(OUT))
def test_ue8m0_scales(kind_b, out_name, generator):
    check(257, 333, 784, "e4m3", "e4m3", "group", kind_b, out_name, generator, scale_dtype="ue8m0")


def test_scales_in_any_strides(generator):
    m, n, k = 200, 256, 1024
    a = random_fp8(m, k, torch.float8_e4m3fn, generator)
    b = random_fp8(n, k, torch.float8_e4m3fn, generator)
    sa_rows_contiguous = random_scales("group", m, k, generator).t().contiguous().t()
    sa_k_contiguous = sa_rows_contiguous.contiguous()
    sb = random_scales("block", n, k, generator)
    sb_transposed = sb.t().contiguous().t()
    ref = fp8gen.gemm(a, b, sa_rows_contiguous, sb, out_dtype=torch.float32)
    for sa_, sb_ in ((sa_k_contiguous, sb), (sa_rows_contiguous, sb_transposed)):
        torch.testing.assert_close(fp8gen.gemm(a, b, sa_, sb_, out_dtype=torch.float32), ref, rtol=0, atol=0)


@pytest.mark.parametrize("recipe_a,recipe_b,scale_dtype", [
    ("group", "block", "f32"), ("group", "block", "ue8m0"), ("group", "group", "f32"), ("group", "group", "ue8m0"),
    ("row", "row", "f32"), ("tensor", "tensor", "f32"),
])
def test_quantize_then_gemm_matches_bf16(recipe_a, recipe_b, scale_dtype, generator):
    m, n, k = 512, 768, 2048
    x = torch.randn(m, k, device="cuda", generator=generator, dtype=torch.bfloat16)
    w = torch.randn(n, k, device="cuda", generator=generator, dtype=torch.bfloat16)
    qa, sa = fp8gen.quantize(x, recipe_a, scale_dtype=scale_dtype)
    qb, sb = fp8gen.quantize(w, recipe_b, scale_dtype=scale_dtype)
    out = fp8gen.gemm(qa, qb, sa.reshape(-1) if recipe_a == "tensor" else sa, sb, out_dtype=torch.bfloat16)
    assert deepgemm_difference(out, x.double() @ w.double().T) <= 1e-3


ONE_PARTIAL_PAIRS = [("tensor", "tensor"), ("row", "row"), ("group", "group"), ("group", "tensor"), ("tensor", "block"),
                     ("row", "block")]


def one_partial_spec(kind_a: str, kind_b: str, out_name: str) -> fp8gen.GemmSpec:
    # 128x192: two alternating partials would not fit the registers, so the mainloop keeps one.
    return fp8gen.GemmSpec(out=out_name, scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b), tile=(128, 192, 128))


@pytest.mark.parametrize("kind_a,kind_b", ONE_PARTIAL_PAIRS)
@pytest.mark.parametrize("out_name", list(OUT))
def test_wide_tile_with_one_partial_fragment(kind_a, kind_b, out_name, generator):
    spec = one_partial_spec(kind_a, kind_b, out_name)
    assert spec.partial_fragments == 1
    check(257, 500, 784, "e4m3", "e4m3", kind_a, kind_b, out_name, generator, spec=spec)


@pytest.mark.parametrize("kind", ["tensor", "row"])
@pytest.mark.parametrize("m,n,k,split_k", [(130, 200, 128, None), (300, 390, 4096, 3), (64, 1000, 208, None)])
def test_wide_tile_edges(kind, m, n, k, split_k, generator):
    # One K block, a K split (split tiles load the per-row factors and skip the epilogue), K off the 128
    # grid, N off the 192 grid.
    spec = fp8gen.GemmSpec(scale_a=ScaleRecipe(kind), scale_b=ScaleRecipe(kind), tile=(128, 192, 128))
    check(m, n, k, "e4m3", "e4m3", kind, kind, "bf16", generator, split_k=split_k, spec=spec)


# Tiles that straddle two of B's 128x128 scale blocks: columns before the block edge take one scale, the
# rest the next (N = 1000: 192-wide tiles start at block offsets 0 and 64; the last one runs past N).
STRADDLING_BLOCK_SPECS = [fp8gen.GemmSpec(scale_a=ScaleRecipe("group", dtype=dtype), scale_b=ScaleRecipe("block", dtype=dtype),
                                          tile=tile, out=out)
                          for tile, dtype, out in [((128, 192, 128), "f32", "bf16"), ((128, 192, 128), "ue8m0", "bf16"),
                                                   ((128, 192, 128), "f32", "f32"), ((64, 112, 128), "f32", "bf16"),
                                                   ((128, 96, 128), "f32", "f32"), ((64, 96, 128), "ue8m0", "bf16"),
                                                   ((64, 160, 128), "f32", "bf16")]]


@pytest.mark.parametrize("spec", STRADDLING_BLOCK_SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("m,n,k,split_k", [(257, 1000, 784, None), (64, 2112, 2048, 3)])
def test_block_scales_straddling_tiles(spec, m, n, k, split_k, generator):
    check(m, n, k, "e4m3", "e4m3", "group", "block", spec.out, generator,
          scale_dtype=spec.scale_b.dtype, split_k=split_k, spec=spec)


@pytest.mark.parametrize("width", [192, 176, 128])
@pytest.mark.parametrize("k", [1040, 640])
@pytest.mark.parametrize("out_name", list(OUT))
def test_deferred_epilogue_over_several_tiles_per_cta(width, k, out_name, generator):
    # 224 tiles of 128x192 (240 of 128x176, 336 of 128x128) on 132 SMs: CTAs run a second tile, whose first MMA
    # batch is issued before the first tile's epilogue when it has >= 8 K blocks (K = 1040: 9, the last
    # partial), else after it (K = 640: 5). N = 2600 is off every tile grid. (128x128 kernels defer with
    # 16-bit outputs only.)
    spec = fp8gen.GemmSpec(out=out_name, tile=(128, width, 128))
    check(2000, 2600, k, "e4m3", "e4m3", "tensor", "tensor", out_name, generator, spec=spec)


# Raster groups besides the default 8 (heuristics.LARGE_PROBLEM_RASTER_GROUP picks 4 for large problems).
RASTER_SPECS = [fp8gen.GemmSpec(scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b), tile=(128, 192, 128),
                                raster_group=group)
                for kind_a, kind_b in (("tensor", "tensor"), ("row", "row"), ("group", "block"))
                for group in (1, 4, 16)]


@pytest.mark.parametrize("spec", RASTER_SPECS, ids=lambda s: s.name)
def test_raster_groups(spec, generator):
    # 13 x 12 tiles: the last group of M tiles is partial for groups of 4 and 16 (larger than the grid for
    # 16), the last N tile runs past N; 156 tiles on 132 SMs: the last 24 are split in four along K
    # (heuristics.tail_split), and which tiles those are follows the raster order.
    m, n, k = 128 * 12 + 37, 192 * 11 + 50, 4096
    assert tail_split(m, n, k, spec.tile, 132).splits == 4
    check(m, n, k, "e4m3", "e4m3", spec.scale_a.kind, spec.scale_b.kind, "bf16",
          generator, spec=spec)


@pytest.mark.parametrize("kind_a,kind_b,width", [("tensor", "tensor", 176), ("row", "row", 192),
                                                  ("group", "block", 192)])
def test_gemm_picks_the_wide_tile_where_it_cuts_waves(kind_a, kind_b, width, generator):
    m, n, k = 1040, 2112, 640  # 153 tiles of 128x128 (two waves) against 108 of 128x176 or 99 of 128x192 (one)
    assert choose_spec(m, n, k, "e4m3", "e4m3", "bf16", kind_a, kind_b).tile == (128, width, 128)
    check(m, n, k, "e4m3", "e4m3", kind_a, kind_b, "bf16", generator)


@pytest.mark.parametrize("spec", DECODE_WIDTH_SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("m,n,k,split_k", [(50, 1000, 1040, None), (128, 2112, 2048, 3), (1, 300, 512, 1)])
def test_decode_tile_widths(spec, m, n, k, split_k, generator):
    """The widths (32, 48, 96, 112) the decode heuristic picks: TMA-store boxes of 32, 16, 32 and 16 columns,
    N off the tile."""
    kind = spec.scale_a.kind
    check(m, n, k, "e4m3", "e4m3", kind, kind, "bf16", generator, split_k=split_k, spec=spec)


def test_gemm_picks_a_straddling_decode_tile_for_block_scales(generator):
    m, n, k = 64, 24576, 1536  # 96-wide tiles: 256 of them, unsplit; half straddle two 128-column blocks
    assert choose_spec(m, n, k, "e4m3", "e4m3", "bf16", "group", "block").tile == (64, 96, 128)
    check(m, n, k, "e4m3", "e4m3", "group", "block", "bf16", generator)
