"""fp8gen.nn.FP8Linear: a drop-in for torch.nn.Linear with FP8 weights, FP8 activations quantized on the fly
and the bias (and an activation function) fused into the GEMM's epilogue.

    layer = FP8Linear.from_linear(linear, recipe="block", activation="gelu")
    y = layer(x)          # x (..., in_features) bf16/f16/f32 -> y (..., out_features) in out_dtype

Recipes: "block" (DeepSeek-V3: weight 128x128 blocks, activations 1x128 groups per token) and
"channel" (weight per output channel, activations per token). With the block recipe, a layer built with
quantize_output=True returns its output already quantized (an FP8Activation: e4m3 data and 1x128 scales,
written by the GEMM's epilogue), which the next FP8Linear takes without quantizing again. Calls go through
fp8gen's custom ops (torch.ops.fp8gen.scaled_mm without bias and activation, else torch.ops.fp8gen.gemm;
torch.ops.fp8gen.gemm_requantize with quantize_output=True), so
modules using FP8Linear compile with torch.compile(fullgraph=True) and capture into CUDA graphs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from . import torch_ops  # noqa: F401 - registers torch.ops.fp8gen
from .epilogue import ACTIVATION_NAMES
from .errors import InputError
from .fields import is_int
from .quantize import quantize

RECIPES = {"block": ("block", "group"), "channel": ("row", "row")}  # recipe -> (weight, activation) quantization
ACTIVATIONS = (None,) + ACTIVATION_NAMES
OUT_DTYPES = (torch.bfloat16, torch.float16, torch.float32)


class FP8Activation(NamedTuple):
    """An activation quantized for the block recipe: data (..., features) e4m3 and scales (rows, features / 128)."""

    data: torch.Tensor
    scales: torch.Tensor


class FP8Linear(nn.Module):
    """y = activation(x W^T + bias) with W stored as FP8 (e4m3) and x quantized to FP8 per call."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, recipe: str = "block",
                 activation: str | None = None, out_dtype: torch.dtype = torch.bfloat16,
                 quantize_output: bool = False, device=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not is_int(value) or value <= 0:
                raise InputError(f"{name}={value!r} must be a positive integer")
        if out_dtype not in OUT_DTYPES:
            raise InputError(f"out_dtype={out_dtype!r} is invalid; use torch.bfloat16, torch.float16 or torch.float32 "
                             "(quantize_output=True for an FP8 output)")
        if recipe not in RECIPES:
            raise InputError(f"recipe={recipe!r} is invalid; use one of {sorted(RECIPES)}")
        if quantize_output and (recipe != "block" or out_features % 128):
            raise InputError("quantize_output needs the block recipe and out_features a multiple of 128")
        if activation not in ACTIVATIONS:
            raise InputError(f"activation={activation!r} is invalid; use one of {ACTIVATIONS}")
        if in_features % 16:
            raise InputError(f"in_features={in_features} must be a multiple of 16 (FP8 rows are read by TMA)")
        self.in_features, self.out_features = in_features, out_features
        self.recipe, self.activation, self.out_dtype = recipe, activation, out_dtype
        self.quantize_output = quantize_output
        weight_kind = RECIPES[recipe][0]
        scale_shape = (-(-out_features // 128), -(-in_features // 128)) if weight_kind == "block" else (out_features, 1)
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.float8_e4m3fn, device=device))
        self.register_buffer("weight_scale", torch.ones(scale_shape, dtype=torch.float32, device=device))
        self.register_buffer("bias", torch.zeros(out_features, dtype=torch.bfloat16, device=device) if bias else None)

    @classmethod
    def from_linear(cls, linear: nn.Linear, *, recipe: str = "block", activation: str | None = None,
                    out_dtype: torch.dtype | None = None, quantize_output: bool = False) -> "FP8Linear":
        """Quantize an nn.Linear's weight (and keep its bias in bf16)."""
        weight = linear.weight.detach()
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, recipe=recipe,
                    activation=activation, out_dtype=out_dtype or weight.dtype, quantize_output=quantize_output,
                    device=weight.device)
        q, scale = quantize(weight, RECIPES[recipe][0])
        layer.weight.copy_(q)
        layer.weight_scale.copy_(scale.reshape(layer.weight_scale.shape))
        if linear.bias is not None:
            layer.bias.copy_(linear.bias.detach().to(torch.bfloat16))
        return layer

    def forward(self, x: torch.Tensor | FP8Activation) -> torch.Tensor | FP8Activation:
        data = x.data if isinstance(x, FP8Activation) else x
        if data.shape[-1] != self.in_features:
            raise InputError(f"input has {data.shape[-1]} features; this layer takes {self.in_features}")
        if isinstance(x, FP8Activation):
            if self.recipe != "block":
                raise InputError("an FP8Activation (1x128 groups) feeds layers of the block recipe only")
            xq, x_scale = x.data.reshape(-1, self.in_features), x.scales
        else:
            xq, x_scale = quantize(x.reshape(-1, self.in_features), RECIPES[self.recipe][1])
        shape = (*data.shape[:-1], self.out_features)
        if self.quantize_output:
            y, scales = torch.ops.fp8gen.gemm_requantize(xq, self.weight, x_scale, self.weight_scale,
                                                         torch.float8_e4m3fn, self.bias, self.activation or "", "1x128")
            return FP8Activation(y.reshape(shape), scales)
        if self.bias is None and self.activation is None:
            y = torch.ops.fp8gen.scaled_mm(xq, self.weight, x_scale, self.weight_scale, self.out_dtype)
        else:
            y = torch.ops.fp8gen.gemm(xq, self.weight, x_scale, self.weight_scale, self.out_dtype, self.bias, None,
                                      1.0, 1.0, self.activation or "", None, 0)
        return y.reshape(shape)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"recipe={self.recipe}, activation={self.activation}, out_dtype={self.out_dtype}")
