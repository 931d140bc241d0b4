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


def test_key_covers_address_shape_strides_dtype_and_host_values():
    a = torch.empty(64, 256, dtype=torch.float8_e4m3fn)
    key = lambda t, *optional: api._call_key((t, 1), optional)  # noqa: E731
    base = key(a, 1.0, None, "gelu")
    assert base == key(a, 1.0, None, "gelu")
    assert base != key(a.view(32, 512), 1.0, None, "gelu")        # same address, other shape
    assert base != key(a[:, :128], 1.0, None, "gelu")             # same address, other shape/strides
    assert base != key(a.view(torch.uint8), 1.0, None, "gelu")    # same address, other dtype
    assert base != key(torch.empty_like(a), 1.0, None, "gelu")    # other address
    assert base != key(a, 2.0, None, "gelu")                      # epilogue value
    assert base != key(a, 1.0, None, "silu")
    assert key(a, None, None) == key(a) != key(a, None, 1.0)      # optional arguments count once given
    assert base[0][-1] == a.get_device() == -1                   # the device index (-1: not CUDA, never planned)


def test_replay_runs_the_remembered_plan_and_falls_back_when_it_declines():
    plans = {}
    key = api._call_key((torch.empty(4, 4),), (1.0,))
    assert api._replay(plans, key, None) is None
    api._remember(plans, key, RecordingPlan("D"))
    assert api._replay(plans, key, None) == "D"
    api._remember(plans, key, RecordingPlan(None))  # e.g. a split-K plan called on another stream
    assert api._replay(plans, key, None) is None
    api._remember(plans, ("other",), None)           # calls with per-call work have no plan
    assert ("other",) not in plans


def test_unhashable_arguments_take_the_checked_path():
    plans = {}
    key = api._call_key((torch.empty(2),), ([1, 2],))
    assert api._replay(plans, key, None) is None
    api._remember(plans, key, RecordingPlan("D"))
    assert plans == {}


def test_table_is_bounded():
    plans = {}
    for i in range(api.PLANS_PER_TABLE + 5):
        api._remember(plans, (i,), RecordingPlan(i))
    assert len(plans) <= api.PLANS_PER_TABLE
