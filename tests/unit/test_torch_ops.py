"""torch.ops.fp8gen registration and fake-tensor shape inference (CPU: no kernel runs)."""

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

import fp8gen.torch_ops  # noqa: F401 - registers the ops
from fp8gen.errors import InputError
from fp8gen.nn import FP8Activation, FP8Linear

M, N, K = 96, 200, 384
SCALES = {  # recipe -> (scale_a shape, scale_b shape)
    "tensor": ((1,), (1,)),
    "row": ((M, 1), (N, 1)),
    "group_block": ((M, K // 128), (-(-N // 128), K // 128)),
    "group_group": ((M, K // 128), (N, K // 128)),
}
OUT_DTYPES = [torch.bfloat16, torch.float16, torch.float32, torch.float8_e4m3fn, torch.float8_e5m2]


def fake_operands(mode, recipe):
    with mode:
        a = torch.empty(M, K, dtype=torch.float8_e4m3fn, device="cuda")
        b = torch.empty(N, K, dtype=torch.float8_e4m3fn, device="cuda")
        sa, sb = (torch.empty(shape, device="cuda") for shape in SCALES[recipe])
    return a, b, sa, sb


def test_ops_are_registered():
    assert all(hasattr(torch.ops.fp8gen, op) for op in ("gemm", "scaled_mm", "gemm_requantize"))


PLAIN_CALLS = {
    "gemm": lambda a, b, sa, sb, out_dtype: torch.ops.fp8gen.gemm(a, b, sa, sb, out_dtype, None, None, 1.0, 1.0,
                                                                   "gelu", None, 0),
    "scaled_mm": lambda a, b, sa, sb, out_dtype: torch.ops.fp8gen.scaled_mm(a, b, sa, sb, out_dtype),
}


@pytest.mark.parametrize("op", list(PLAIN_CALLS))
@pytest.mark.parametrize("recipe", list(SCALES))
@pytest.mark.parametrize("out_dtype", OUT_DTYPES)
def test_fake_gemm_infers_output_shape_and_dtype(op, recipe, out_dtype):
    mode = FakeTensorMode(allow_non_fake_inputs=False)
    a, b, sa, sb = fake_operands(mode, recipe)
    with mode:
        out = PLAIN_CALLS[op](a, b, sa, sb, out_dtype)
        short_b = torch.empty(N, 128, dtype=torch.float8_e4m3fn, device="cuda")
    assert out.shape == (M, N) and out.dtype == out_dtype and out.device.type == "cuda"
    with mode, pytest.raises(InputError, match=f"fp8gen::{op} needs a"):
        PLAIN_CALLS[op](a, short_b, sa, sb, out_dtype)


@pytest.mark.parametrize("requantize,expected", [("1x128", torch.float32), ("1x128_ue8m0", torch.float8_e8m0fnu)])
def test_fake_requantize_gives_data_and_rows_contiguous_scales(requantize, expected):
    mode = FakeTensorMode()
    a, b, sa, sb = fake_operands(mode, "group_block")
    with mode:
        d, scales = torch.ops.fp8gen.gemm_requantize(a, b, sa, sb, torch.float8_e4m3fn, None, "silu", requantize)
    assert d.shape == (M, N) and d.dtype == torch.float8_e4m3fn
    assert scales.shape == (M, 2) and scales.dtype == expected and scales.stride(0) == 1


def test_fake_rejects_mismatched_k_and_bad_activation():
    mode = FakeTensorMode()
    a, b, sa, sb = fake_operands(mode, "tensor")
    with mode:
        short_b = torch.empty(N, 128, dtype=torch.float8_e4m3fn, device="cuda")
    with mode, pytest.raises(InputError, match="needs a"):
        torch.ops.fp8gen.gemm(a, short_b, sa, sb, torch.bfloat16, None, None, 1.0, 1.0, "", None, 0)
    with mode, pytest.raises(InputError, match="activation='tanh'"):
        torch.ops.fp8gen.gemm(a, b, sa, sb, torch.bfloat16, None, None, 1.0, 1.0, "tanh", None, 0)
    with mode, pytest.raises(InputError, match="writes an FP8 output: out_dtype must be"):
        torch.ops.fp8gen.gemm_requantize(a, b, sa, sb, torch.bfloat16, None, "", "1x128")
    with mode, pytest.raises(InputError, match="requantize='2x128' is invalid"):
        torch.ops.fp8gen.gemm_requantize(a, b, sa, sb, torch.float8_e4m3fn, None, "", "2x128")


@pytest.mark.parametrize("recipe,scale_shape", [("block", (2, 3)), ("channel", (200, 1))])
def test_fp8_linear_from_linear_and_fake_forward(recipe, scale_shape):
    linear = torch.nn.Linear(K, N)
    layer = FP8Linear.from_linear(linear, recipe=recipe, activation="gelu")
    assert layer.weight.dtype == torch.float8_e4m3fn and layer.weight_scale.shape == scale_shape
    dequantized = layer.weight.float() * (layer.weight_scale.repeat_interleave(128, 0).repeat_interleave(128, 1)
                                          [:N, :K] if recipe == "block" else layer.weight_scale)
    assert torch.allclose(dequantized, linear.weight, rtol=0.07, atol=1e-6)
    # (fake CPU tensors: this CPU-only torch cannot reshape fake CUDA ones; the op's fake is device-agnostic)
    with FakeTensorMode(allow_non_fake_inputs=True):
        fake = FP8Linear(K, N, recipe=recipe, activation="gelu", out_dtype=torch.bfloat16)
        y = fake(torch.empty(4, 24, K, dtype=torch.bfloat16))
    assert y.shape == (4, 24, N) and y.dtype == torch.bfloat16


def test_fp8_linear_rejects_bad_configuration():
    with pytest.raises(InputError, match="multiple of 16"):
        FP8Linear(100, 64)
    with pytest.raises(InputError, match="recipe="):
        FP8Linear(128, 64, recipe="tensor")
    with pytest.raises(InputError, match="activation="):
        FP8Linear(128, 64, activation="tanh")
    with pytest.raises(InputError, match="quantize_output needs the block recipe"):
        FP8Linear(128, 64, recipe="channel", quantize_output=True)
    with pytest.raises(InputError, match="quantize_output needs the block recipe and out_features a multiple"):
        FP8Linear(128, 200, quantize_output=True)
    layer = FP8Linear(128, 256, recipe="channel")
    with pytest.raises(InputError, match="input has 64 features; this layer takes 128"):
        layer(torch.zeros(4, 64, dtype=torch.bfloat16))
    with pytest.raises(InputError, match="feeds layers of the block recipe only"):
        layer(FP8Activation(torch.zeros(4, 128, dtype=torch.float8_e4m3fn), torch.ones(4, 1)))
