"""The fused epilogue chain against a float64 reference of the dequantized operands on fresh random data."""

from __future__ import annotations

import math

import pytest
import torch

import fp8gen
from fp8gen import GemmSpec, InputError
from fp8gen.epilogue import EpilogueOp
from fp8gen.checks import VECTOR_DTYPES
from fp8gen.heuristics import tail_split
from tests.gpu.support import OUT, expand_scale, gemm_error, random_fp8, random_scales

M, N, K = 200, 264, 512  # M and N off the 128 tile grid
VECTOR = VECTOR_DTYPES
FP8_OUT = {"e4m3": (torch.float8_e4m3fn, 448.0, 3, -9), "e5m2": (torch.float8_e5m2, 57344.0, 2, -16)}
ACTIVATIONS = {
    "relu": lambda x: torch.relu(x),
    "gelu": lambda x: torch.nn.functional.gelu(x),
    "gelu_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda x: torch.nn.functional.silu(x),
}


def spec(out="bf16", epilogue=(), scale_a="tensor", scale_b="tensor", tile=(128, 128, 128)):
    # One promotion interval for every output type, so an f32 twin computes the same fp32 values.
    return GemmSpec(out=out, epilogue=tuple(epilogue), scale_a=scale_a, scale_b=scale_b, tile=tile,
                    promotion_interval=128)


SINGLE_OPS = {
    "alpha": ["alpha"],
    "bias_column_bf16": [{"op": "bias", "axis": "column", "dtype": "bf16"}],
    "bias_column_f32": [{"op": "bias", "axis": "column", "dtype": "f32"}],
    "bias_row_f16": [{"op": "bias", "axis": "row", "dtype": "f16"}],
    "residual_bf16": [{"op": "residual", "dtype": "bf16"}],
    "residual_f32": [{"op": "residual", "dtype": "f32"}],
    "relu": ["relu"], "gelu": ["gelu"], "gelu_tanh": ["gelu_tanh"], "silu": ["silu"],
    "clamp": [{"op": "clamp", "lo": -2.5, "hi": 1.75}],
}
CHAINS = {
    "alpha_bias_gelu": ["alpha", "bias", "gelu"],
    "residual_silu": [{"op": "residual", "dtype": "bf16"}, "silu"],
    "bias_relu_residual_clamp": ["bias", "relu", {"op": "residual", "dtype": "f32"}, {"op": "clamp", "lo": 0, "hi": 3.0}],
}

WIDE = (128, 192, 128)  # the prefill tile of per-tensor / per-row GEMMs without a residual (one promoted partial)
WIDE_TILES = [WIDE, (128, 176, 128)]  # (176: per-tensor scales, where its waves fit better)
WIDE_CHAINS = {
    "alpha_bias_gelu_clamp": ["alpha", "bias", "gelu", {"op": "clamp", "lo": -2.5, "hi": 1.75}],
    "row_bias_silu": [{"op": "bias", "axis": "row", "dtype": "f16"}, "silu"],
}

# Deferred epilogues: a CTA runs a finished tile's chain while its next tile's first MMA batch is in flight
# (one-partial tiles with per-tensor scales, 16-bit or FP8 outputs, chains without residual or erf gelu,
# next tile of >= 8 K blocks). More tiles than SMs (132 on H100 / H200) and no split, so most CTAs defer.
DEFER_M, DEFER_N, DEFER_K = 2200, 1544, 1104  # 18 x 9 tiles of 128x192 (both edges partial), 9 K blocks
DEFER_CHAINS = {
    "bias_gelu_tanh": ["bias", "gelu_tanh"],
    "bias_f32_silu": [{"op": "bias", "axis": "column", "dtype": "f32"}, "silu"],
    "alpha_bias_relu": ["alpha", "bias", "relu"],
}
# The column bias is copied into shared memory per tile: whole pairs asynchronously where it is contiguous
# and pair-aligned, element by element otherwise.
BIAS_LAYOUTS = ("contiguous", "strided", "misaligned")


