"""The ping-pong schedule (two consumer warpgroups alternating whole 64-row tiles) against float64."""

from __future__ import annotations

import pytest
import torch

import fp8gen
from fp8gen import GemmSpec, ScaleRecipe
from tests.gpu.support import check_recipe_gemm, gemm_error, random_fp8

PAIRS = [("tensor", "tensor"), ("row", "row"), ("group", "block"), ("group", "group")]


def pingpong_spec(kind_a, kind_b, out="bf16", width=128, accumulation="promoted"):
    return GemmSpec(out=out, scale_a=ScaleRecipe(kind_a), scale_b=ScaleRecipe(kind_b), tile=(64, width, 128),
                    schedule="pingpong", accumulation=accumulation)


def kernel_specs() -> list[GemmSpec]:
    return ([pingpong_spec(a, b, out) for a, b in PAIRS for out in ("bf16", "f32")]
            + [pingpong_spec("row", "row", width=192), pingpong_spec("tensor", "tensor", width=256,
                                                                      accumulation="fast")])


@pytest.mark.parametrize("kind_a,kind_b", PAIRS)
@pytest.mark.parametrize("out_name", ["bf16", "f32"])
# one tile (the second consumer idles), two, an odd count, and many tiles per CTA; K blocks 1, 2, 5, 7
@pytest.mark.parametrize("m,n,k", [(50, 100, 128), (64, 256, 256), (130, 300, 640), (2000, 1500, 784)])
def test_pingpong_recipes(kind_a, kind_b, out_name, m, n, k, generator):
    spec = pingpong_spec(kind_a, kind_b, out_name)
    check_recipe_gemm(m, n, k, "e4m3", "e4m3", kind_a, kind_b, out_name, generator, spec=spec)


@pytest.mark.parametrize("spec", [pingpong_spec("row", "row", width=192),
                                  pingpong_spec("tensor", "tensor", width=256, accumulation="fast")],
                         ids=lambda s: s.name)
def test_pingpong_wide_tiles(spec, generator):
    kind_a, kind_b = spec.scale_a.kind, spec.scale_b.kind
    check_recipe_gemm(1000, 1000, 1024, "e4m3", "e4m3", kind_a, kind_b, "bf16", generator, spec=spec)


def test_pingpong_with_epilogue_chain_and_no_split_k(generator):
    spec = GemmSpec(tile=(64, 128, 128), schedule="pingpong", epilogue=["bias", "gelu_tanh"])
    a = random_fp8(300, 512, torch.float8_e4m3fn, generator)
    b = random_fp8(520, 512, torch.float8_e4m3fn, generator)
    # Outputs of rms ~2 (operands of rms 4, K = 512) and a bias of the same size, so that a lost bias or
    # a wrong activation shows.
    scale = (2 / (16 * 512 ** 0.5)) ** 0.5
    sa, sb = torch.full((1,), scale, device="cuda"), torch.full((1,), scale, device="cuda")
    bias = (torch.randn(520, device="cuda", generator=generator) * 2).to(torch.bfloat16)
    out = torch.full((300, 520), float("nan"), dtype=torch.bfloat16, device="cuda")
    fp8gen.compile(spec)(a, b, sa, sb, bias=bias, out=out)
    a64, b64 = a.double() * scale, b.double() * scale
    ref = torch.nn.functional.gelu(a64 @ b64.T + bias.double(), approximate="tanh")
    torch.cuda.synchronize()
    assert not torch.isnan(out).any(), "some output elements were not written"
    assert gemm_error(out, ref, a64, b64) <= 4e-3
    with pytest.raises(fp8gen.InputError, match="ping-pong kernels do not split K"):
        fp8gen.compile(spec)(a, b, sa, sb, bias=bias, split_k=2)
