"""NaN and Inf propagate exactly where the float64 reference has them; empty outputs skip the launch."""

import pytest
import torch

import fp8gen
from tests.gpu.support import random_fp8, random_scale


@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32])
def test_nan_and_inf_propagate_like_the_reference(out_dtype, generator):
    m, n, k = 200, 150, 512
    a = random_fp8(m, k, torch.float8_e5m2, generator)
    b = random_fp8(n, k, torch.float8_e4m3fn, generator)
    a[3, 7] = float("inf")
    a[5, 100] = float("-inf")
    a[9, 300] = float("nan")
    a[11, 0], a[11, 1] = float("inf"), float("-inf")   # inf - inf = nan in every column
    b[17, 40] = float("nan")                             # e4m3fn has NaN but no Inf
    sa, sb = random_scale(generator), random_scale(generator)
    out = fp8gen.gemm(a, b, sa, sb, out_dtype=out_dtype)
    torch.cuda.synchronize()
    ref = (a.double() * sa.double()) @ (b.double() * sb.double()).T
    assert torch.equal(torch.isnan(out), torch.isnan(ref))
    assert torch.equal(torch.isinf(out), torch.isinf(ref))
    assert torch.equal(torch.signbit(out[torch.isinf(out)]), torch.signbit(ref[torch.isinf(ref)]))
    finite = torch.isfinite(ref)
    assert torch.isnan(ref).sum() > 0 and finite.sum() > 0.9 * m * n
    err = (out.double()[finite] - ref[finite]).norm() / ref[finite].norm()
    assert err < 4e-3


def test_empty_n_returns_without_launch(generator):
    a = random_fp8(32, 64, torch.float8_e4m3fn, generator)
    b = torch.empty((0, 64), dtype=torch.float8_e4m3fn, device="cuda")
    out = fp8gen.gemm(a, b, random_scale(generator), random_scale(generator))
    assert out.shape == (32, 0)
