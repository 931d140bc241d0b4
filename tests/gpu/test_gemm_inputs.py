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


# Each case builds its arguments lazily (no CUDA at collection time).
CASES = {
    "a float16": (lambda: dict(a=torch.randn(64, 128, device="cuda", dtype=torch.float16)), "a has dtype torch.float16"),
    "b on cpu": (lambda: dict(b=torch.randn(32, 128).to(E4M3)), "b is on cpu"),
    "K mismatch": (lambda: dict(b=fp8(32, 64)), "their K (dim 1) must agree"),
    "K not multiple of 16": (lambda: dict(a=fp8(64, 40), b=fp8(32, 40)), "multiple of 16"),
    "a not K-contiguous": (lambda: dict(a=fp8(128, 64).t()), "contiguous along K"),
    "a row stride unaligned": (lambda: dict(a=fp8(64, 136)[:, :128]), "multiple of 16 bytes"),
    "a base unaligned": (lambda: dict(a=fp8(65, 128).view(-1)[8:8 + 64 * 128].view(64, 128)), "16-byte aligned"),
    "a 3-D": (lambda: dict(a=fp8(64, 128).view(2, 32, 128)), "must be 2-D"),
    "scale_a float16": (lambda: dict(scale_a=torch.ones(1, device="cuda", dtype=torch.float16)), "scale_a has dtype torch.float16"),
    "scale_b on cpu": (lambda: dict(scale_b=torch.ones(1)), "scale_b is on cpu"),
    "scale_a bad shape": (lambda: dict(scale_a=torch.ones(3, 3, device="cuda")), "scale_a has shape (3, 3)"),
    "scale_b not a tensor": (lambda: dict(scale_b=2.0), "scale_b must be a torch.Tensor"),
    "out wrong shape": (lambda: dict(out=torch.empty(32, 64, device="cuda", dtype=torch.bfloat16)), "out has shape (32, 64)"),
    "out wrong dtype": (lambda: dict(out=torch.empty(64, 32, device="cuda", dtype=torch.float16)), "out has dtype torch.float16"),
    "out transposed": (lambda: dict(out=torch.empty(32, 64, device="cuda", dtype=torch.bfloat16).t()), "row-major"),
    "out_dtype int8": (lambda: dict(out_dtype=torch.int8), "out_dtype=torch.int8"),
    "K zero": (lambda: dict(a=fp8(64, 0), b=fp8(32, 0)), "K = 0"),
    "a int8": (lambda: dict(a=torch.zeros(64, 128, device="cuda", dtype=torch.int8)), "a has dtype torch.int8"),
    "b 1-D": (lambda: dict(b=fp8(1, 128).view(128)), "b must be 2-D"),
    "out on cpu": (lambda: dict(out=torch.empty(64, 32, dtype=torch.bfloat16)), "out is on cpu"),
    "group scale_a wrong K groups": (lambda: dict(a=fp8(64, 384), b=fp8(32, 384),
                                                  scale_a=torch.ones(64, 2, device="cuda")), "scale_a has shape (64, 2)"),
    "block scale_b float64": (lambda: dict(a=fp8(64, 256), b=fp8(300, 256), scale_a=torch.ones(64, 2, device="cuda"),
                                           scale_b=torch.ones(3, 2, device="cuda", dtype=torch.float64)),
                              "scale_b has dtype torch.float64"),
    "split_k zero": (lambda: dict(split_k=0), "split_k=0"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rejected_input(case):
    make_kwargs, fragment = CASES[case]
    with pytest.raises(InputError) as info:
        call(**make_kwargs())
    assert fragment in str(info.value)


def test_block_scales_for_a_are_not_a_recipe():
    a, b = fp8(256, 256), fp8(32, 256)
    with pytest.raises(InputError, match=r"scale_a has shape \(2, 2\), which matches no scaling recipe"):
        fp8gen.gemm(a, b, torch.ones(2, 2, device="cuda"), scale())


def test_ue8m0_scales_only_for_group_and_block():
    with pytest.raises(InputError, match=r"scale_a has shape \(1,\), which matches no scaling recipe \(float8_e8m0fnu"):
        call(scale_a=torch.ones(1, device="cuda").to(torch.float8_e8m0fnu))
    with pytest.raises(InputError, match=r"scale_a has shape \(64,\), which matches no scaling recipe"):
        call(scale_a=torch.ones(64, device="cuda").to(torch.float8_e8m0fnu))


def test_kernel_checks_scale_shape_against_its_recipe():
    kernel = fp8gen.compile(fp8gen.GemmSpec(scale_a="group", scale_b="block"))
    a, b = fp8(64, 256), fp8(300, 256)
    with pytest.raises(InputError, match=r"scale_b has shape \(2, 2\) but the 128x128 recipe .* needs \(3, 2\)"):
        kernel(a, b, torch.ones(64, 2, device="cuda"), torch.ones(2, 2, device="cuda"))


def test_kernel_rejects_other_formats_than_it_was_built_for():
    kernel = fp8gen.compile(fp8gen.GemmSpec())
    with pytest.raises(InputError, match="built for torch.float8_e4m3fn"):
        kernel(fp8(64, 128, torch.float8_e5m2), fp8(32, 128), scale(), scale())
