"""Grouped FP8 GEMM for mixture-of-experts layers: one launch over G experts that share N and K.

Layouts (DeepGEMM's):
  contiguous  a (M, K) holds every expert's tokens concatenated, each expert's segment padded to a
              multiple of 128 rows; m_indices (M,) int32 names the expert of each row, -1 for padding.
              Each 128-row block belongs to one expert (its rows hold that id or -1) or is all
              padding. Padding rows inside an expert's block are written as zeros; all-padding
              blocks are skipped and their output rows left untouched.
  masked      a (G, M_max, K) with masked_m (G,) int32 on the GPU: expert g uses its first masked_m[g]
              rows (the counts may change between CUDA-graph replays without a host round trip).
              Output rows at or past masked_m[g] are written as zeros up to the next multiple of the
              kernel's BM (128 when M_max is a multiple of 128, else 64) and left untouched beyond.
b (G, N, K) holds the experts' weights, K contiguous. scale_a follows fp8gen.gemm over A's rows
(masked: with the (G, M_max) leading dims); scale_b has a leading G: (G,) per-tensor, (G, N) per-row,
(G, ceil(N/128), ceil(K/128)) 128x128 blocks (float32 or float8_e8m0fnu).
"""

from __future__ import annotations

import torch

from . import api, checks, heuristics
from .api import GroupArguments, compile as compile_spec
from .errors import InputError
from .spec import GemmSpec, ScaleRecipe, ceil_div

SEGMENT_ROWS = 128  # contiguous layout: expert segments are padded to this many rows


def grouped_gemm(a: torch.Tensor, b: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor, *,
                 m_indices: torch.Tensor | None = None, masked_m: torch.Tensor | None = None,
                 out_dtype: torch.dtype = torch.bfloat16, out: torch.Tensor | None = None, alpha=None,
                 bias: torch.Tensor | None = None, activation=None, out_scale=None,
                 amax_out: torch.Tensor | None = None, validate: bool | None = None) -> torch.Tensor:
    """D = epilogue((a * scale_a) @ (b[expert] * scale_b[expert])^T) per row's expert; see the module docstring.

    Give exactly one of m_indices (contiguous layout) or masked_m (masked layout). The epilogue takes
    alpha, bias ((N,) shared by the experts or (G, N) per expert), activation, out_scale and amax_out
    as in fp8gen.gemm. validate (default: True unless a CUDA graph is being captured) reads m_indices /
    masked_m on the host to check them (one synchronization): expert ids in [-1, G) and constant over
    each 128-row block, counts in [0, M_max]. Raises InputError for invalid arguments.
    """
    if (m_indices is None) == (masked_m is None):
        raise InputError("give exactly one of m_indices (contiguous layout) or masked_m (masked layout)")
    out_format = checks.out_format(out_dtype)
    layout = "contiguous" if m_indices is not None else "masked"
    b2, groups, n, k = _experts(b)
    a2, group_rows = _tokens(a, layout, groups, k)
    rows = a2.shape[0]
    device = checks.check_same_device(a=a2, b=b2)
    sa2 = _flat_scale_a(scale_a, layout, rows)
    recipe_a = api._recipe_of("scale_a", sa2, rows, k, "a")
    recipe_b, b_scale_args = _expert_scales(scale_b, groups, n, k, device)
    shared_bias, bias_stride_group = _expert_bias(bias, groups, n)
    chain = api._chain_of(out_format, alpha is not None, api._bias_signature(shared_bias, -1, n), None,
                          api._activation_signature(activation), amax_out is not None, None)
    block_m = _block_m(layout, group_rows)
    block_n = heuristics.grouped_block_n(rows, n, block_m, recipe_a, recipe_b)
    spec = GemmSpec(a=checks.FORMAT_OF_DTYPE[a2.dtype], b=checks.FORMAT_OF_DTYPE[b2.dtype], out=out_format,
                    scale_a=recipe_a, scale_b=recipe_b, tile=(block_m, block_n, 128), epilogue=chain,
                    grouping=layout)
    info = _group_info(m_indices if layout == "contiguous" else masked_m, layout, rows, groups, group_rows, device,
                       validate)
    out, out2 = _output(out, layout, rows, groups, group_rows, n, out_dtype, device)
    if rows == 0 or n == 0:
        return out
    kernel = compile_spec(spec)
    scales = checks.scale_argument("scale_a", sa2, spec.scale_a, rows, k, device) + b_scale_args[:3]
    staged = (checks.tma_scale_layout(sa2) if spec.staged_groups("a") else None, None)
    epilogue, _ = kernel._epilogue_arguments(rows, n, device, bias_stride_group, alpha=alpha, bias=shared_bias,
                                             residual=None, beta=None, out_scale=out_scale, amax_out=amax_out,
                                             group_scales_out=None)
    launch = kernel._prepare(a2, b2, scales, staged, out2, rows, n, k, heuristics.NO_SPLIT, device.index, epilogue,
                             GroupArguments(b_scale_args[3], info.data_ptr(), group_rows))
    launch.launch(api._current_stream(device.index))
    return out


