"""Grouped GEMM (mixture of experts) against a float64 per-expert reference on fresh random data."""

from __future__ import annotations

import pytest
import torch

import fp8gen
from fp8gen import InputError, heuristics
from tests.gpu.support import expand_scale, gemm_error, random_fp8, random_scales

N, K = 264, 384  # N off the 128 tile grid; K a few K blocks
SENTINEL = -12345.0


def expert_scales(kind: str, groups: int, n: int, k: int, generator, dtype: str = "f32") -> torch.Tensor:
    """scale_b with a leading expert dimension."""
    per_expert = [random_scales(kind, n, k, generator, dtype) for _ in range(groups)]
    if kind == "tensor":
        return torch.cat(per_expert)
    if kind == "row":
        return torch.stack([s.reshape(n) for s in per_expert])
    return torch.stack(per_expert)


def dequantized_expert(b, sb, kind: str, g: int) -> torch.Tensor:
    n, k = b.shape[1:]
    scale = sb[g].reshape(1) if kind == "tensor" else sb[g].reshape(n, 1) if kind == "row" else sb[g]
    return b[g].double() * expand_scale(scale, kind if kind != "tensor" else "tensor", n, k)


def contiguous_problem(sizes: list[int], generator):
    """m_indices for experts of the given sizes, each segment padded with -1 to 128 rows, plus one
    all-padding block at the end."""
    ids = []
    for g, size in enumerate(sizes):
        padded = -(-size // 128) * 128
        ids += [g] * size + [-1] * (padded - size)
    ids += [-1] * 128
    return torch.tensor(ids, dtype=torch.int32, device="cuda")


@pytest.fixture(params=["128-wide", "192-wide"])
def tile_width(request, monkeypatch):
    """Runs a test with the grouped kernels' default tile width for these small shapes, and again with the
    192-wide tile that larger problems take (it reads B rows and block scales past an expert's N: the next
    expert's, or out of bounds for the last, in columns that are then not stored)."""
    if request.param == "192-wide":
        monkeypatch.setattr(heuristics, "wide_tile_pays", lambda m, n, k, sm_count=0: True)
    return request.param


@pytest.mark.parametrize("kind_a,kind_b", [("tensor", "tensor"), ("row", "row"), ("group", "block")])
@pytest.mark.parametrize("out_dtype,tolerance", [(torch.bfloat16, 4e-3), (torch.float32, 2e-4)])
def test_contiguous_layout(kind_a, kind_b, out_dtype, tolerance, tile_width, generator):
    sizes = [0, 1, 300, 128, 77]  # an empty expert, a single row, off-block and exact sizes
    groups = len(sizes)
    m_indices = contiguous_problem(sizes, generator)
    m = m_indices.numel()
    a = random_fp8(m, K, torch.float8_e4m3fn, generator)
    b = torch.stack([random_fp8(N, K, torch.float8_e4m3fn, generator) for _ in range(groups)])
    sa = random_scales(kind_a, m, K, generator)
    sb = expert_scales(kind_b, groups, N, K, generator)
    out = torch.full((m, N), SENTINEL, dtype=out_dtype, device="cuda")
    fp8gen.grouped_gemm(a, b, sa, sb, m_indices=m_indices, out=out, out_dtype=out_dtype)
    torch.cuda.synchronize()
    a64 = a.double() * expand_scale(sa, kind_a, m, K)
    ids = m_indices.long()
    for g in range(groups):
        rows = (ids == g).nonzero().flatten()
        if rows.numel() == 0:
            continue
        b64 = dequantized_expert(b, sb, kind_b, g)
        ref = a64[rows] @ b64.T
        assert gemm_error(out[rows], ref, a64[rows], b64) <= tolerance, f"expert {g}"
    blocks = ids.view(-1, 128)
    padding_in_expert_blocks = (ids == -1) & (blocks[:, :1] >= 0).repeat_interleave(128, 0).flatten()
    assert (out[padding_in_expert_blocks] == 0).all(), "padding rows of an expert's block are zero"
    skipped = (blocks[:, 0] == -1).repeat_interleave(128).flatten()
    assert (out[skipped] == SENTINEL).all(), "all-padding blocks are left untouched"


@pytest.mark.parametrize("group_rows", [128, 192])
@pytest.mark.parametrize("kind_a,kind_b", [("tensor", "tensor"), ("group", "block")])
def test_masked_layout_with_counts_changing_between_graph_replays(group_rows, kind_a, kind_b, tile_width, generator):
    groups = 4
    a = torch.stack([random_fp8(group_rows, K, torch.float8_e4m3fn, generator) for _ in range(groups)])
    b = torch.stack([random_fp8(N, K, torch.float8_e4m3fn, generator) for _ in range(groups)])
    sa = random_scales(kind_a, groups * group_rows, K, generator)
    if kind_a != "tensor":
        sa = sa.reshape(groups, group_rows, *sa.shape[1:])
    sb = expert_scales(kind_b, groups, N, K, generator)
    masked_m = torch.zeros(groups, dtype=torch.int32, device="cuda")
    out = torch.full((groups, group_rows, N), SENTINEL, dtype=torch.bfloat16, device="cuda")
    call = lambda: fp8gen.grouped_gemm(a, b, sa, sb, masked_m=masked_m, out=out)  # noqa: E731
    masked_m.copy_(torch.tensor([1, 0, group_rows, 70], dtype=torch.int32))
    call()  # compile and load outside the capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        call()
    block_m = 128 if group_rows % 128 == 0 else 64
    flat_sa = sa.reshape(groups * group_rows, *sa.shape[2:]) if kind_a != "tensor" else sa
    a64 = (a.reshape(-1, K).double() * expand_scale(flat_sa, kind_a, groups * group_rows, K)).view(groups, group_rows, K)
    for counts in ([1, 0, group_rows, 70], [group_rows, 5, 0, 129 % group_rows]):
        out.fill_(SENTINEL)
        masked_m.copy_(torch.tensor(counts, dtype=torch.int32))
        graph.replay()
        torch.cuda.synchronize()
        for g, count in enumerate(counts):
            if count:
                b64 = dequantized_expert(b, sb, kind_b, g)
                assert gemm_error(out[g, :count], a64[g, :count] @ b64.T, a64[g, :count], b64) <= 4e-3
            computed = -(-count // block_m) * block_m
            assert (out[g, count:computed] == 0).all(), "rows past the count in its last block are zero"
            assert (out[g, computed:] == SENTINEL).all(), "blocks past the count are untouched"


@pytest.mark.parametrize("per_expert_bias", [False, True])
def test_grouped_epilogue(per_expert_bias, generator):
    groups, group_rows = 2, 128
    a = torch.stack([random_fp8(group_rows, K, torch.float8_e4m3fn, generator) for _ in range(groups)])
    b = torch.stack([random_fp8(N, K, torch.float8_e4m3fn, generator) for _ in range(groups)])
    sa, sb = random_scales("tensor", 1, K, generator), expert_scales("tensor", groups, N, K, generator)
    shape = (groups, N) if per_expert_bias else (N,)
    bias = torch.randn(shape, device="cuda", generator=generator).to(torch.bfloat16) * 100
    amax = torch.zeros(1, device="cuda")
    masked_m = torch.tensor([100, 3], dtype=torch.int32, device="cuda")
    out = fp8gen.grouped_gemm(a, b, sa, sb, masked_m=masked_m, bias=bias, activation="silu", amax_out=amax,
                              out_dtype=torch.float32)
    torch.cuda.synchronize()
    refs = []
    for g, count in enumerate((100, 3)):
        b64 = b[g].double() * sb[g].double()
        expert_bias = bias[g] if per_expert_bias else bias
        ref = torch.nn.functional.silu(a[g, :count].double() * sa.double() @ b64.T + expert_bias.double())
        assert gemm_error(out[g, :count], ref, a[g, :count].double() * sa.double(), b64) <= 2e-4
        refs.append(ref)
    assert abs(amax.item() - max(r.abs().max().item() for r in refs)) <= 1e-4 * amax.item()


def test_invalid_grouping_arguments(generator):
    a = random_fp8(256, K, torch.float8_e4m3fn, generator)
    b = torch.stack([random_fp8(N, K, torch.float8_e4m3fn, generator) for _ in range(2)])
    sa, sb = torch.ones(1, device="cuda"), torch.ones(2, device="cuda")
    ids = torch.zeros(256, dtype=torch.int32, device="cuda")
    with pytest.raises(InputError, match="exactly one of"):
        fp8gen.grouped_gemm(a, b, sa, sb)
    with pytest.raises(InputError, match="values from 0 to 2"):
        fp8gen.grouped_gemm(a, b, sa, sb, m_indices=torch.full_like(ids, 2).index_fill_(0, torch.tensor([0], device="cuda"), 0))
    with pytest.raises(InputError, match="mixes experts"):
        fp8gen.grouped_gemm(a, b, sa, sb, m_indices=ids.index_fill(0, torch.tensor([5], device="cuda"), 1))
    with pytest.raises(InputError, match="multiple of 128 rows"):
        fp8gen.grouped_gemm(a[:200], b, sa, sb, m_indices=ids[:200])
    with pytest.raises(InputError, match=r"grouped B scales are \(2,\)"):
        fp8gen.grouped_gemm(a, b, sa, torch.ones(3, device="cuda"), m_indices=ids)
    with pytest.raises(InputError, match=r"counts from 0 to 129"):
        fp8gen.grouped_gemm(a.view(2, 128, K), b, sa, sb,
                            masked_m=torch.tensor([0, 129], dtype=torch.int32, device="cuda"))
    with pytest.raises(InputError, match="int32 tensor of shape"):
        fp8gen.grouped_gemm(a.view(2, 128, K), b, sa, sb, masked_m=torch.tensor([1, 2], device="cuda"))
