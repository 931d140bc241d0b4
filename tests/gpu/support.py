"""Float64 references, random FP8 operands and kernel prebuilding for GPU numerics tests."""

from __future__ import annotations

import os

import torch

FP8_MAX = {torch.float8_e4m3fn: 448.0, torch.float8_e5m2: 57344.0}


def random_fp8(rows: int, k: int, dtype: torch.dtype, generator: torch.Generator) -> torch.Tensor:
    """Fresh random FP8 values spanning several binades (never zeros-only)."""
    x = torch.randn(rows, k, device="cuda", generator=generator) * 4.0
    return x.clamp(-FP8_MAX[dtype], FP8_MAX[dtype]).to(dtype)


def random_scale(generator: torch.Generator, shape=(1,)) -> torch.Tensor:
    return (torch.rand(shape, device="cuda", generator=generator) + 0.5).to(torch.float32)


def reference_gemm(a: torch.Tensor, b: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor) -> torch.Tensor:
    """(a * scale_a) @ (b * scale_b)^T in float64 for per-tensor scales."""
    return (a.double() * scale_a.double()) @ (b.double() * scale_b.double()).T


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """||out - ref||_F / ||ref||_F, computed in float64."""
    diff = torch.linalg.vector_norm(out.double() - ref)
    return (diff / torch.linalg.vector_norm(ref).clamp_min(1e-300)).item()


def gemm_error(out: torch.Tensor, ref: torch.Tensor, a_dequant: torch.Tensor, b_dequant: torch.Tensor) -> float:
    """Relative Frobenius error, guarded against cancellation in tiny outputs.

    The denominator is max(||ref||_F, sqrt(M N K) rms(a) rms(b)): the second term is the
    expected ||ref||_F for independent random operands. For outputs of more than a few
    elements the two agree and this is ||out - ref||_F / ||ref||_F; for a 1x1 output whose
    dot product happens to cancel to near zero, it measures the error against the size of
    the terms instead of blowing up (no summation order can make a near-zero sum accurate
    in relative terms).
    """
    m, k = a_dequant.shape
    n = b_dequant.shape[0]
    rms = lambda t: t.double().pow(2).mean().sqrt()  # noqa: E731
    expected = (m * n * k) ** 0.5 * rms(a_dequant) * rms(b_dequant)
    denominator = torch.maximum(torch.linalg.vector_norm(ref), expected).clamp_min(1e-300)
    return (torch.linalg.vector_norm(out.double() - ref) / denominator).item()


def prebuild(specs) -> None:
    """Compile a test module's kernels up front, in parallel, so the tests themselves hit the cache."""
    from fp8gen.build import build_many

    build_many(list(dict.fromkeys(specs)), jobs=min(len(specs), os.cpu_count() or 1))
