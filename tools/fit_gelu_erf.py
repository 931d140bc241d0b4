"""Fit the polynomial behind the fast erf-form gelu of 16-bit and FP8 outputs (epilogue_ops.cuh, GeluErfFn).

The kernel computes gelu(x) = x * Phi(x), Phi the standard normal CDF, as

    t = min(|x|, T),  gelu(x) = relu(x) - t * 2^p(t),  relu(x) = x / 2 + |x| / 2,

where p approximates log2(Phi(-t)) = log2(erfc(t / sqrt 2) / 2) on [0, T]: one exponential and a few FMAs
where erff takes ~25 instructions. Fitting the logarithm keeps the error relative in both tails (small
negative outputs stay accurate). Past T the term is T Phi(-T) instead of |x| Phi(-|x|) (T = 6: 5.9e-9, under
float32's rounding of x above T and within 6e-9 of gelu(x) below -T). This script fits p (near minimax, by
iteratively reweighted least squares in float64), rounds it to float32, evaluates it the way the kernel does
(float32 Horner with FMA) and prints the coefficients as C++ literals with the errors.

    python tools/fit_gelu_erf.py [--degree 6] [--limit 6]
"""

from __future__ import annotations

import argparse
import math

import torch

DEGREE = 6
LIMIT = 6.0


def log2_tail(t: float) -> float:
    """log2(Phi(-t)) in float64."""
    return math.log2(0.5 * math.erfc(t / math.sqrt(2.0)))


def fit(degree: int, limit: float, points: int = 20001, rounds: int = 60) -> list[float]:
    """Coefficients c[0..degree] of p(t) = sum c[i] t^i, near minimax on [0, limit], rounded to float32."""
    t = torch.linspace(0.0, limit, points, dtype=torch.float64)
    y = torch.tensor([log2_tail(v) for v in t.tolist()], dtype=torch.float64)
    powers = torch.arange(degree + 1, dtype=torch.float64)
    vander = (t / limit)[:, None] ** powers  # fitted on [0, 1] for conditioning
    weights = torch.ones_like(t)
    for _ in range(rounds):
        coeffs = torch.linalg.lstsq(vander * weights[:, None], (y * weights)[:, None]).solution[:, 0]
        error = (vander @ coeffs - y).abs()
        weights = weights * (error / error.max() + 1e-3).sqrt()
        weights = weights / weights.max()
    return (coeffs / limit ** powers).to(torch.float32).tolist()


def tail_float32(coeffs: list[float], t: torch.Tensor) -> torch.Tensor:
    """Phi(-t) = 2^p(t) as the kernel computes it: float32 Horner with fused multiply-adds, then the
    exponential (flushed to zero below 2^-126, as ex2.approx.ftz does)."""
    t32 = t.to(torch.float32).to(torch.float64)
    p = torch.full_like(t32, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        p = (p * t32 + c).to(torch.float32).to(torch.float64)  # the float64 product of float32s is exact
    q = torch.exp2(p)
    return torch.where(q < 2.0 ** -126, torch.zeros_like(q), q)


def gelu_float32(coeffs: list[float], x: torch.Tensor, limit: float) -> torch.Tensor:
    """gelu(x) = relu(x) - t 2^p(t) with t = min(|x|, limit) (the limit for NaN, as fminf gives), and
    relu(x) = x / 2 + |x| / 2 (NaN at NaN and at -inf, as torch's gelu)."""
    x = x.to(torch.float32).to(torch.float64)
    t = torch.nan_to_num(x.abs(), nan=limit).clamp(max=limit)
    relu = 0.5 * x + 0.5 * x.abs()
    return (relu - t * tail_float32(coeffs, t)).to(torch.float32).to(torch.float64)  # one float32 rounding (FMA)


def exact_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.special.erfc(-x / math.sqrt(2.0)) / 2


def errors(coeffs: list[float], limit: float, points: int = 200001) -> dict[str, float]:
    """Largest errors against float64: relative, of Phi(-t) on [0, limit) and of gelu(x) on (-limit, limit);
    past the limit (|x| up to 4x it), absolute."""
    t = torch.linspace(0.0, limit, points, dtype=torch.float64)[:-1]
    exact_tail = torch.special.erfc(t / math.sqrt(2.0)) / 2
    tail_error = (tail_float32(coeffs, t) - exact_tail).abs() / exact_tail
    x = torch.linspace(-limit, limit, points, dtype=torch.float64)[1:-1].to(torch.float32).to(torch.float64)
    x = x[x != 0]
    gelu_error = (gelu_float32(coeffs, x, limit) - exact_gelu(x)).abs() / exact_gelu(x).abs()
    beyond = torch.linspace(limit, 4 * limit, points, dtype=torch.float64)
    beyond = torch.cat([-beyond, beyond]).to(torch.float32).to(torch.float64)  # inputs the kernel can see
    beyond_error = (gelu_float32(coeffs, beyond, limit) - exact_gelu(beyond)).abs()
    return {"tail": tail_error.max().item(), "gelu": gelu_error.max().item(),
            "beyond": beyond_error.max().item()}


def hex_literal(value: float) -> str:
    """A C++17 float literal, exact: 0x1.00026p+0f."""
    mantissa, exponent = float(value).hex().split("p")
    return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}f"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--degree", type=int, default=DEGREE)
    parser.add_argument("--limit", type=float, default=LIMIT)
    args = parser.parse_args()
    coeffs = fit(args.degree, args.limit)
    print(", ".join(hex_literal(c) for c in coeffs))
    found = errors(coeffs, args.limit)
    print(f"max relative error: Phi(-t) {found['tail']:.2e}, gelu {found['gelu']:.2e}; "
          f"past the limit, absolute error {found['beyond']:.1e}")


if __name__ == "__main__":
    main()