def kernel_specs() -> list[GemmSpec]:
    chains = list(SINGLE_OPS.values()) + list(CHAINS.values())
    return ([spec(out, chain) for chain in chains for out in OUT]
            + [spec(fmt, ["bias", "gelu", "amax"]) for fmt in FP8_OUT]
            + [spec("f32", ["bias", "gelu", "amax"]), spec("f32", ["bias", "gelu"])]
            + [spec("f32", ["bias", "relu"])]
            + [spec(fmt, ["bias", "relu", {"op": "group_quantize", "dtype": d}]) for fmt in FP8_OUT
               for d in ("f32", "ue8m0")]
            + [spec(out, chain, tile=tile) for chain in WIDE_CHAINS.values() for out in OUT for tile in WIDE_TILES]
            + [spec(out, ["bias", "gelu", "amax"], tile=WIDE) for out in ("e4m3", "f32")]
            + [spec("bf16", chain, tile=tile) for chain in DEFER_CHAINS.values() for tile in WIDE_TILES])


class Problem:
    """Random operands, scales and epilogue inputs, with float64 references of every chain op."""

    def __init__(self, generator, m=M, n=N, k=K, kind_a="tensor", kind_b="tensor", output_rms=None):
        """output_rms (per-tensor scales only): scale the operands so the GEMM's outputs have this rms,
        e.g. ~2, where relu, gelu and silu differ from each other and from the identity."""
        self.m, self.n, self.k = m, n, k
        self.kind_a, self.kind_b = kind_a, kind_b
        self.a = random_fp8(m, k, torch.float8_e4m3fn, generator)
        self.b = random_fp8(n, k, torch.float8_e4m3fn, generator)
        self.sa = random_scales(kind_a, m, k, generator)
        self.sb = random_scales(kind_b, n, k, generator)
        self._dequantize()
        if output_rms is not None:
            assert kind_a == kind_b == "tensor"
            factor = math.sqrt(output_rms / self.acc.pow(2).mean().sqrt().item())
            self.sa, self.sb = self.sa * factor, self.sb * factor
            self._dequantize()
        self.alpha = 0.75
        self.beta = -0.5
        self.generator = generator
        self.typical = self.acc.abs().mean().item()

    def _dequantize(self):
        self.a64 = self.a.double() * expand_scale(self.sa, self.kind_a, self.m, self.k)
        self.b64 = self.b.double() * expand_scale(self.sb, self.kind_b, self.n, self.k)
        self.acc = self.a64 @ self.b64.T

    def vector(self, length: int, dtype: torch.dtype) -> torch.Tensor:
        return (torch.randn(length, device="cuda", generator=self.generator) * self.typical).to(dtype)

    def matrix(self, dtype: torch.dtype) -> torch.Tensor:
        return (torch.randn(self.m, self.n, device="cuda", generator=self.generator) * self.typical).to(dtype)

    def run(self, chain: list, out_name: str, tile=(128, 128, 128), **call):
        """Kernel arguments and float64 reference for `chain`; returns (kernel result, reference)."""
        x = self.acc.clone()
        for op in (EpilogueOp.parse(o) for o in chain):
            if op.op == "alpha":
                call.setdefault("alpha", self.alpha)
                x = x * self.alpha
            elif op.op == "bias":
                length = self.n if op.axis == "column" else self.m
                bias = call.setdefault("bias", self.vector(length, VECTOR[op.dtype]))
                x = x + (bias.double().reshape(1, -1) if op.axis == "column" else bias.double().reshape(-1, 1))
            elif op.op == "residual":
                residual = call.setdefault("residual", self.matrix(VECTOR[op.dtype]))
                call.setdefault("beta", self.beta)
                x = x + call["beta"] * residual.double()
            elif op.op == "clamp":
                x = x.clamp(op.lo, op.hi)
            elif op.op == "gelu":
                x = ACTIVATIONS["gelu" if op.approximate == "none" else "gelu_tanh"](x)
            elif op.op in ACTIVATIONS:
                x = ACTIVATIONS[op.op](x)
        kernel = fp8gen.compile(spec(out_name, chain, self.kind_a, self.kind_b, tile))
        return kernel(self.a, self.b, self.sa, self.sb, **call), x

    def error(self, out: torch.Tensor, ref: torch.Tensor) -> float:
        return gemm_error(out, ref, self.a64, self.b64)


def nan_output(m, n, dtype):
    return torch.full((m, n), float("nan"), dtype=torch.float32, device="cuda").to(dtype)


