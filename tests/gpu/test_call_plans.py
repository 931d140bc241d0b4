"""The fast call path: repeated calls replay a prepared launch. Replays must track the tensors' values,
give every call its own output, and never reuse a split-K workspace across streams or inside a capture."""

from __future__ import annotations

import ctypes
import threading

import pytest
import torch

import fp8gen
from fp8gen import GemmSpec, api, runtime
from tests.gpu.support import expand_scale, gemm_error, random_fp8, random_scales


def fresh_values(generator, *tensors):
    """New random values in place: same addresses, shapes and strides (the plan's key)."""
    for t in tensors:
        if t.dtype in (torch.float8_e4m3fn, torch.float8_e5m2):
            t.copy_((torch.randn(t.shape, device="cuda", generator=generator) * 4).to(t.dtype))
        else:
            t.copy_(torch.rand(t.shape, device="cuda", generator=generator) + 0.5)


def reference(a, b, sa, sb, kind_a, kind_b):
    m, k = a.shape
    n = b.shape[0]
    a64 = a.double() * expand_scale(sa, kind_a, m, k)
    b64 = b.double() * expand_scale(sb, kind_b, n, k)
    return a64 @ b64.T, a64, b64


@pytest.fixture
def checked_calls(monkeypatch):
    """How many calls took the checked path (Kernel._call) instead of replaying a plan."""
    calls = []
    checked = api.Kernel._call

    def counting(self, *args, **kwargs):
        calls.append(args)
        return checked(self, *args, **kwargs)

    monkeypatch.setattr(api.Kernel, "_call", counting)
    return calls


def test_ctypes_descriptor_matches_cuda_bindings_encoding():
    from cuda.bindings import driver

    buffer = torch.empty(300, 1024, dtype=torch.uint8, device="cuda")
    ours = runtime.tma_descriptor_2d(buffer.data_ptr(), 300, 1000, 1024, 64, 128, 128)
    theirs = runtime.check(driver.cuTensorMapEncodeTiled(
        driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, buffer.data_ptr(),
        [driver.cuuint64_t(1000), driver.cuuint64_t(300)], [driver.cuuint64_t(1024)],
        [driver.cuuint32_t(128), driver.cuuint32_t(64)], [driver.cuuint32_t(1), driver.cuuint32_t(1)],
        driver.CUtensorMapInterleave.CU_TENSOR_MAP_INTERLEAVE_NONE,
        driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_128B,
        driver.CUtensorMapL2promotion.CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
        driver.CUtensorMapFloatOOBfill.CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE), "cuTensorMapEncodeTiled")
    assert ours.to_bytes() == ctypes.string_at(theirs.getPtr(), 128)


def test_bad_descriptor_raises_with_the_call_named():
    with pytest.raises(fp8gen.CudaError, match="cuTensorMapEncodeTiled"):
        runtime.tma_descriptor_2d(8, 10, 100, 100, 64, 128, 128)  # unaligned address and stride


@pytest.mark.parametrize("kind_a,kind_b", [("tensor", "tensor"), ("group", "block")])
@pytest.mark.parametrize("give_out", [False, True])
def test_replays_track_values_and_give_each_call_its_output(kind_a, kind_b, give_out, generator, checked_calls):
    m, n, k = 200, 384, 512
    a, b = random_fp8(m, k, torch.float8_e4m3fn, generator), random_fp8(n, k, torch.float8_e4m3fn, generator)
    sa, sb = random_scales(kind_a, m, k, generator), random_scales(kind_b, n, k, generator)
    if kind_a == "group":
        sa = sa.t().contiguous().t()  # the layout the kernel reads without a copy (a copy is never replayed)
    bias = torch.empty(n, dtype=torch.bfloat16, device="cuda")
    given = torch.empty(m, n, dtype=torch.bfloat16, device="cuda") if give_out else None
    outputs = []
    api.forget_plans()
    for _ in range(4):
        fresh_values(generator, a, b, sa, sb)
        # the size of the outputs (operands of rms 4, scales ~1), so that a stale or missing bias shows
        bias.copy_((torch.randn(n, device="cuda", generator=generator) * 16 * k ** 0.5).to(torch.bfloat16))
        out = fp8gen.gemm(a, b, sa, sb, bias=bias, out=given, split_k=1)
        ref, a64, b64 = reference(a, b, sa, sb, kind_a, kind_b)
        assert gemm_error(out, ref + bias.double(), a64, b64) <= 4e-3
        outputs.append(out)
    assert len(checked_calls) == 1 and len(api._gemm_plans) == 1  # the first call made the plan, the others replayed it
    if give_out:
        assert all(out is given for out in outputs)
    else:
        assert len({out.data_ptr() for out in outputs}) == len(outputs)  # all alive: four buffers


def test_split_k_plan_stays_on_its_stream_and_out_of_captures(generator, checked_calls):
    m, n, k = 64, 512, 8192
    spec = GemmSpec(tile=(64, 128, 128))
    kernel = fp8gen.compile(spec)
    a, b = random_fp8(m, k, torch.float8_e4m3fn, generator), random_fp8(n, k, torch.float8_e4m3fn, generator)
    sa, sb = torch.ones(1, device="cuda"), torch.ones(1, device="cuda")
    ref = a.double() @ b.double().T
    api.forget_plans()  # earlier tests' plans may match recycled addresses
    first = kernel(a, b, sa, sb, split_k=4)
    assert gemm_error(first, ref, a.double(), b.double()) <= 4e-3
    assert gemm_error(kernel(a, b, sa, sb, split_k=4), ref, a.double(), b.double()) <= 4e-3
    assert len(checked_calls) == 1  # replayed on the stream its plan was made for
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        on_side = kernel(a, b, sa, sb, split_k=4)
    torch.cuda.current_stream().wait_stream(side)
    assert len(checked_calls) == 2  # another stream: the checked path, with a workspace of its own
    assert gemm_error(on_side, ref, a.double(), b.double()) <= 4e-3
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = kernel(a, b, sa, sb, split_k=4)
    assert len(checked_calls) == 3  # inside a capture: never a replay (the graph's pool owns the workspace)
    for _ in range(3):
        fresh_values(generator, a, b)
        graph.replay()
        eager = kernel(a, b, sa, sb, split_k=4)
        torch.cuda.synchronize()
        assert torch.equal(captured, eager)
        assert gemm_error(eager, a.double() @ b.double().T, a.double(), b.double()) <= 4e-3


def test_replay_from_a_thread_that_never_called_fp8gen(generator, checked_calls):
    m, n, k = 128, 256, 512
    a, b = random_fp8(m, k, torch.float8_e4m3fn, generator), random_fp8(n, k, torch.float8_e4m3fn, generator)
    sa, sb = torch.ones(1, device="cuda"), torch.ones(1, device="cuda")
    out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
    api.forget_plans()  # earlier tests' plans may match recycled addresses
    fp8gen.gemm(a, b, sa, sb, out=out)  # the plan is made on this thread
    fresh_values(generator, a, b)
    torch.cuda.synchronize()
    errors = []

    def replay():  # its first CUDA call is fp8gen's replayed launch (the context must be made current)
        try:
            fp8gen.gemm(a, b, sa, sb, out=out)
            torch.cuda.synchronize()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    worker = threading.Thread(target=replay)
    worker.start()
    worker.join()
    assert not errors, errors
    assert len(checked_calls) == 1  # the thread's call replayed the plan rather than taking the checked path
    assert gemm_error(out, a.double() @ b.double().T, a.double(), b.double()) <= 4e-3
