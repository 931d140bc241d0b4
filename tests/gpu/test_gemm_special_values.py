"""NaN and Inf propagate exactly where the float64 reference has them, through the activations too; empty outputs
skip the launch."""

import pytest
import torch

import fp8gen
from tests.gpu.support import random_fp8, random_scale


M, N, K = 200, 150, 512


def operands_with_nan_and_inf(generator):
    """Random e5m2 A (the format with Inf) and e4m3 B with +-Inf and NaN entries, and per-tensor scales."""
    a = random_fp8(M, K, torch.float8_e5m2, generator)
    b = random_fp8(N, K, torch.float8_e4m3fn, generator)
    a[3, 7] = float("inf")
    a[5, 100] = float("-inf")
    a[9, 300] = float("nan")
    a[11, 0], a[11, 1] = float("inf"), float("-inf")   # inf - inf = nan in every column
    b[17, 40] = float("nan")                             # e4m3fn has NaN but no Inf
    return a, b, random_scale(generator), random_scale(generator)


def assert_matches_special_values(out, ref):
    """NaN and +-Inf exactly where the reference has them, the finite rest within bf16 accuracy."""
    assert torch.equal(torch.isnan(out), torch.isnan(ref))
    assert torch.equal(torch.isinf(out), torch.isinf(ref))
    assert torch.equal(torch.signbit(out[torch.isinf(out)]), torch.signbit(ref[torch.isinf(ref)]))
    finite = torch.isfinite(ref)
    assert torch.isnan(ref).any() and finite.sum() > 0.9 * ref.numel()
    err = (out.double()[finite] - ref[finite]).norm() / ref[finite].norm()
    assert err < 4e-3


@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32])
def test_nan_and_inf_propagate_like_the_reference(out_dtype, generator):
    a, b, sa, sb = operands_with_nan_and_inf(generator)
    out = fp8gen.gemm(a, b, sa, sb, out_dtype=out_dtype)
    torch.cuda.synchronize()
    assert_matches_special_values(out, (a.double() * sa.double()) @ (b.double() * sb.double()).T)


ACTIVATIONS = {
    "relu": torch.relu,
    "gelu": torch.nn.functional.gelu,
    "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    "silu": torch.nn.functional.silu,
    ("clamp", -2.0, 3.0): lambda x: x.clamp(-2.0, 3.0),
}


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_activations_take_nan_and_inf_like_torch(activation, generator):
    """NaN stays NaN through every activation (relu and clamp included), and +-Inf maps where torch's
    activation of the float64 reference maps it (gelu(-inf) and silu(-inf) are NaN there too)."""
    a, b, sa, sb = operands_with_nan_and_inf(generator)
    out = fp8gen.gemm(a, b, sa, sb, activation=activation)
    torch.cuda.synchronize()
    ref = (a.double() * sa.double()) @ (b.double() * sb.double()).T
    assert_matches_special_values(out, ACTIVATIONS[activation](ref))


def test_empty_n_returns_without_launch(generator):
    a = random_fp8(32, 64, torch.float8_e4m3fn, generator)
    b = torch.empty((0, 64), dtype=torch.float8_e4m3fn, device="cuda")
    out = fp8gen.gemm(a, b, random_scale(generator), random_scale(generator))
    assert out.shape == (32, 0)
