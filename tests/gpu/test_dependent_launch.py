"""Programmatic dependent launch: back-to-back kernels, each reading the previous one's output with no
synchronization in between, eagerly and in a CUDA graph (runtime._launch_attributes, gemm_sm90.cuh)."""

import pytest
import torch

import fp8gen

from .support import random_fp8

M, K = 64, 1024
LAYERS = 4
E4M3 = torch.float8_e4m3fn


def fill_nan(buffer):
    buffer.view(torch.uint8).fill_(0x7F)  # e4m3fn NaN


def layer_chain(x0, weights, scale_b, buffers, splits):
    """x_{i+1} = e4m3((x_i @ w_i^T) * scale_b) into buffers[i]: every GEMM's A is the previous GEMM's output."""
    one = torch.ones(1, device="cuda")
    x = x0
    for w, out, split in zip(weights, buffers, splits):
        x = fp8gen.gemm(x, w, one, scale_b, out_dtype=E4M3, out=out, split_k=split)
    return buffers


def assert_each_layer_used_the_previous_output(x0, weights, scale_b, outputs):
    """Each layer's output against the float64 product of the input it should have read (the previous
    output, NaN until written): one e4m3 rounding step of tolerance; a layer that read its input before the
    previous kernel wrote it sees NaN or stale values."""
    x = x0
    for layer, (w, out) in enumerate(zip(weights, outputs)):
        ref = (x.double() @ w.double().T) * scale_b.double()
        got = out.double()
        assert not torch.isnan(got).any(), f"layer {layer}: NaN in the output (an input read before it was written)"
        error = (torch.linalg.vector_norm(got - ref.clamp(-448, 448)) / torch.linalg.vector_norm(ref)).item()
        assert error <= 0.04, f"layer {layer}: relative error {error:.3e}"
        x = out


@pytest.mark.parametrize("splits", [(None,) * LAYERS, (4, None, 4, 1)], ids=["default", "split-k"])
def test_back_to_back_gemms_read_what_the_previous_one_wrote(generator, splits):
    weights = [random_fp8(K, K, E4M3, generator) for _ in range(LAYERS)]
    # Keeps the outputs' spread near the inputs' (std ~4): the sum of K products of two std-4 values, / (4 sqrt(K)).
    scale_b = torch.full((1,), 1 / (4 * K**0.5), device="cuda")
    buffers = [torch.empty((M, K), dtype=E4M3, device="cuda") for _ in range(LAYERS)]
    for buffer in buffers:
        fill_nan(buffer)
    assert torch.isnan(buffers[0].float()).all()

    x0 = random_fp8(M, K, E4M3, generator)
    layer_chain(x0, weights, scale_b, buffers, splits)
    torch.cuda.synchronize()
    assert_each_layer_used_the_previous_output(x0, weights, scale_b, buffers)

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        layer_chain(x0, weights, scale_b, buffers, splits)
    for _ in range(3):
        x0.copy_(random_fp8(M, K, E4M3, generator))
        for buffer in buffers:
            fill_nan(buffer)
        graph.replay()
        torch.cuda.synchronize()
        assert_each_layer_used_the_previous_output(x0, weights, scale_b, buffers)
