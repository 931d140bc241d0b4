"""fp8gen.quantize / dequantize on CPU tensors: every recipe, empty extents, and argument checks."""

import math

import pytest
import torch

from fp8gen import InputError
from fp8gen.checks import expected_scale_shape
from fp8gen.quantize import FP8_MAX, dequantize, quantize

RECIPES = ("tensor", "row", "group", "block")


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_round_trip_error_is_one_fp8_rounding(recipe, fmt):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 300, generator=generator) * torch.logspace(-2, 2, 300)  # columns over four decades
    q, scale = quantize(x, recipe, fmt=fmt)
    assert scale.numel() == math.prod(expected_scale_shape(recipe, 200, 300, 128))
    error = (dequantize(q, scale, recipe) - x.double()).abs()
    # e4m3 keeps 3 mantissa bits, e5m2 2: half a unit in the last place relative to each group's amax
    step = {"e4m3": 2.0 ** -4, "e5m2": 2.0 ** -3}[fmt]
    expanded_scale = dequantize(torch.ones_like(q, dtype=torch.float32).to(q.dtype), scale, recipe)
    assert (error <= step * expanded_scale * FP8_MAX[fmt] + 1e-12).all()


@pytest.mark.parametrize("recipe", RECIPES)
@pytest.mark.parametrize("shape", [(0, 128), (4, 0), (0, 0)])
def test_empty_extents_quantize_to_empty_tensors_with_unit_scales(recipe, shape):
    q, scale = quantize(torch.randn(shape), recipe)
    assert q.shape == shape
    assert scale.numel() == math.prod(expected_scale_shape(recipe, *shape, 128))
    assert recipe in ("tensor", "row") or tuple(scale.shape) == expected_scale_shape(recipe, *shape, 128)
    assert (scale == 1).all()
    assert dequantize(q, scale, recipe).shape == shape


@pytest.mark.parametrize("call,fragment", [
    (lambda q, s: dequantize(q, s, "bogus"), "recipe='bogus' is invalid"),
    (lambda q, s: dequantize(q, torch.ones(4, 5), "group"), "scale has shape (4, 5)"),
    (lambda q, s: dequantize(q, s, "row"), "a row recipe's scales for a 5x300 operand are (5,)"),
    (lambda q, s: dequantize(q, [1.0], "tensor"), "a scale tensor"),
    (lambda q, s: dequantize(q, s, "group", group_size=0), "group_size=0 must be a positive integer"),
    (lambda q, s: quantize(torch.randn(5, 300), "group", group_size=True), "group_size=True"),
])
def test_bad_arguments_are_input_errors(call, fragment):
    q, s = quantize(torch.randn(5, 300), "group")
    with pytest.raises(InputError) as info:
        call(q, s)
    assert fragment in str(info.value)
