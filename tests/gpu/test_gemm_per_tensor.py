"""Per-tensor FP8 GEMM numerics on the GPU against a float64 reference of the dequantized inputs."""

from __future__ import annotations

import itertools

import pytest
import torch

import fp8gen
from fp8gen.heuristics import choose_spec
from fp8gen.spec import ceil_div
from tests.gpu.support import gemm_error, random_fp8, random_scale, reference_gemm, relative_error

FORMATS = [torch.float8_e4m3fn, torch.float8_e5m2]
OUT_TOLERANCE = {torch.bfloat16: 4e-3, torch.float16: 4e-3, torch.float32: 2e-4}
MN = [1, 17, 128, 1000, 4097]
KS = [16, 48, 4096, 16384]
FORMAT_NAMES = {torch.float8_e4m3fn: "e4m3", torch.float8_e5m2: "e5m2"}
OUT_NAMES = {torch.bfloat16: "bf16", torch.float16: "f16", torch.float32: "f32"}


def kernel_specs() -> list[fp8gen.GemmSpec]:
    # the decode tile width depends on N and K as well as M
    return [choose_spec(m, n, k, FORMAT_NAMES[a], FORMAT_NAMES[b], OUT_NAMES[o], "tensor", "tensor")
            for m in MN for n in MN for k in KS for a in FORMATS for b in FORMATS for o in OUT_TOLERANCE]


def run_and_check(m, n, k, a_dtype, b_dtype, out_dtype, generator, kernel=None, split_k=None):
    """fp8gen.gemm (or `kernel`, built for out_dtype) on fresh random operands into a NaN-filled output,
    every element against the float64 reference."""
    a = random_fp8(m, k, a_dtype, generator)
    b = random_fp8(n, k, b_dtype, generator)
    scale_a, scale_b = random_scale(generator), random_scale(generator)
    out = torch.full((m, n), float("nan"), dtype=out_dtype, device="cuda")
    if kernel is None:
        result = fp8gen.gemm(a, b, scale_a, scale_b, out_dtype=out_dtype, out=out, split_k=split_k)
    else:
        result = kernel(a, b, scale_a, scale_b, out=out, split_k=split_k)
    torch.cuda.synchronize()
    assert result.data_ptr() == out.data_ptr()
    assert not torch.isnan(out).any(), "some output elements were not written"
    err = gemm_error(out, reference_gemm(a, b, scale_a, scale_b), a.double() * scale_a, b.double() * scale_b)
    assert err <= OUT_TOLERANCE[out_dtype], f"relative error {err:.3e} for {m}x{n}x{k}"
    return err


@pytest.mark.parametrize("a_dtype,b_dtype", list(itertools.product(FORMATS, FORMATS)), ids=lambda d: str(d)[-6:])
@pytest.mark.parametrize("out_dtype", list(OUT_TOLERANCE), ids=lambda d: str(d)[6:])
@pytest.mark.parametrize("m,n", list(itertools.product(MN, MN)))
@pytest.mark.parametrize("k", KS)
def test_per_tensor_matches_float64(m, n, k, a_dtype, b_dtype, out_dtype, generator):
    run_and_check(m, n, k, a_dtype, b_dtype, out_dtype, generator)


def test_empty_m_returns_without_launch(generator):
    a = torch.empty((0, 64), dtype=torch.float8_e4m3fn, device="cuda")
    b = random_fp8(32, 64, torch.float8_e4m3fn, generator)
    out = fp8gen.gemm(a, b, random_scale(generator), random_scale(generator))
    assert out.shape == (0, 32)


def test_explicit_spec_fast_accumulation(generator):
    spec = fp8gen.GemmSpec(accumulation="fast", tile=(128, 256, 128))
    kernel = fp8gen.compile(spec)
    a = random_fp8(300, 4096, torch.float8_e4m3fn, generator)
    b = random_fp8(500, 4096, torch.float8_e4m3fn, generator)
    sa, sb = random_scale(generator), random_scale(generator)
    out = kernel(a, b, sa, sb)
    torch.cuda.synchronize()
    assert relative_error(out, reference_gemm(a, b, sa, sb)) <= 4e-3


def test_strided_operands_and_output(generator):
    base_a = random_fp8(200, 256, torch.float8_e4m3fn, generator)
    base_b = random_fp8(300, 256, torch.float8_e4m3fn, generator)
    a, b = base_a[:, :128], base_b[::2, 64:192]  # row strides 256 and 512 bytes
    sa, sb = random_scale(generator), random_scale(generator)
    wide = torch.full((200, 160), float("nan"), dtype=torch.bfloat16, device="cuda")
    out = wide[:, :150]
    fp8gen.gemm(a, b, sa, sb, out=out)
    torch.cuda.synchronize()
    assert torch.isnan(wide[:, 150:]).all(), "kernel wrote outside out"
    assert relative_error(out, reference_gemm(a, b, sa, sb)) <= 4e-3


# 16-wide tiles (the decode heuristic's narrowest, for N small enough that N / 16 tiles about fill the SMs),
# off the tile grid in M, N and K, with and without a K split.
NARROW_TILES = [(64, 16, 22), (128, 16, 12)]
NARROW_SHAPES = [(1, 17, 48), (100, 2112, 7152), (128, 2000, 1008), (64, 4097, 4096)]


@pytest.mark.parametrize("bm,bn,stages", NARROW_TILES)
@pytest.mark.parametrize("m,n,k", NARROW_SHAPES)
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=lambda d: str(d)[6:])
@pytest.mark.parametrize("split_k", [1, 3])
def test_16_wide_tiles_match_float64(bm, bn, stages, m, n, k, out_dtype, split_k, generator):
    kernel = fp8gen.compile(fp8gen.GemmSpec(tile=(bm, bn, 128), stages=stages, out=OUT_NAMES[out_dtype]))
    run_and_check(m, n, k, torch.float8_e4m3fn, torch.float8_e4m3fn, out_dtype, generator, kernel=kernel,
                  split_k=min(split_k, ceil_div(k, 128)))


@pytest.mark.parametrize("m", [33, 64, 96, 128])
def test_decode_shapes_that_take_16_wide_tiles(m, generator):
    assert choose_spec(m, 2112, 7168, "e4m3", "e4m3", "bf16", "tensor", "tensor").tile[1] == 16
    run_and_check(m, 2112, 7168, torch.float8_e4m3fn, torch.float8_e4m3fn, torch.bfloat16, generator)