@pytest.mark.parametrize("name", list(SINGLE_OPS) + list(CHAINS))
@pytest.mark.parametrize("out_name", list(OUT))
def test_chain_matches_float64_reference(name, out_name, generator):
    chain = {**SINGLE_OPS, **CHAINS}[name]
    p = Problem(generator, output_rms=2.0)  # a relu where gelu belongs is off by ~5% here (0.002% at rms 300)
    dtype, tolerance = OUT[out_name]
    out = nan_output(M, N, dtype)
    result, ref = p.run(chain, out_name, out=out)
    torch.cuda.synchronize()
    assert result is out
    assert not torch.isnan(out).any(), "some output elements were not written"
    err = p.error(out, ref)
    assert err <= tolerance, f"{name} -> {out_name}: relative error {err:.3e}"


@pytest.mark.parametrize("name", list(CHAINS))
@pytest.mark.parametrize("out_name", list(OUT))
def test_chain_after_a_split_tail(name, out_name, generator):
    # Whole tiles fill one wave; the few tiles left are split in K (heuristics.tail_split) and only the
    # last split of each runs the chain, after summing the partials.
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    m, n, k = 300, (sms // 3 + 1) * 128 - 20, 128 * 40 + 48
    assert tail_split(m, n, k, (128, 128, 128), sms).splits > 1
    p = Problem(generator, m, n, k, output_rms=2.0)
    dtype, tolerance = OUT[out_name]
    out = nan_output(m, n, dtype)
    _, ref = p.run(CHAINS[name], out_name, out=out)
    torch.cuda.synchronize()
    assert not torch.isnan(out).any(), "some output elements were not written"
    err = p.error(out, ref)
    assert err <= tolerance, f"{name} -> {out_name} with a split tail: relative error {err:.3e}"


def test_alpha_from_a_device_scalar_and_residual_aliasing_the_output(generator):
    p = Problem(generator)
    alpha = torch.tensor([1.25], device="cuda")
    c = p.matrix(torch.bfloat16)
    ref = (p.acc * 1.25 + 2.0 * c.double())
    out = c.clone()
    kernel = fp8gen.compile(spec("bf16", ["alpha", {"op": "residual", "dtype": "bf16"}]))
    kernel(p.a, p.b, p.sa, p.sb, out=out, alpha=alpha, residual=out, beta=2.0)
    torch.cuda.synchronize()
    assert p.error(out, ref) <= 4e-3


def _fp8_tolerance(ref: torch.Tensor, scale, mantissa_bits: int, min_exponent: int, magnitude=None) -> torch.Tensor:
    """One rounding step of the format (relative for normals, absolute in the subnormal range) plus the
    fp32 GEMM's own error before the cast (1e-3 of the output's rms: elements that cancel to near zero
    carry the accumulation error of terms hundreds of times larger; `magnitude` is that rms where a clamp
    hides it). Rounding gives at most half a step."""
    scale = scale if isinstance(scale, torch.Tensor) else torch.tensor(scale, dtype=torch.float64, device=ref.device)
    magnitude = ref.pow(2).mean().sqrt() if magnitude is None else magnitude
    return ref.abs() * 2.0 ** -mantissa_bits + scale * 2.0 ** min_exponent + 1e-3 * magnitude


@pytest.mark.parametrize("tile", WIDE_TILES, ids=lambda t: f"{t[0]}x{t[1]}")
@pytest.mark.parametrize("name", list(WIDE_CHAINS))
@pytest.mark.parametrize("out_name", list(OUT))
def test_wide_tile_chain_matches_float64_reference(name, out_name, tile, generator):
    p = Problem(generator, output_rms=2.0)
    dtype, tolerance = OUT[out_name]
    out = nan_output(M, N, dtype)
    result, ref = p.run(WIDE_CHAINS[name], out_name, tile=tile, out=out)
    torch.cuda.synchronize()
    assert result is out and not torch.isnan(out).any(), "some output elements were not written"
    err = p.error(out, ref)
    assert err <= tolerance, f"{name} -> {out_name} on {tile}: relative error {err:.3e}"


def bias_in_layout(p: Problem, layout: str, length: int, dtype: torch.dtype) -> torch.Tensor:
    if layout == "contiguous":
        return p.vector(length, dtype)
    if layout == "strided":
        return p.vector(2 * length, dtype)[::2]
    return p.vector(length + 1, dtype)[1:]  # one element past an aligned base: no pair is one aligned load


@pytest.mark.parametrize("out_dtype, rounding", [(torch.float16, 2.0 ** -11), (torch.bfloat16, 2.0 ** -8)],
                         ids=["f16", "bf16"])
def test_erf_gelu_fast_form_is_accurate_in_both_tails(out_dtype, rounding, generator):
    """16-bit outputs take the fitted erf gelu (relative error <= 4.9e-5, tools/fit_gelu_erf.py): every
    element within a rounding of the output type of the float64 reference plus that error, including the
    small negative outputs that a tanh-based form would get wrong by ~2^-11 of |x|; past |x| = 6 it is
    relu(x) - 5.9e-9. Small integer operands and power-of-two scales make the GEMM itself exact
    (every 128-term partial sum is an integer of at most 2^11), so only the activation can err."""
    m, n, k = 200, 264, 512
    a = torch.randint(-4, 5, (m, k), device="cuda", generator=generator).float().to(torch.float8_e4m3fn)
    b = torch.randint(-4, 5, (n, k), device="cuda", generator=generator).float().to(torch.float8_e4m3fn)
    sa = sb = torch.tensor([2.0 ** -3], device="cuda")
    out = fp8gen.gemm(a, b, sa, sb, activation="gelu", out_dtype=out_dtype)
    torch.cuda.synchronize()
    x = (a.double() @ b.double().T) * 2.0 ** -6
    assert (x < -6).any() and (x > 6).any() and ((x > -6) & (x < -3)).any()
    ref = torch.nn.functional.gelu(x)
    tolerance = (rounding + 6e-5) * ref.abs() + 2.0 ** -25  # (float16 subnormals and the 5.9e-9: absolute)
    excess = (out.double() - ref).abs() - tolerance
    assert excess.max().item() <= 0, f"worst element off by {excess.max().item():.3e} beyond the tolerance"


@pytest.mark.parametrize("tile", WIDE_TILES, ids=lambda t: f"{t[0]}x{t[1]}")
@pytest.mark.parametrize("name", list(DEFER_CHAINS))
def test_deferred_chain_matches_float64_reference(name, tile, generator):
    p = Problem(generator, DEFER_M, DEFER_N, DEFER_K, output_rms=2.0)
    out = nan_output(DEFER_M, DEFER_N, torch.bfloat16)
    _, ref = p.run(DEFER_CHAINS[name], "bf16", tile=tile, out=out, split_k=1)
    torch.cuda.synchronize()
    assert not torch.isnan(out).any(), "some output elements were not written"
    err = p.error(out, ref)
    assert err <= OUT["bf16"][1], f"{name} on {tile}, deferred: relative error {err:.3e}"


@pytest.mark.parametrize("tile", WIDE_TILES, ids=lambda t: f"{t[0]}x{t[1]}")
@pytest.mark.parametrize("layout", BIAS_LAYOUTS)
@pytest.mark.parametrize("dtype_name", ["bf16", "f32"])
def test_column_bias_in_any_layout(layout, dtype_name, tile, generator):
    p = Problem(generator, DEFER_M, DEFER_N, DEFER_K, output_rms=2.0)
    chain = [{"op": "bias", "axis": "column", "dtype": dtype_name}, "silu"] if dtype_name == "f32" else ["bias", "gelu_tanh"]
    bias = bias_in_layout(p, layout, DEFER_N, VECTOR[dtype_name])
    out = nan_output(DEFER_M, DEFER_N, torch.bfloat16)
    _, ref = p.run(chain, "bf16", tile=tile, out=out, bias=bias, split_k=1)
    torch.cuda.synchronize()
    assert not torch.isnan(out).any(), "some output elements were not written"
    err = p.error(out, ref)
    assert err <= OUT["bf16"][1], f"{layout} {dtype_name} bias on {tile}: relative error {err:.3e}"


@pytest.mark.parametrize("fmt,tile", [("e4m3", (128, 128, 128)), ("e5m2", (128, 128, 128)), ("e4m3", WIDE)])
def test_fp8_output_with_out_scale_and_exact_amax(fmt, tile, generator):
    dtype, fp8_max, mantissa_bits, min_exponent = FP8_OUT[fmt]
    p = Problem(generator)
    chain = ["bias", "gelu", "amax"]
    bias = p.vector(N, torch.bfloat16)
    out_scale = p.acc.abs().max().item() / (0.7 * fp8_max)
    amax = torch.full((1,), float("nan"), device="cuda")
    out = nan_output(M, N, dtype)
    _, ref = p.run(chain, fmt, tile=tile, out=out, bias=bias, out_scale=torch.tensor([out_scale], device="cuda"),
                   amax_out=amax)
    twin = nan_output(M, N, torch.float32)
    twin_amax = torch.zeros(1, device="cuda")
    p.run(chain, "f32", tile=tile, out=twin, bias=bias, amax_out=twin_amax)
    torch.cuda.synchronize()
    assert not torch.isnan(out.float()).any(), "some output elements were not written"
    dequantized = out.double() * out_scale
    excess = (dequantized - ref).abs() - _fp8_tolerance(ref, out_scale, mantissa_bits, min_exponent)
    assert excess.max().item() <= 0, f"{fmt}: an element is off by more than one FP8 step"
    # amax is max |x| of the values before the cast: exactly the f32 twin's
    assert amax.item() == twin.abs().max().item() == twin_amax.item()
    assert math.isclose(amax.item(), ref.abs().max().item(), rel_tol=1e-3)


@pytest.mark.parametrize("fmt", list(FP8_OUT))
def test_fp8_output_saturates(fmt, generator):
    dtype, fp8_max, _, _ = FP8_OUT[fmt]
    p = Problem(generator)
    out_scale = p.acc.abs().max().item() / (4 * fp8_max)
    bias = torch.zeros(N, dtype=torch.bfloat16, device="cuda")
    out, ref = p.run(["bias", "gelu", "amax"], fmt, bias=bias, out_scale=out_scale, amax_out=torch.zeros(1, device="cuda"))
    torch.cuda.synchronize()
    big = ref / out_scale > fp8_max * 1.1
    assert big.any()
    assert (out.float()[big] == fp8_max).all()
    assert torch.isfinite(out.float()).all()


@pytest.mark.parametrize("fmt", list(FP8_OUT))
@pytest.mark.parametrize("scale_dtype", ["f32", "ue8m0"])
def test_group_requantization(fmt, scale_dtype, generator):
    dtype, fp8_max, mantissa_bits, min_exponent = FP8_OUT[fmt]
    p = Problem(generator)
    # relu: the same code for every output type. (gelu, gelu_tanh and silu take their fast forms for FP8
    # outputs, not for the float32 twin below, whose values must be the FP8 kernel's before the cast.)
    chain = ["bias", "relu", {"op": "group_quantize", "dtype": scale_dtype}]
    bias = p.vector(N, torch.bfloat16)
    (out, scales), ref = p.run(chain, fmt, out=nan_output(M, N, dtype), bias=bias)
    twin, _ = p.run(["bias", "relu"], "f32", bias=bias)
    torch.cuda.synchronize()
    groups = -(-N // 128)
    assert scales.shape == (M, groups) and scales.stride(0) == 1, "scales come rows-contiguous (gemm's A layout)"
    # Scales: amax of each 1x128 group of the pre-quantization values / FP8 max (power of two rounded up for UE8M0)
    padded = torch.nn.functional.pad(twin, (0, groups * 128 - N)).view(M, groups, 128)
    expected = padded.abs().amax(dim=2) / fp8_max
    expected = torch.where(expected > 0, expected, torch.ones_like(expected))
    if scale_dtype == "ue8m0":
        expected = torch.exp2(torch.ceil(torch.log2(expected)))
    # (a few ulps: ptxas may contract the chain's fp32 arithmetic differently in the two kernels)
    torch.testing.assert_close(scales.float(), expected, rtol=4e-7, atol=0)
    expanded = scales.double().repeat_interleave(128, dim=1)[:, :N]
    dequantized = out.double() * expanded
    excess = (dequantized - ref).abs() - _fp8_tolerance(ref, expanded, mantissa_bits, min_exponent)
    assert excess.max().item() <= 0, f"{fmt}/{scale_dtype}: an element is off by more than one FP8 step"
    if scale_dtype == "ue8m0":  # dividing by a power of two is exact: bit-identical to quantizing the twin
        assert torch.equal(out.view(torch.uint8), (twin / expanded.float()).to(dtype).view(torch.uint8))


@pytest.mark.parametrize("m", [64, 256])
@pytest.mark.parametrize("kind_b", ["block", "group"])
def test_gemm_api_chain_and_requantized_output_feed_the_next_gemm(generator, kind_b, m):
    p = Problem(generator, m=m, n=384, k=512, kind_a="group", kind_b=kind_b)
    bias = p.vector(384, torch.float32)
    d, scales = fp8gen.gemm(p.a, p.b, p.sa, p.sb, bias=bias, activation="gelu", out_dtype=torch.float8_e4m3fn,
                            requantize="1x128")
    ref = torch.nn.functional.gelu(p.acc + bias.double())
    expanded = scales.double().repeat_interleave(128, dim=1)
    # Group and block scales give rows of very different size, so the global rms in _fp8_tolerance does not
    # bound the accumulation error of an element that cancels to near zero; its terms' magnitudes do: the
    # worst of 1000 random problems was 2^-13 of them (H100, 2026-12-05).
    accumulation = 2.0 ** -11 * (p.a64.abs() @ p.b64.abs().T)
    excess = (d.double() * expanded - ref).abs() - _fp8_tolerance(ref, expanded, 3, -9) - accumulation
    assert excess.max().item() <= 0
    # Layer i's output is layer i+1's A, with its 1x128 scales as they come.
    w = random_fp8(128, 384, torch.float8_e4m3fn, generator)
    sw = random_scales("block", 128, 384, generator)
    y = fp8gen.gemm(d, w, scales, sw, out_dtype=torch.float32)
    ref_y = (d.double() * expanded) @ (w.double() * expand_scale(sw, "block", 128, 384)).T
    torch.cuda.synchronize()
    assert gemm_error(y, ref_y, d.double() * expanded, w.double() * expand_scale(sw, "block", 128, 384)) <= 2e-4


def test_gemm_api_fp8_output_with_amax(generator):
    p = Problem(generator)
    residual = p.matrix(torch.bfloat16)
    amax = torch.zeros(1, device="cuda")
    out = fp8gen.gemm(p.a, p.b, p.sa, p.sb, alpha=0.5, residual=residual, beta=1.0, activation=("clamp", -900, 900),
                      out_dtype=torch.float8_e5m2, out_scale=4.0, amax_out=amax)
    unclamped = p.acc * 0.5 + residual.double()
    ref = unclamped.clamp(-900, 900)
    torch.cuda.synchronize()
    tolerance = _fp8_tolerance(ref, 4.0, 2, -16, magnitude=unclamped.pow(2).mean().sqrt())
    assert ((out.double() * 4.0 - ref).abs() - tolerance).max().item() <= 0
    assert math.isclose(amax.item(), ref.abs().max().item(), rel_tol=1e-3)


@pytest.mark.parametrize("case,call,message", [
    ("missing bias", {}, "pass bias="),
    ("bias length", {"bias": ("cuda", (N + 1,), torch.bfloat16)}, "needs (264,)"),
    ("bias dtype", {"bias": ("cuda", (N,), torch.float16)}, "reads torch.bfloat16"),
    ("bias device", {"bias": ("cpu", (N,), torch.bfloat16)}, "expected cuda"),
    ("unused residual", {"bias": ("cuda", (N,), torch.bfloat16), "residual": ("cuda", (M, N), torch.bfloat16)},
     "no 'residual' op"),
    ("unused out_scale", {"bias": ("cuda", (N,), torch.bfloat16), "out_scale": 2.0}, "out_scale applies to FP8"),
    ("alpha tensor dtype", {"bias": ("cuda", (N,), torch.bfloat16), "alpha": ("cuda", (1,), torch.float16)},
     "one-element torch.float32"),
])
def test_bad_epilogue_arguments_are_rejected(case, call, message, generator):
    p = Problem(generator)
    kernel = fp8gen.compile(spec("bf16", ["alpha", "bias", "gelu"]))
    args = {name: (torch.zeros(v[1], dtype=v[2], device=v[0]) if isinstance(v, tuple) else v) for name, v in call.items()}
    with pytest.raises(InputError, match=None) as info:
        kernel(p.a, p.b, p.sa, p.sb, **args)
    assert message in str(info.value), f"{case}: {info.value}"


def test_bad_residual_shape_and_gemm_arguments_are_rejected(generator):
    p = Problem(generator)
    with pytest.raises(InputError, match=r"residual has shape \(200, 263\)"):
        fp8gen.gemm(p.a, p.b, p.sa, p.sb, residual=torch.zeros(M, N - 1, dtype=torch.bfloat16, device="cuda"))
    with pytest.raises(InputError, match="activation='tanh' is invalid"):
        fp8gen.gemm(p.a, p.b, p.sa, p.sb, activation="tanh")
    with pytest.raises(InputError, match="requantize needs an FP8 out_dtype"):
        fp8gen.gemm(p.a, p.b, p.sa, p.sb, requantize="1x128")
    with pytest.raises(InputError, match="amax_out must be a one-element torch.float32"):
        fp8gen.gemm(p.a, p.b, p.sa, p.sb, amax_out=torch.zeros(2, device="cuda"))
