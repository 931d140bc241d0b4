"""torch.compile, CUDA graphs and FP8Linear on the GPU."""

from __future__ import annotations

import pytest
import torch

import fp8gen
from fp8gen.nn import FP8Linear
from tests.gpu.support import deepgemm_difference, random_fp8, random_scales

HIDDEN, FFN = 512, 1024


class MLP(torch.nn.Module):
    def __init__(self, up: torch.nn.Module, down: torch.nn.Module):
        super().__init__()
        self.up, self.down = up, down

    def forward(self, x):
        return self.down(self.up(x))


def bf16_mlp(generator) -> tuple[torch.nn.Linear, torch.nn.Linear]:
    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator, device="cuda").item()))
    up = torch.nn.Linear(HIDDEN, FFN, device="cuda", dtype=torch.bfloat16)
    down = torch.nn.Linear(FFN, HIDDEN, device="cuda", dtype=torch.bfloat16)
    return up, down


def fp8_mlp(up, down, recipe: str, quantize_output: bool = False) -> MLP:
    return MLP(FP8Linear.from_linear(up, recipe=recipe, activation="gelu", quantize_output=quantize_output),
               FP8Linear.from_linear(down, recipe=recipe))


@pytest.mark.parametrize("recipe", ["block", "channel"])
def test_fp8_linear_matches_nn_linear(recipe, generator):
    up, _ = bf16_mlp(generator)
    x = torch.randn(3, 100, HIDDEN, device="cuda", generator=generator).to(torch.bfloat16)
    reference = torch.nn.functional.gelu(up(x).float())
    out = FP8Linear.from_linear(up, recipe=recipe, activation="gelu")(x)
    assert out.shape == reference.shape and out.dtype == torch.bfloat16
    assert deepgemm_difference(out, reference) <= 1e-3  # one FP8 GEMM: DeepGEMM's bound


@pytest.mark.parametrize("recipe,quantize_output", [("block", False), ("block", True), ("channel", False)])
def test_fp8_mlp_matches_bf16_mlp(recipe, quantize_output, generator):
    up, down = bf16_mlp(generator)
    x = torch.randn(3, 100, HIDDEN, device="cuda", generator=generator).to(torch.bfloat16)
    reference = down(torch.nn.functional.gelu(up(x).float()).to(torch.bfloat16))
    out = fp8_mlp(up, down, recipe, quantize_output)(x)
    assert out.shape == reference.shape and out.dtype == torch.bfloat16
    assert deepgemm_difference(out, reference) <= 2.5e-3  # two FP8 GEMMs in a row


@pytest.mark.parametrize("recipe", ["block", "channel"])
def test_torch_compile_fullgraph_matches_eager(recipe, generator):
    up, down = bf16_mlp(generator)
    model = fp8_mlp(up, down, recipe)
    compiled = torch.compile(model, fullgraph=True)
    for rows in (64, 200):
        x = torch.randn(rows, HIDDEN, device="cuda", generator=generator).to(torch.bfloat16)
        eager, traced = model(x), compiled(x)
        assert deepgemm_difference(traced, eager) <= 1e-5, "compiled quantization differs from eager beyond rounding"


@pytest.mark.parametrize("recipe", ["block", "channel"])
def test_bias_free_layer_runs_the_plain_op_eager_compiled_and_in_a_graph(recipe, generator):
    linear = torch.nn.Linear(HIDDEN, FFN, bias=False, device="cuda", dtype=torch.bfloat16)
    layer = FP8Linear.from_linear(linear, recipe=recipe)
    x = torch.randn(64, HIDDEN, device="cuda", generator=generator).to(torch.bfloat16)
    eager = layer(x)
    assert deepgemm_difference(eager, linear(x).float()) <= 1e-3
    xq, x_scale = fp8gen.quantize(x, "group" if recipe == "block" else "row")
    direct = fp8gen.gemm(xq, layer.weight, x_scale, layer.weight_scale)
    assert torch.equal(eager, direct), "torch.ops.fp8gen.scaled_mm is fp8gen.gemm"
    assert deepgemm_difference(torch.compile(layer, fullgraph=True)(x), eager) <= 1e-5  # (as for the MLP above)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = layer(x)
    x.copy_(torch.randn(64, HIDDEN, device="cuda", generator=generator))
    graph.replay()
    assert torch.equal(y, layer(x))


def test_cuda_graph_replays_with_changing_inputs_match_eager(generator):
    up, down = bf16_mlp(generator)
    model = fp8_mlp(up, down, "block", quantize_output=True)
    x = torch.randn(96, HIDDEN, device="cuda", generator=generator).to(torch.bfloat16)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        model(x)  # warm-up: compile/load outside the capture
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = model(x)
    for _ in range(100):
        x.copy_(torch.randn(96, HIDDEN, device="cuda", generator=generator))
        graph.replay()
        assert torch.equal(y, model(x))


def test_op_is_consistent_with_its_fake(generator):
    a = random_fp8(200, 256, torch.float8_e4m3fn, generator)
    b = random_fp8(136, 256, torch.float8_e4m3fn, generator)
    sa, sb = random_scales("group", 200, 256, generator), random_scales("block", 136, 256, generator)
    bias = torch.randn(136, device="cuda", generator=generator).to(torch.bfloat16)
    args = (a, b, sa, sb, torch.bfloat16, bias, None, 0.5, 1.0, "silu", None, 0)
    before = [t.clone() for t in (a, b, sa, sb, bias)]
    # opcheck's test_schema compares inputs with allclose, which FP8 tensors lack: the schema's promise
    # that no input is written is checked bitwise here instead.
    torch.library.opcheck(torch.ops.fp8gen.gemm, args, test_utils=("test_faketensor",))
    torch.library.opcheck(torch.ops.fp8gen.scaled_mm, args[:5], test_utils=("test_faketensor",))
    for old, new in zip(before, (a, b, sa, sb, bias)):
        assert torch.equal(old.view(torch.uint8), new.view(torch.uint8))
    d, scales = torch.ops.fp8gen.gemm_requantize(a, b, sa, sb, torch.float8_e4m3fn, bias, "gelu", "1x128")
    direct, direct_scales = fp8gen.gemm(a, b, sa, sb, bias=bias, activation="gelu", out_dtype=torch.float8_e4m3fn,
                                        requantize="1x128")
    assert torch.equal(d.view(torch.uint8), direct.view(torch.uint8)) and torch.equal(scales, direct_scales)
    assert scales.stride() == direct_scales.stride()


def test_op_rejects_bad_arguments_on_the_gpu(generator):
    # The CUDA implementation checks nothing itself: fp8gen.gemm's first call with these arguments does.
    a = random_fp8(64, 256, torch.float8_e4m3fn, generator)
    b = random_fp8(128, 256, torch.float8_e4m3fn, generator)
    sa, sb = torch.ones((), device="cuda"), torch.ones((), device="cuda")
    with pytest.raises(fp8gen.InputError, match="activation='tanh' is invalid"):
        torch.ops.fp8gen.gemm(a, b, sa, sb, torch.bfloat16, None, None, 1.0, 1.0, "tanh", None, 0)
    with pytest.raises(fp8gen.InputError, match="their K \\(dim 1\\) must agree"):
        torch.ops.fp8gen.gemm(a, b[:, :128], sa, sb, torch.bfloat16, None, None, 1.0, 1.0, "", None, 0)
    with pytest.raises(fp8gen.InputError, match="requantize needs an FP8 out_dtype"):
        torch.ops.fp8gen.gemm_requantize(a, b, sa, sb, torch.bfloat16, None, "", "1x128")
