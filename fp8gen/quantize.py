"""Quantize bf16/f16/f32 tensors to FP8 with the scales fp8gen.gemm reads, for every recipe.

Runs as torch operations on the tensor's device (the GPU for CUDA tensors).
"""

from __future__ import annotations

import math

import torch

from .checks import expected_scale_shape
from .errors import InputError
from .spec import ceil_div

FP8_MAX = {"e4m3": 448.0, "e5m2": 57344.0}
FP8_DTYPES = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
RECIPES = ("tensor", "row", "group", "block")


def _scale_from_amax(amax: torch.Tensor, fp8_max: float, ue8m0: bool) -> torch.Tensor:
    """amax / fp8_max, with all-zero groups getting scale 1; UE8M0 rounds up to a power of two."""
    scale = torch.where(amax > 0, amax / fp8_max, torch.ones_like(amax))
    if ue8m0:
        scale = torch.exp2(torch.ceil(torch.log2(scale)))
    return scale


def _abs_max(x: torch.Tensor, dims: tuple[int, ...], keepdim: bool = False) -> torch.Tensor:
    """max |x| over `dims`; 0 where they are empty (torch's amax raises on an empty reduction)."""
    if x.numel() == 0:
        shape = [1 if i in dims else size for i, size in enumerate(x.shape) if keepdim or i not in dims]
        return x.new_zeros(shape)
    return x.abs().amax(dim=dims, keepdim=keepdim)


def _padded(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    if x.shape == (rows, cols):
        return x
    return torch.nn.functional.pad(x, (0, cols - x.shape[1], 0, rows - x.shape[0]))


def quantize(x: torch.Tensor, recipe: str = "group", *, fmt: str = "e4m3", group_size: int = 128,
             scale_dtype: str = "f32") -> tuple[torch.Tensor, torch.Tensor]:
    """Quantize a (rows, K) tensor for use as fp8gen.gemm's `a` or `b`.

    recipe: "tensor" (scale shape (1,)), "row" ((rows, 1)), "group" (1 x group_size along K:
    (rows, ceil(K/G)), returned rows-contiguous, the layout the kernel reads fastest) or "block"
    (G x G: (ceil(rows/G), ceil(K/G))). fmt: "e4m3" (amax / 448) or "e5m2" (amax / 57344).
    scale_dtype: "f32", or "ue8m0" (group/block only: power-of-two scales rounded up, returned as
    torch.float8_e8m0fnu). Groups whose amax is zero get scale 1.
    Returns (fp8 tensor, scales) with x ~= fp8 * scales expanded over each group.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise InputError(f"x must be a 2-D tensor (rows, K), got {type(x).__name__} {getattr(x, 'shape', '')}")
    if x.dtype not in (torch.bfloat16, torch.float16, torch.float32):
        raise InputError(f"x has dtype {x.dtype}; expected torch.bfloat16, torch.float16 or torch.float32")
    if recipe not in RECIPES:
        raise InputError(f"recipe={recipe!r} is invalid; allowed: {', '.join(RECIPES)}")
    if fmt not in FP8_MAX:
        raise InputError(f"fmt={fmt!r} is invalid; allowed: e4m3, e5m2")
    if scale_dtype not in ("f32", "ue8m0") or (scale_dtype == "ue8m0" and recipe in ("tensor", "row")):
        raise InputError(f"scale_dtype={scale_dtype!r} is invalid for recipe {recipe!r}; "
                         "f32 for every recipe, ue8m0 for group and block")
    if recipe in ("group", "block"):
        _check_group_size(group_size)
    rows, k = x.shape
    xf = x.float()
    fp8_max, ue8m0 = FP8_MAX[fmt], scale_dtype == "ue8m0"
    if recipe == "tensor":
        scale = _scale_from_amax(_abs_max(xf, (0, 1)).reshape(1), fp8_max, ue8m0)
        scaled = xf / scale
    elif recipe == "row":
        scale = _scale_from_amax(_abs_max(xf, (1,), keepdim=True), fp8_max, ue8m0)
        scaled = xf / scale
    elif recipe == "group":
        kg = ceil_div(k, group_size)
        groups = _padded(xf, rows, kg * group_size).view(rows, kg, group_size)
        scale = _scale_from_amax(_abs_max(groups, (2,)), fp8_max, ue8m0)
        scaled = (groups / scale.unsqueeze(2)).reshape(rows, kg * group_size)[:, :k]
    else:
        rb, kg = ceil_div(rows, group_size), ceil_div(k, group_size)
        blocks = _padded(xf, rb * group_size, kg * group_size).view(rb, group_size, kg, group_size)
        scale = _scale_from_amax(_abs_max(blocks, (1, 3)), fp8_max, ue8m0)
        scaled = (blocks / scale[:, None, :, None]).reshape(rb * group_size, kg * group_size)[:rows, :k]
    q = scaled.clamp(-fp8_max, fp8_max).to(FP8_DTYPES[fmt])
    if ue8m0:
        scale = scale.to(torch.float8_e8m0fnu)
    if recipe == "group":
        scale = rows_contiguous(scale)
    return q, scale


def rows_contiguous(scale: torch.Tensor) -> torch.Tensor:
    """(rows, groups) scales with rows contiguous and each group's column 16-byte aligned: the layout
    the kernels read without a copy (coalesced A row scales; TMA-staged B column scales)."""
    out = empty_rows_contiguous(*scale.shape, dtype=scale.dtype, device=scale.device)
    out.copy_(scale)
    return out


def empty_rows_contiguous(rows: int, groups: int, dtype: torch.dtype, device) -> torch.Tensor:
    """An uninitialized (rows, groups) scale tensor in the layout of rows_contiguous."""
    align = 16 // dtype.itemsize
    return torch.empty_strided((rows, groups), (1, -(-rows // align) * align), dtype=dtype, device=device)


def _check_group_size(group_size) -> None:
    if not isinstance(group_size, int) or isinstance(group_size, bool) or group_size <= 0:
        raise InputError(f"group_size={group_size!r} must be a positive integer")


def dequantize(q: torch.Tensor, scale: torch.Tensor, recipe: str, *, group_size: int = 128) -> torch.Tensor:
    """float64 values of a quantized operand: q times its scales expanded over each group (for references)."""
    if not isinstance(q, torch.Tensor) or q.dim() != 2 or not isinstance(scale, torch.Tensor):
        raise InputError("dequantize takes a 2-D tensor q (rows, K) and a scale tensor")
    if recipe not in RECIPES:
        raise InputError(f"recipe={recipe!r} is invalid; allowed: {', '.join(RECIPES)}")
    _check_group_size(group_size)
    rows, k = q.shape
    expected = expected_scale_shape(recipe, rows, k, group_size)
    if scale.numel() != math.prod(expected) or (recipe in ("group", "block") and tuple(scale.shape) != expected):
        raise InputError(f"scale has shape {tuple(scale.shape)}; a {recipe} recipe's scales for a {rows}x{k} operand "
                         f"are {expected}" + (f" (group_size {group_size})" if recipe in ("group", "block") else ""))
    s = scale.double()
    if recipe == "group":
        s = s.repeat_interleave(group_size, dim=1)[:, :k]
    elif recipe == "block":
        s = s.repeat_interleave(group_size, 0).repeat_interleave(group_size, 1)[:rows, :k]
    else:
        s = s.reshape(-1, 1)  # per-tensor (1, 1), per-row (rows, 1)
    return q.double() * s
