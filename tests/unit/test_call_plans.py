"""The call-plan tables behind fp8gen's fast path: what a plan is keyed on (no GPU needed)."""

import torch

from fp8gen import api


class RecordingPlan:
    def __init__(self, result):
        self.result = result
        self.runs = 0

    def run(self, out):
        self.runs += 1
        return self.result


SCALE = torch.ones(1)


def key_of(t, *optional, out=None, values=(1,)):
    return api._call_key(t, t, SCALE, SCALE, out, values, optional)


def test_key_covers_address_shape_strides_dtype_and_host_values():
    a = torch.empty(64, 256, dtype=torch.float8_e4m3fn)
    base = key_of(a, 1.0, None, "gelu")
    assert base == key_of(a, 1.0, None, "gelu")
    assert base != key_of(a.view(32, 512), 1.0, None, "gelu")        # same address, other shape
    assert base != key_of(a[:, :128], 1.0, None, "gelu")             # same address, other shape/strides
    assert base != key_of(a.view(torch.uint8), 1.0, None, "gelu")    # same address, other dtype
    assert base != key_of(torch.empty_like(a), 1.0, None, "gelu")    # other address
    assert base != key_of(a, 2.0, None, "gelu")                      # epilogue value
    assert base != key_of(a, 1.0, None, "silu")
    assert base != key_of(a, 1.0, None, "gelu", values=(2,))         # host value (e.g. split_k)
    assert base != key_of(a, 1.0, None, "gelu", out=torch.empty(64, 64))  # an output given
    assert key_of(a, None, None) == key_of(a) != key_of(a, None, 1.0)  # optional arguments count once given
    assert base[:4] == (a.data_ptr(), a.shape, a.stride(), a.dtype)  # the address fixes the device (UVA)


def test_non_tensor_operands_have_no_key_and_take_the_checked_path():
    plans = {}
    assert api._call_key([1.0], torch.empty(2), torch.ones(1), torch.ones(1), None, (), ()) is None
    assert api._replay(plans, None, None) is None
    api._remember(plans, None, RecordingPlan("D"))
    assert plans == {}


def test_replay_runs_the_remembered_plan_and_falls_back_when_it_declines():
    plans = {}
    key = key_of(torch.empty(4, 4), 1.0)
    assert api._replay(plans, key, None) is None
    api._remember(plans, key, RecordingPlan("D"))
    assert api._replay(plans, key, None) == "D"
    api._remember(plans, key, RecordingPlan(None))  # e.g. a split-K plan called on another stream
    assert api._replay(plans, key, None) is None
    api._remember(plans, ("other",), None)           # calls with per-call work have no plan
    assert ("other",) not in plans


def test_unhashable_arguments_take_the_checked_path():
    plans = {}
    key = key_of(torch.empty(2), [1, 2])
    assert api._replay(plans, key, None) is None
    api._remember(plans, key, RecordingPlan("D"))
    assert plans == {}


def test_table_is_bounded():
    plans = {}
    for i in range(api.PLANS_PER_TABLE + 5):
        api._remember(plans, (i,), RecordingPlan(i))
    assert len(plans) <= api.PLANS_PER_TABLE


class RecordingLaunch:
    def __init__(self):
        self.calls = []

    def launch(self, stream, replace=None):
        self.calls.append((stream, replace))


def test_a_replayed_plan_swaps_only_the_address_of_a_fresh_output(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(api, "_current_stream", lambda device_index: 7)
    monkeypatch.setattr(api, "tma_descriptor_2d", lambda *args: ("descriptor", *args))
    meta = {"launch": {"output_box": (64, 64), "output_swizzle_bytes": 128}}
    first_out = torch.empty(200, 384, dtype=torch.bfloat16)
    launch = RecordingLaunch()
    plan = api.CallPlan(SimpleNamespace(artifact=SimpleNamespace(meta=meta)), launch, first_out, True, None)
    d = plan.run(None)
    assert d.shape == (200, 384) and d.dtype == torch.bfloat16 and d.data_ptr() != 0
    stream, (index, descriptor) = launch.calls[-1]
    assert stream == 7 and index == api.OUTPUT_DESCRIPTOR_PARAMETER
    assert descriptor == ("descriptor", d.data_ptr(), 200, 384, 768, 64, 64, 128, "u16")
    given = torch.empty(200, 384, dtype=torch.bfloat16)
    kept = api.CallPlan(SimpleNamespace(artifact=SimpleNamespace(meta=meta)), launch, given, False, None)
    assert kept.run(given) is given and launch.calls[-1] == (7, None)  # the caller's D: no descriptor swap
    split = api.CallPlan(SimpleNamespace(artifact=SimpleNamespace(meta=meta)), launch, given, False, 8)
    assert split.run(given) is None  # a split-K plan on another stream than its own: the checked path


def test_fresh_output_descriptors_are_encoded_once_per_address(monkeypatch):
    from types import SimpleNamespace

    encoded = []
    monkeypatch.setattr(api, "_current_stream", lambda device_index: 7)
    monkeypatch.setattr(api, "tma_descriptor_2d", lambda *args: encoded.append(args[0]) or ("descriptor", args[0]))
    meta = {"launch": {"output_box": (64, 64), "output_swizzle_bytes": 128}}
    buffers = [torch.empty(200, 384, dtype=torch.bfloat16) for _ in range(api.OUTPUT_DESCRIPTORS_PER_PLAN + 1)]
    launch = RecordingLaunch()
    plan = api.CallPlan(SimpleNamespace(artifact=SimpleNamespace(meta=meta)), launch, buffers[0], True, None)
    handed_out = iter(buffers[:2] * 3 + buffers[2:])  # the allocator returns two addresses in turn, then new ones
    monkeypatch.setattr(torch, "empty", lambda *args, **kwargs: next(handed_out))
    for expected in buffers[:2] * 3:
        assert plan.run(None) is expected
        assert launch.calls[-1][1] == (api.OUTPUT_DESCRIPTOR_PARAMETER, ("descriptor", expected.data_ptr()))
    assert encoded == [buffers[0].data_ptr(), buffers[1].data_ptr()]  # two addresses, two encodings
    for expected in buffers[2:]:
        assert plan.run(None) is expected
        assert launch.calls[-1][1] == (api.OUTPUT_DESCRIPTOR_PARAMETER, ("descriptor", expected.data_ptr()))
    assert len(plan._output_descriptors) <= api.OUTPUT_DESCRIPTORS_PER_PLAN  # bounded: addresses churn
