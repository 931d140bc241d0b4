"""Argument checks that run without a GPU (CPU tensors are rejected after dtype/shape checks)."""

import pytest
import torch

import fp8gen
from fp8gen import InputError
from fp8gen.checks import check_operand, infer_recipe


def fp8(*shape, dtype=torch.float8_e4m3fn):
    return torch.randn(*shape).to(dtype)


@pytest.mark.parametrize("tensor,fragment", [
    (torch.randn(4, 32), "dtype torch.float32"),
    (fp8(4, 32, 2), "must be 2-D"),
    (fp8(4, 0), "K = 0"),
    (fp8(4, 40), "multiple of 16"),
    (fp8(4, 32), "is on cpu"),
])
def test_operand_errors_name_the_argument(tensor, fragment):
    with pytest.raises(InputError) as info:
        check_operand("a", tensor)
    assert str(info.value).startswith("a ") and fragment in str(info.value)


def test_gemm_rejects_bad_inputs_before_launch():
    with pytest.raises(InputError, match="a must be a torch.Tensor"):
        fp8gen.gemm([[1.0]], fp8(4, 32), None, None)
    with pytest.raises(InputError, match="dtype torch.float16"):
        fp8gen.gemm(torch.randn(4, 32, dtype=torch.float16), fp8(4, 32), None, None)


@pytest.mark.parametrize("shape,operand,rows,recipe", [
    ((), "a", 100, "tensor"),
    ((1,), "b", 100, "tensor"),
    ((100,), "a", 100, "row"),
    ((100, 1), "b", 100, "row"),
    ((100, 3), "a", 100, "group"),
    ((1, 3), "b", 100, "block"),
])
def test_recipe_follows_scale_shape(shape, operand, rows, recipe):
    assert infer_recipe("scale", torch.ones(shape), rows, 300, operand) == recipe


def test_unknown_scale_shape_lists_what_is_expected():
    with pytest.raises(InputError, match=r"scale_b has shape \(57, 56\).*\(56, 56\) 128x128 blocks"):
        infer_recipe("scale_b", torch.ones(57, 56), 7168, 7168, "b")


def test_ue8m0_scales_of_one_element_are_groups():
    scale = torch.ones(1, 1).to(torch.float8_e8m0fnu)
    assert infer_recipe("scale_a", scale, 1, 16, "a") == "group"
    assert infer_recipe("scale_b", scale, 17, 100, "b") == "block"



def test_out_dtype_must_be_a_supported_torch_dtype():
    with pytest.raises(InputError, match=r"out_dtype=\[torch.bfloat16\] is not supported"):
        fp8gen.checks.out_format([torch.bfloat16])
    assert fp8gen.checks.out_format(torch.float8_e4m3fn) == "e4m3"


def test_dimensions_of_2_to_the_31_are_refused():
    huge = torch.empty(1, 16, dtype=torch.float8_e4m3fn).expand(2 ** 31, 16)  # (a view: no memory)
    with pytest.raises(InputError, match="below 2\\^31"):
        check_operand("a", huge)
