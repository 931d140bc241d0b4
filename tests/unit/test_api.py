"""fp8gen/api.py without a GPU: fp8gen.compile's warning about kernels slowed by their resources."""

import warnings

import pytest

from fp8gen import GemmSpec, api
from fp8gen import build as build_module
from fp8gen.build import Artifact


def fake_build(resources):
    def build(spec):
        return Artifact(spec=spec, key="0123456789abcdef" * 4, cubin=b"\x7fELF", meta={"resources": resources})
    return build


@pytest.fixture
def fresh_kernels(monkeypatch):
    monkeypatch.setattr(api, "_kernels", {})


@pytest.mark.parametrize("resources,expected", [
    ({"spill_stores": 92, "spill_loads": 84, "wgmma_serialized": False},
     "spills registers to local memory (92 bytes stored, 84 loaded): it computes correctly but runs slower"),
    ({"spill_stores": 0, "spill_loads": 0, "wgmma_serialized": True},
     "has its wgmma instructions serialized by ptxas: it computes correctly"),
    ({"spill_stores": 8, "spill_loads": 0, "wgmma_serialized": True},
     "spills registers to local memory (8 bytes stored, 0 loaded) and has its wgmma instructions serialized"),
])
def test_compile_warns_once_about_a_kernel_slowed_by_its_resources(resources, expected, fresh_kernels,
                                                                   monkeypatch):
    monkeypatch.setattr(build_module, "build", fake_build(resources))
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
    monkeypatch.setattr(build_module, "build", fake_build({"spill_stores": 0, "spill_loads": 0,
                                                           "wgmma_serialized": False}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        api.compile(GemmSpec(name="fits", tile=(64, 64, 128)))
