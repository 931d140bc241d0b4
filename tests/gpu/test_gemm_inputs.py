"""Bad inputs are rejected before launch with a message naming the argument."""

import pytest
import torch

import fp8gen
from fp8gen import InputError

E4M3 = torch.float8_e4m3fn


def fp8(rows, k, dtype=E4M3):
    return torch.randn(rows, k, device="cuda").to(dtype)


def scale():
    return torch.ones(1, device="cuda")


def call(a=None, b=None, scale_a=None, scale_b=None, **kw):
    a = fp8(64, 128) if a is None else a
    b = fp8(32, 128) if b is None else b
    return fp8gen.gemm(a, b, scale() if scale_a is None else scale_a, scale() if scale_b is None else scale_b, **kw)


CASES = {
    "a float16": (dict(a=torch.randn(64, 128, device="cuda", dtype=torch.float16)), "a has dtype torch.float16"),
    "b on cpu": (dict(b=torch.randn(32, 128).to(E4M3)), "b is on cpu"),
    "K mismatch": (dict(b=fp8(32, 64)), "their K (dim 1) must agree"),
    "K not multiple of 16": (dict(a=fp8(64, 40), b=fp8(32, 40)), "multiple of 16"),
    "a not K-contiguous": (dict(a=fp8(128, 64).t()), "contiguous along K"),
    "a row stride unaligned": (dict(a=fp8(64, 136)[:, :128]), "multiple of 16 bytes"),
    "a base unaligned": (dict(a=fp8(65, 128).view(-1)[8:8 + 64 * 128].view(64, 128)), "16-byte aligned"),
    "a 3-D": (dict(a=fp8(64, 128).view(2, 32, 128)), "must be 2-D"),
    "scale_a float16": (dict(scale_a=torch.ones(1, device="cuda", dtype=torch.float16)), "scale_a has dtype torch.float16"),
    "scale_b on cpu": (dict(scale_b=torch.ones(1)), "scale_b is on cpu"),
    "scale_a bad shape": (dict(scale_a=torch.ones(3, 3, device="cuda")), "scale_a has shape (3, 3)"),
    "scale_b not a tensor": (dict(scale_b=2.0), "scale_b must be a torch.Tensor"),
    "out wrong shape": (dict(out=torch.empty(32, 64, device="cuda", dtype=torch.bfloat16)), "out has shape (32, 64)"),
    "out wrong dtype": (dict(out=torch.empty(64, 32, device="cuda", dtype=torch.float16)), "out has dtype torch.float16"),
    "out transposed": (dict(out=torch.empty(32, 64, device="cuda", dtype=torch.bfloat16).t()), "row-major"),
    "out_dtype int8": (dict(out_dtype=torch.int8), "out_dtype=torch.int8"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rejected_input(case):
    kwargs, fragment = CASES[case]
    with pytest.raises(InputError) as info:
        call(**kwargs)
    assert fragment in str(info.value)


def test_unimplemented_recipe_names_it():
    a, b = fp8(64, 256), fp8(32, 256)
    with pytest.raises(NotImplementedError, match="group"):
        fp8gen.gemm(a, b, torch.ones(64, 2, device="cuda"), torch.ones(32, 2, device="cuda"))


def test_kernel_rejects_other_formats_than_it_was_built_for():
    kernel = fp8gen.compile(fp8gen.GemmSpec())
    with pytest.raises(InputError, match="built for torch.float8_e4m3fn"):
        kernel(fp8(64, 128, torch.float8_e5m2), fp8(32, 128), scale(), scale())