def _expert_bias(bias, groups: int, n: int) -> tuple[torch.Tensor | None, int]:
    """A bias shared by the experts (N,), or one per expert (G, N) -> (expert 0's row, stride between experts)."""
    if bias is None or checks.require_tensor("bias", bias).dim() == 1:
        return bias, 0
    if tuple(bias.shape) != (groups, n):
        raise InputError(f"bias has shape {tuple(bias.shape)}; grouped kernels take ({n},) shared by the experts "
                         f"or ({groups}, {n}) per expert")
    return bias[0], bias.stride(0)


def _experts(b) -> tuple[torch.Tensor, int, int, int]:
    """b (G, N, K) as the (G * N, K) rows the kernel loads by TMA."""
    b = checks.require_tensor("b", b)
    if b.dim() != 3:
        raise InputError(f"b must be 3-D (experts, N, K), got shape {tuple(b.shape)}")
    groups, n, k = b.shape
    if groups == 0:
        raise InputError("b has no experts (G = 0)")
    if n > 1 and b.stride(0) != n * b.stride(1):
        raise InputError(f"b's experts must be stacked without gaps (stride(0) == N * stride(1)), got {b.stride()}")
    return checks.check_operand("b", b.reshape(groups * n, k)), groups, n, k


def _tokens(a, layout: str, groups: int, k: int) -> tuple[torch.Tensor, int]:
    """A as 2-D rows, and the rows per expert (masked) or 0."""
    a = checks.require_tensor("a", a)
    if layout == "contiguous":
        if a.dim() != 2:
            raise InputError(f"a must be 2-D (M, K) in the contiguous layout, got shape {tuple(a.shape)}")
        if a.shape[0] % SEGMENT_ROWS:
            raise InputError(f"a has {a.shape[0]} rows; the contiguous layout pads every expert's segment to a "
                             f"multiple of {SEGMENT_ROWS} rows, so M must be one too")
        a2, group_rows = a, 0
    else:
        if a.dim() != 3 or a.shape[0] != groups:
            raise InputError(f"a must be 3-D ({groups}, M_max, K) in the masked layout, got shape {tuple(a.shape)}")
        group_rows = a.shape[1]
        if group_rows % 64:
            raise InputError(f"a has M_max = {group_rows} rows per expert; the masked layout needs a multiple of 64")
        if group_rows > 1 and a.stride(0) != group_rows * a.stride(1):
            raise InputError(f"a's experts must be stacked without gaps, got strides {a.stride()}")
        a2 = a.reshape(groups * group_rows, a.shape[2])
    a2 = checks.check_operand("a", a2)
    if a2.shape[1] != k:
        raise InputError(f"a has K = {a2.shape[1]} but b has K = {k}")
    return a2, group_rows


def _flat_scale_a(scale_a, layout: str, rows: int) -> torch.Tensor:
    """Masked layout: (G, M_max[, groups]) A scales as (G * M_max[, groups]) rows."""
    scale_a = checks.require_tensor("scale_a", scale_a)
    if layout == "masked" and scale_a.numel() > 1 and scale_a.dim() >= 2:
        return scale_a.reshape(rows, *scale_a.shape[2:])
    return scale_a


