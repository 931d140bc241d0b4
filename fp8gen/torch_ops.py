"""fp8gen's GEMM as PyTorch custom ops, so torch.compile traces it (fake implementations give the output
shapes without running anything) and CUDA graphs capture it.

    torch.ops.fp8gen.gemm(a, b, scale_a, scale_b, out_dtype, bias=None, residual=None, alpha=1.0, beta=1.0,
                          activation="", out_scale=None, split_k=0) -> D
    torch.ops.fp8gen.gemm_requantize(a, b, scale_a, scale_b, out_dtype, bias=None, activation="",
                                     requantize="1x128") -> (D, scales)
    torch.ops.fp8gen.scaled_mm(a, b, scale_a, scale_b, out_dtype) -> D

scaled_mm is gemm without an epilogue: the dispatcher's cost per call grows with the schema's argument
count (it boxes each one, defaults too), so the plain GEMM has an op of five arguments.

Arguments as in fp8gen.gemm: activation "" (none), "relu", "gelu", "gelu_tanh" or "silu"; alpha == 1.0
adds no alpha op; split_k 0 picks it from the shape; out_scale a one-element float32 tensor (FP8 output).
gemm_requantize writes FP8 D with 1x128 group scales along N (requantize "1x128": float32 scales,
"1x128_ue8m0": UE8M0).
Under CUDA graph capture every allocation goes through torch's caching allocator and the TMA
descriptors are kernel parameters, captured by value with the tensors' addresses.
"""

from __future__ import annotations

from typing import Optional

import torch

from . import api
from .checks import FP8_DTYPES, SCALE_DTYPES
from .epilogue import ACTIVATION_NAMES
from .errors import InputError
from .quantize import empty_rows_contiguous

ACTIVATIONS = ("",) + ACTIVATION_NAMES


def _check_shapes(a: torch.Tensor, b: torch.Tensor, activation: str, op: str = "gemm") -> tuple[int, int]:
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise InputError(f"fp8gen::{op} needs a (M, K) and b (N, K); got {tuple(a.shape)} and {tuple(b.shape)}")
    if activation not in ACTIVATIONS:
        raise InputError(f"activation={activation!r} is invalid; use one of {ACTIVATIONS}")
    return a.shape[0], b.shape[0]


# Defined through torch.library.Library rather than the custom_op decorator: the same schema and fake
# implementations without the decorator's per-call autograd wrapper and output-aliasing check.
_LIBRARY = torch.library.Library("fp8gen", "DEF")
_LIBRARY.define("gemm(Tensor a, Tensor b, Tensor scale_a, Tensor scale_b, ScalarType out_dtype, Tensor? bias=None, "
                "Tensor? residual=None, float alpha=1.0, float beta=1.0, str activation='', Tensor? out_scale=None, "
                "int split_k=0) -> Tensor")
_LIBRARY.define("scaled_mm(Tensor a, Tensor b, Tensor scale_a, Tensor scale_b, ScalarType out_dtype) -> Tensor")
_LIBRARY.define("gemm_requantize(Tensor a, Tensor b, Tensor scale_a, Tensor scale_b, ScalarType out_dtype, "
                "Tensor? bias=None, str activation='', str requantize='1x128') -> (Tensor, Tensor)")


def gemm(a: torch.Tensor, b: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor, out_dtype: torch.dtype,
         bias: Optional[torch.Tensor] = None, residual: Optional[torch.Tensor] = None, alpha: float = 1.0,
         beta: float = 1.0, activation: str = "", out_scale: Optional[torch.Tensor] = None,
         split_k: int = 0) -> torch.Tensor:
    # (No checks here: fp8gen.gemm's first call with these arguments makes them, and replays need none.)
    return api.gemm(a, b, scale_a, scale_b, out_dtype=out_dtype, bias=bias, residual=residual,
                    beta=beta if residual is not None else None, alpha=None if alpha == 1.0 else alpha,
                    activation=activation or None, out_scale=out_scale, split_k=split_k or None)


def gemm_fake(a, b, scale_a, scale_b, out_dtype, bias=None, residual=None, alpha=1.0, beta=1.0, activation="",
              out_scale=None, split_k=0):
    m, n = _check_shapes(a, b, activation)
    return a.new_empty((m, n), dtype=out_dtype)


def scaled_mm(a: torch.Tensor, b: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor,
              out_dtype: torch.dtype) -> torch.Tensor:
    return api.gemm(a, b, scale_a, scale_b, out_dtype=out_dtype)


def scaled_mm_fake(a, b, scale_a, scale_b, out_dtype):
    m, n = _check_shapes(a, b, "", "scaled_mm")
    return a.new_empty((m, n), dtype=out_dtype)


def gemm_requantize(a: torch.Tensor, b: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor,
                    out_dtype: torch.dtype, bias: Optional[torch.Tensor] = None, activation: str = "",
                    requantize: str = "1x128") -> tuple[torch.Tensor, torch.Tensor]:
    return api.gemm(a, b, scale_a, scale_b, out_dtype=out_dtype, bias=bias, activation=activation or None,
                    requantize=requantize)


def gemm_requantize_fake(a, b, scale_a, scale_b, out_dtype, bias=None, activation="", requantize="1x128"):
    m, n = _check_shapes(a, b, activation)
    if out_dtype not in FP8_DTYPES.values():
        raise InputError("fp8gen::gemm_requantize writes an FP8 output: out_dtype must be torch.float8_e4m3fn "
                         "or torch.float8_e5m2")
    if requantize not in api.REQUANTIZE_CHOICES:
        raise InputError(f"requantize={requantize!r} is invalid; use '1x128' or '1x128_ue8m0'")
    scales = empty_rows_contiguous(m, -(-n // 128), SCALE_DTYPES[api.REQUANTIZE_CHOICES[requantize]], a.device)
    return a.new_empty((m, n), dtype=out_dtype), scales


def refuse_cpu(a, *args, **kwargs):
    """The ops' CPU kernel: a clear error where torch would say it has no CPU implementation."""
    raise InputError(f"fp8gen's kernels run on CUDA tensors; a is on {a.device}")


_LIBRARY.impl("gemm", gemm, "CUDA")
_LIBRARY.impl("scaled_mm", scaled_mm, "CUDA")
_LIBRARY.impl("gemm_requantize", gemm_requantize, "CUDA")
for _op in ("gemm", "scaled_mm", "gemm_requantize"):
    _LIBRARY.impl(_op, refuse_cpu, "CPU")
torch.library.register_fake("fp8gen::gemm", gemm_fake, lib=_LIBRARY)
torch.library.register_fake("fp8gen::scaled_mm", scaled_mm_fake, lib=_LIBRARY)
torch.library.register_fake("fp8gen::gemm_requantize", gemm_requantize_fake, lib=_LIBRARY)
