"""Argument checks for kernel calls: each failure names the argument, its value and what is required."""

from __future__ import annotations

import torch

from .errors import InputError
from .spec import ceil_div

FP8_DTYPES = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
# 16/32-bit formats: outputs, and what bias and residual tensors may hold
VECTOR_DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}
OUT_DTYPES = {**VECTOR_DTYPES, **FP8_DTYPES}
FORMAT_OF_DTYPE = {v: k for k, v in FP8_DTYPES.items()}
OUT_OF_DTYPE = {v: k for k, v in OUT_DTYPES.items()}
VECTOR_OF_DTYPE = {v: k for k, v in VECTOR_DTYPES.items()}
TMA_ALIGNMENT = 16
MAX_DIMENSION = 2 ** 31  # M, N and K reach the kernel as 32-bit ints


def require_tensor(name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_operand(name: str, t, dtype: torch.dtype | None = None) -> torch.Tensor:
    """An FP8 (rows, K) operand read by TMA: CUDA, K-contiguous, 16-byte aligned rows and base."""
    t = require_tensor(name, t)
    if t.dim() != 2:
        raise InputError(f"{name} must be 2-D (rows, K), got shape {tuple(t.shape)}")
    if t.dtype not in FORMAT_OF_DTYPE:
        raise InputError(f"{name} has dtype {t.dtype}; expected torch.float8_e4m3fn or torch.float8_e5m2")
    if dtype is not None and t.dtype != dtype:
        raise InputError(f"{name} has dtype {t.dtype} but the kernel was built for {dtype}")
    rows, k = t.shape
    if max(rows, k) >= MAX_DIMENSION:
        raise InputError(f"{name} has shape {tuple(t.shape)}; fp8gen kernels take M, N and K below 2^31")
    if k == 0:
        raise InputError(f"{name} has K = 0; K must be a positive multiple of 16")
    if k % 16:
        raise InputError(f"{name} has K = {k}; K must be a multiple of 16 (TMA needs 16-byte row strides)")
    if not t.is_cuda:
        raise InputError(f"{name} is on {t.device}; fp8gen kernels need CUDA tensors")
    if rows > 1 and t.stride(1) != 1:
        raise InputError(f"{name} must be contiguous along K (stride(1) == 1), got strides {t.stride()}")
    if rows > 1 and (t.stride(0) < k or t.stride(0) % TMA_ALIGNMENT):
        raise InputError(f"{name} row stride {t.stride(0)} must be >= K = {k} and a multiple of 16 bytes")
    if t.data_ptr() % TMA_ALIGNMENT:
        raise InputError(f"{name} data pointer must be 16-byte aligned (got address % 16 = {t.data_ptr() % 16})")
    return t


def check_same_device(**tensors: torch.Tensor) -> torch.device:
    devices = {name: t.device for name, t in tensors.items()}
    first = next(iter(devices.values()))
    for name, device in devices.items():
        if device != first:
            listing = ", ".join(f"{n} on {d}" for n, d in devices.items())
            raise InputError(f"all tensors must be on one device; got {listing}")
    return first


SCALE_DTYPES = {"f32": torch.float32, "ue8m0": torch.float8_e8m0fnu}
SCALE_DTYPE_NAMES = {v: k for k, v in SCALE_DTYPES.items()}


def expected_scale_shape(kind: str, rows: int, k: int, group_size: int) -> tuple[int, ...]:
    if kind == "tensor":
        return (1,)
    if kind == "row":
        return (rows,)
    if kind == "group":
        return (rows, ceil_div(k, group_size))
    return (ceil_div(rows, group_size), ceil_div(k, group_size))


def scale_argument(name: str, s, recipe, rows: int, k: int, device: torch.device) -> tuple[int, int, int]:
    """Check a scale tensor against its recipe; return (pointer, row stride, K-group stride) in elements."""
    s = require_tensor(name, s)
    dtype = SCALE_DTYPES[recipe.dtype]
    label = {"tensor": "per-tensor", "row": "per-row"}.get(recipe.kind, recipe.label())
    if s.dtype != dtype:
        raise InputError(f"{name} has dtype {s.dtype}; the {label} recipe of this kernel takes {dtype} scales")
    if s.device != device:
        raise InputError(f"{name} is on {s.device}; scales must be on {device} with the operands "
                         "(they are read by the kernel, no host sync)")
    expected = expected_scale_shape(recipe.kind, rows, k, recipe.group_size)
    shape = tuple(s.shape)
    if recipe.kind == "tensor":
        if s.numel() != 1:
            raise InputError(f"{name} has shape {shape} but the per-tensor recipe needs one element")
        return s.data_ptr(), 0, 0
    if recipe.kind == "row":
        if shape not in ((rows,), (rows, 1)):
            raise InputError(f"{name} has shape {shape} but the per-row recipe needs ({rows},) or ({rows}, 1)")
        return s.data_ptr(), s.stride(0), 0
    if shape != expected:
        raise InputError(f"{name} has shape {shape} but the {label} recipe for an operand with {rows} rows "
                         f"and K = {k} needs {expected}")
    return s.data_ptr(), s.stride(0), s.stride(1)


def tma_scale_layout(s: torch.Tensor) -> torch.Tensor:
    """Per-column (1xG) B scales as TMA reads them: (N, groups) with N contiguous, the group stride a
    multiple of 16 bytes and a 16-byte aligned base. Returns `s` itself when it already is; otherwise
    a copy in that layout (one small copy per call: pass scales from fp8gen.quantize to avoid it).
    """
    n, groups = s.shape
    align = TMA_ALIGNMENT // s.element_size()
    if (n <= 1 or s.stride(0) == 1) and (groups <= 1 or s.stride(1) % align == 0) and s.data_ptr() % TMA_ALIGNMENT == 0:
        return s
    padded = -(-n // align) * align
    buffer = torch.empty((groups, padded), dtype=s.dtype, device=s.device)
    buffer[:, :n] = s.t()
    return buffer[:, :n].t()


def infer_recipe(name: str, scale, rows: int, k: int, operand: str) -> str:
    """The scaling recipe a scale tensor's shape implies (see fp8gen.gemm's docstring for the table).

    UE8M0 scales only exist for groups and blocks, so for them a shape that is also a valid
    per-tensor or per-row shape (one row, or one K group) is read as groups/blocks.
    """
    scale = require_tensor(name, scale)
    shape = tuple(scale.shape)
    k_groups = ceil_div(k, 128)
    grouped_only = scale.dtype == torch.float8_e8m0fnu
    if not grouped_only and scale.numel() == 1 and len(shape) <= 2:
        return "tensor"
    if not grouped_only and shape in ((rows,), (rows, 1)):
        return "row"
    if shape == (rows, k_groups):
        return "group"
    if operand == "b" and shape == (ceil_div(rows, 128), k_groups):
        return "block"
    allowed = [] if grouped_only else ["() or (1,) per-tensor", f"({rows},) or ({rows}, 1) per-row"]
    allowed.append(f"({rows}, {k_groups}) 1x128 groups")
    if operand == "b":
        allowed.append(f"({ceil_div(rows, 128)}, {k_groups}) 128x128 blocks")
    note = " (float8_e8m0fnu scales exist only for groups and blocks)" if grouped_only else ""
    raise InputError(f"{name} has shape {shape}, which matches no scaling recipe{note}; "
                     f"expected one of: {'; '.join(allowed)}")


def out_format(out_dtype) -> str:
    """The spec's output format for a torch dtype, or InputError naming the supported ones."""
    if not isinstance(out_dtype, torch.dtype) or out_dtype not in OUT_OF_DTYPE:
        raise InputError(f"out_dtype={out_dtype} is not supported; use torch.bfloat16, torch.float16, torch.float32, "
                         "torch.float8_e4m3fn or torch.float8_e5m2")
    return OUT_OF_DTYPE[out_dtype]


def check_out(out, m: int, n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    out = require_tensor("out", out)
    if tuple(out.shape) != (m, n):
        raise InputError(f"out has shape {tuple(out.shape)}; expected ({m}, {n})")
    if out.dtype != dtype:
        raise InputError(f"out has dtype {out.dtype}; the kernel writes {dtype}")
    if out.device != device:
        raise InputError(f"out is on {out.device}; expected {device}")
    if m > 1 and n > 1 and (out.stride(1) != 1 or out.stride(0) < n):
        raise InputError(f"out must be row-major with stride(1) == 1 and stride(0) >= N, got strides {out.stride()}")
    if out.data_ptr() % out.element_size():
        raise InputError("out data pointer is not aligned to its element size")
    return out


def scalar_argument(name: str, value, device: torch.device) -> tuple[float, int]:
    """A host number or a one-element float32 tensor on `device` -> (host value, device pointer or 0)."""
    if isinstance(value, bool) or value is None:
        raise InputError(f"{name} must be a number or a one-element float32 CUDA tensor, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value), 0
    return 0.0, _device_scalar(name, value, device, "a number or ").data_ptr()


def bias_argument(t, op, m: int, n: int, device: torch.device) -> tuple[int, int]:
    """A bias vector for the chain's bias op -> (pointer, element stride)."""
    t = require_tensor("bias", t)
    length, what = (n, "N (one per output column)") if op.axis == "column" else (m, "M (one per output row)")
    if t.dim() != 1 or t.shape[0] != length:
        raise InputError(f"bias has shape {tuple(t.shape)}; this kernel's {op.axis} bias needs ({length},), "
                         f"length {what}")
    _check_dtype_device("bias", t, VECTOR_DTYPES[op.dtype], device)
    return t.data_ptr(), t.stride(0)


def residual_argument(t, op, m: int, n: int, device: torch.device) -> tuple[int, int, int]:
    """The residual C for the chain's residual op -> (pointer, row stride, column stride)."""
    t = require_tensor("residual", t)
    if tuple(t.shape) != (m, n):
        raise InputError(f"residual has shape {tuple(t.shape)}; expected the output's ({m}, {n})")
    _check_dtype_device("residual", t, VECTOR_DTYPES[op.dtype], device)
    return t.data_ptr(), t.stride(0), t.stride(1)


def amax_argument(t, device: torch.device) -> torch.Tensor:
    return _device_scalar("amax_out", t, device)


def _device_scalar(name: str, t, device: torch.device, alternative: str = "") -> torch.Tensor:
    """A one-element float32 tensor on `device` (alternative: what else the message says is accepted)."""
    t = require_tensor(name, t)
    if t.numel() != 1 or t.dtype != torch.float32 or t.device != device:
        raise InputError(f"{name} must be {alternative}a one-element torch.float32 tensor on {device}; "
                         f"got {t.dtype} of shape {tuple(t.shape)} on {t.device}")
    return t


def group_scales_argument(t, op, m: int, n: int, device: torch.device) -> torch.Tensor:
    """Where the group_quantize op writes its (M, ceil(N / G)) scales."""
    t = require_tensor("group_scales_out", t)
    expected = (m, ceil_div(n, op.group_size))
    if tuple(t.shape) != expected:
        raise InputError(f"group_scales_out has shape {tuple(t.shape)}; expected {expected} "
                         f"(one scale per row and 1x{op.group_size} group of the output)")
    _check_dtype_device("group_scales_out", t, SCALE_DTYPES[op.dtype], device)
    return t


def _check_dtype_device(name: str, t: torch.Tensor, dtype: torch.dtype, device: torch.device) -> None:
    if t.dtype != dtype:
        raise InputError(f"{name} has dtype {t.dtype}; this kernel's epilogue reads {dtype}")
    if t.device != device:
        raise InputError(f"{name} is on {t.device}; expected {device} with the operands")
    if t.data_ptr() % t.element_size():
        raise InputError(f"{name} data pointer is not aligned to its element size")


def unused_epilogue_arguments(chain_ops: set[str], fp8_out: bool, **given) -> None:
    """Reject arguments for ops the kernel's chain does not have (they would be silently ignored)."""
    needs = {"alpha": "alpha", "bias": "bias", "residual": "residual", "beta": "residual", "amax_out": "amax",
             "group_scales_out": "group_quantize"}
    for name, value in given.items():
        if value is None:
            continue
        if name == "out_scale":
            if not fp8_out or "group_quantize" in chain_ops:
                raise InputError("out_scale applies to FP8 outputs without group re-quantization; "
                                 "this kernel does not read it")
        elif needs[name] not in chain_ops:
            raise InputError(f"{name} was given but this kernel's epilogue has no {needs[name]!r} op")
