"""fp8gen/api.py without a GPU: fp8gen.compile's warning about kernels slowed by their resources."""

import warnings

import pytest

from fp8gen import GemmSpec, api
from fp8gen import build as build_module
from fp8gen.build import Artifact


SERIALIZED = ("ptxas info    : (C7510) Potential Performance Loss: wgmma.mma_async instructions are serialized due "
              "to wgmma pipeline crossing function boundary\n")


def ptxas_log(spill_stores, spill_loads, serialized=False):
    return ((SERIALIZED if serialized else "") + "ptxas info    : Used 168 registers\n"
            f"ptxas         .     0 bytes stack frame, {spill_stores} bytes spill stores, "
            f"{spill_loads} bytes spill loads\n")


def fake_build(log):
    def build(spec):
        return Artifact(spec=spec, key="0123456789abcdef" * 4, cubin=b"\x7fELF", meta={"ptxas_log": log})
    return build


@pytest.fixture
def fresh_kernels(monkeypatch):
    monkeypatch.setattr(api, "_kernels", {})


@pytest.mark.parametrize("log,expected", [
    (ptxas_log(92, 84),
     "spills registers to local memory (92 bytes stored, 84 loaded): it computes correctly but runs slower"),
    (ptxas_log(0, 0, serialized=True),
     "has its wgmma instructions serialized by ptxas: it computes correctly"),
    (ptxas_log(8, 0, serialized=True),
     "spills registers to local memory (8 bytes stored, 0 loaded) and has its wgmma instructions serialized"),
])
def test_compile_warns_once_about_a_kernel_slowed_by_its_resources(log, expected, fresh_kernels, monkeypatch):
    monkeypatch.setattr(build_module, "build", fake_build(log))
    spec = GemmSpec(name="hand_written", tile=(64, 64, 128))
    with pytest.warns(UserWarning) as caught:
        kernel = api.compile(spec)
    assert len(caught) == 1 and caught[0].filename == __file__
    message = str(caught[0].message)
    assert message.startswith(f"fp8gen: kernel hand_written {expected}"), message
    assert "`fp8gen cache info 0123456789ab` shows the ptxas report" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert api.compile(spec) is kernel  # the same kernel, not warned about again


def test_compile_is_silent_about_a_kernel_that_fits(fresh_kernels, monkeypatch):
    monkeypatch.setattr(build_module, "build", fake_build(ptxas_log(0, 0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        api.compile(GemmSpec(name="fits", tile=(64, 64, 128)))
