"""Float64 references, random FP8 operands and kernel prebuilding for GPU numerics tests."""

from __future__ import annotations

import os

import torch

import fp8gen
from fp8gen.spec import ceil_div

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


def deepgemm_difference(x: torch.Tensor, y: torch.Tensor) -> float:
    """DeepGEMM's calc_diff: 1 - 2 sum(xy) / sum(x^2 + y^2)."""
    x, y = x.double(), y.double()
    return (1 - 2 * (x * y).sum() / (x * x + y * y).sum()).item()


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


def prebuild(specs, request) -> None:
    """Compile a test module's kernels up front, in parallel, so the tests themselves hit the cache. Skipped
    when fewer of the module's tests are selected than it has kernels (a few picked by node id or -k): they
    compile what they use, where under pytest-xdist every worker would compile the module's whole set."""
    from fp8gen.build import build_many

    specs = list(dict.fromkeys(specs))
    if sum(1 for item in request.session.items if getattr(item, "module", None) is request.module) < len(specs):
        return
    build_many(specs, jobs=min(len(specs), compile_jobs()))


def compile_jobs() -> int:
    """NVRTC processes per test process: the machine's cores shared among pytest-xdist's workers (each one
    prebuilding its module's kernels at once would start cores x workers compilers of ~1.3 GB each)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return max(1, (os.cpu_count() or 1) // max(1, workers))


FORMATS = {"e4m3": torch.float8_e4m3fn, "e5m2": torch.float8_e5m2}
OUT = {"bf16": (torch.bfloat16, 4e-3), "f32": (torch.float32, 2e-4)}


def random_scales(kind: str, rows: int, k: int, generator, dtype: str = "f32", group: int = 128) -> torch.Tensor:
    """Positive scales spanning 2^-4 .. 2^4 (powers of two for ue8m0), in the layout gemm() documents."""
    shape = {"tensor": (1,), "row": (rows, 1), "group": (rows, ceil_div(k, group)),
             "block": (ceil_div(rows, group), ceil_div(k, group))}[kind]
    exponent = torch.randint(-4, 5, shape, device="cuda", generator=generator).float()
    if dtype == "ue8m0":
        return torch.exp2(exponent).to(torch.float8_e8m0fnu)
    return torch.exp2(exponent) * (1 + 0.5 * torch.rand(shape, device="cuda", generator=generator))


def expand_scale(scale: torch.Tensor, kind: str, rows: int, k: int, group: int = 128) -> torch.Tensor:
    s = scale.double()
    if kind == "group":
        return s.repeat_interleave(group, 1)[:, :k]
    if kind == "block":
        return s.repeat_interleave(group, 0).repeat_interleave(group, 1)[:rows, :k]
    return s.reshape(-1, 1) if kind == "row" else s


def check_recipe_gemm(m, n, k, a_fmt, b_fmt, kind_a, kind_b, out_name, generator, scale_dtype="f32", split_k=None,
                      spec=None):
    """Run fp8gen.gemm on fresh random operands and scales of the given recipes into a NaN-filled output
    and compare every element against the float64 reference of the dequantized operands. With `spec`,
    that kernel runs instead of the one fp8gen.gemm picks."""
    a = random_fp8(m, k, FORMATS[a_fmt], generator)
    b = random_fp8(n, k, FORMATS[b_fmt], generator)
    dtype_a = scale_dtype if kind_a in ("group", "block") else "f32"
    dtype_b = scale_dtype if kind_b in ("group", "block") else "f32"
    sa = random_scales(kind_a, m, k, generator, dtype_a)
    sb = random_scales(kind_b, n, k, generator, dtype_b)
    out_dtype, tolerance = OUT[out_name]
    out = torch.full((m, n), float("nan"), dtype=out_dtype, device="cuda")
    if spec is None:
        fp8gen.gemm(a, b, sa, sb, out_dtype=out_dtype, out=out, split_k=split_k)
    else:
        fp8gen.compile(spec)(a, b, sa, sb, out=out, split_k=split_k)
    torch.cuda.synchronize()
    assert not torch.isnan(out).any(), "some output elements were not written"
    a64 = a.double() * expand_scale(sa, kind_a, m, k)
    b64 = b.double() * expand_scale(sb, kind_b, n, k)
    err = gemm_error(out, a64 @ b64.T, a64, b64)
    assert err <= tolerance, f"{kind_a} x {kind_b} {m}x{n}x{k}: relative error {err:.3e}"