def _expert_scales(scale_b, groups: int, n: int, k: int, device) -> tuple[ScaleRecipe, tuple[int, int, int, int]]:
    """B's per-expert scales -> (recipe, (pointer, row stride, K-group stride, expert stride))."""
    s = checks.require_tensor("scale_b", scale_b)
    shape = tuple(s.shape)
    blocks = (groups, ceil_div(n, 128), ceil_div(k, 128))
    if s.dtype == torch.float32 and shape in ((groups,), (groups, 1)):
        recipe, strides = ScaleRecipe("tensor"), (0, 0)
    elif s.dtype == torch.float32 and shape in ((groups, n), (groups, n, 1)):
        recipe, strides = ScaleRecipe("row"), (s.stride(1), 0)
    elif shape == blocks and s.dtype in (torch.float32, torch.float8_e8m0fnu):
        recipe = ScaleRecipe("block", dtype=checks.SCALE_DTYPE_NAMES[s.dtype])
        strides = (s.stride(1), s.stride(2))
    else:
        raise InputError(f"scale_b has shape {shape} and dtype {s.dtype}; grouped B scales are ({groups},) "
                         f"per-tensor, ({groups}, {n}) per-row (float32) or {blocks} 128x128 blocks "
                         "(float32 or float8_e8m0fnu)")
    if s.device != device:
        raise InputError(f"scale_b is on {s.device}; expected {device}")
    return recipe, (s.data_ptr(), *strides, s.stride(0))


def _block_m(layout: str, group_rows: int) -> int:
    if layout == "contiguous" or group_rows % 128 == 0:
        return 128
    return 64


def _group_info(info, layout: str, rows: int, groups: int, group_rows: int, device, validate) -> torch.Tensor:
    name = "m_indices" if layout == "contiguous" else "masked_m"
    info = checks.require_tensor(name, info)
    expected = (rows,) if layout == "contiguous" else (groups,)
    if tuple(info.shape) != expected or info.dtype != torch.int32 or info.device != device:
        raise InputError(f"{name} must be a torch.int32 tensor of shape {expected} on {device}; got {info.dtype} "
                         f"of shape {tuple(info.shape)} on {info.device}")
    if not info.is_contiguous():
        raise InputError(f"{name} must be contiguous")
    if validate is None:
        validate = not torch.cuda.is_current_stream_capturing()
    if validate and info.numel():
        if layout == "contiguous":
            _validate_indices(info, groups)
        else:
            _validate_counts(info, group_rows)
    return info


def _validate_indices(m_indices: torch.Tensor, groups: int) -> None:
    blocks = m_indices.view(-1, SEGMENT_ROWS)
    first = blocks[:, :1]
    # A block's expert is its first row's: other rows hold it or -1; a block opening with -1 is all padding.
    mixed = ((blocks != first) & (blocks != -1)).any(dim=1) | ((first[:, 0] == -1) & (blocks != -1).any(dim=1))
    low, high, first_mixed = torch.stack([m_indices.min(), m_indices.max(),
                                          torch.where(mixed.any(), mixed.int().argmax(), -1)]).tolist()
    if low < -1 or high >= groups:
        raise InputError(f"m_indices holds values from {low} to {high}; expert ids are 0..{groups - 1}, "
                         "or -1 for padding rows")
    if first_mixed >= 0:
        raise InputError(f"m_indices mixes experts inside rows {first_mixed * SEGMENT_ROWS}.."
                         f"{(first_mixed + 1) * SEGMENT_ROWS - 1}: every expert's segment must start a "
                         f"{SEGMENT_ROWS}-row block and be padded with -1 to a multiple of {SEGMENT_ROWS} rows")


def _validate_counts(masked_m: torch.Tensor, group_rows: int) -> None:
    low, high = torch.stack([masked_m.min(), masked_m.max()]).tolist()
    if low < 0 or high > group_rows:
        raise InputError(f"masked_m holds counts from {low} to {high}; each must be in [0, M_max = {group_rows}]")


def _output(out, layout: str, rows: int, groups: int, group_rows: int, n: int, dtype: torch.dtype,
            device) -> tuple[torch.Tensor, torch.Tensor]:
    """The user's output and its 2-D (rows, N) view for the kernel."""
    shape = (rows, n) if layout == "contiguous" else (groups, group_rows, n)
    if out is None:
        out = torch.empty(shape, dtype=dtype, device=device)
    else:
        out = checks.require_tensor("out", out)
        if tuple(out.shape) != shape or out.dtype != dtype or out.device != device:
            raise InputError(f"out must be {dtype} of shape {shape} on {device}; got {out.dtype} of shape "
                             f"{tuple(out.shape)} on {out.device}")
        if not out.is_contiguous():
            raise InputError("out must be contiguous")
    if (n * out.element_size()) % 16 or out.data_ptr() % 16:
        raise InputError(f"grouped outputs are written by TMA: N * {out.element_size()} bytes must be a multiple "
                         "of 16 and out 16-byte aligned")
    return out, out.view(rows, n)
