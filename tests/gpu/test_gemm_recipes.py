"""Every scaling recipe pair against a float64 reference of the dequantized operands."""

from __future__ import annotations

import itertools

import pytest
import torch

import fp8gen
from fp8gen.heuristics import choose_spec
from fp8gen.spec import ScaleRecipe, ceil_div
from tests.gpu.support import gemm_error, prebuild, random_fp8

FORMATS = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
OUT = {"bf16": (torch.bfloat16, 4e-3), "f32": (torch.float32, 2e-4)}
A_RECIPES = ["tensor", "row", "group"]
B_RECIPES = ["tensor", "row", "group", "block"]
PAIRS = list(itertools.product(A_RECIPES, B_RECIPES))


def random_scales(kind: str, rows: int, k: int, generator, dtype: str = "f32", group: int = 128) -> torch.Tensor:
    """Positive scales spanning 2^-4 .. 2^4 (powers of two for ue8m0), in the layout gemm() documents."""
    shape = {"tensor": (1,), "row": (rows, 1), "group": (rows, ceil_div(k, group)),
             "block": (ceil_div(rows, group), ceil_div(k, group))}[kind]
    exponent = torch.randint(-4, 5, shape, device="cuda", generator=generator).float()
    if dtype == "ue8m0":
        return torch.exp2(exponent).to(torch.float8_e8m0fnu)
    return torch.exp2(exponent) * (1 + 0.5 * torch.rand(shape, device="cuda", generator=generator))


def expand(scale: torch.Tensor, kind: str, rows: int, k: int, group: int = 128) -> torch.Tensor:
    s = scale.double()
    if kind == "group":
        return s.repeat_interleave(group, 1)[:, :k]
    if kind == "block":
        return s.repeat_interleave(group, 0).repeat_interleave(group, 1)[:rows, :k]
    return s.reshape(-1, 1) if kind == "row" else s


def check(m, n, k, a_fmt, b_fmt, kind_a, kind_b, out_name, generator, scale_dtype="f32"):
    a = random_fp8(m, k, FORMATS[a_fmt], generator)
    b = random_fp8(n, k, FORMATS[b_fmt], generator)
    dtype_a = scale_dtype if kind_a in ("group", "block") else "f32"
    dtype_b = scale_dtype if kind_b in ("group", "block") else "f32"
    sa = random_scales(kind_a, m, k, generator, dtype_a)
    sb = random_scales(kind_b, n, k, generator, dtype_b)
    out_dtype, tolerance = OUT[out_name]
    out = torch.full((m, n), float("nan"), dtype=out_dtype, device="cuda")
    fp8gen.gemm(a, b, sa, sb, out_dtype=out_dtype, out=out)
    torch.cuda.synchronize()
    assert not torch.isnan(out).any(), "some output elements were not written"
    a64 = a.double() * expand(sa, kind_a, m, k)
    b64 = b.double() * expand(sb, kind_b, n, k)
    err = gemm_error(out, a64 @ b64.T, a64, b64)
    assert err <= tolerance, f"{kind_a} x {kind_b} {m}x{n}x{k}: relative error {err:.3e}"


@pytest.fixture(scope="module", autouse=True)
def kernels_built():
    if torch.cuda.is_available():
        prebuild([choose_spec(m, 1, 1, fa, fb, o, ra, rb) for m in (32, 257) for fa in FORMATS for fb in FORMATS
                  for o in OUT for ra, rb in PAIRS]
                 + [choose_spec(m, 1, 1, "e4m3", "e4m3", o, ScaleRecipe(ra, dtype="ue8m0"),
                                ScaleRecipe(rb, dtype="ue8m0")) for m in (32, 257) for o in OUT
                    for ra, rb in (("group", "block"), ("group", "group"))])


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


def deepgemm_difference(x: torch.Tensor, y: torch.Tensor) -> float:
    """DeepGEMM's calc_diff: 1 - 2 sum(xy) / sum(x^2 + y^2)."""
    x, y = x.double(), y.double()
    return (1 - 2 * (x * y).sum() / (x * x + y * y).sum()).item()


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
