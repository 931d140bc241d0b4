import pytest

from fp8gen import GemmSpec
from fp8gen.export import export_bundle
from fp8gen.specfile import load_specs
from tests.conftest import REPO


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """One exported bundle (examples/kernels.toml plus a cluster and a fused re-quantizing kernel) for the
    export tests; compiled once per session."""
    from fp8gen.cache import DiskCache

    directory = tmp_path_factory.mktemp("bundle")
    specs = load_specs(REPO / "examples" / "kernels.toml") + [
        GemmSpec(name="block_cluster", scale_a="group", scale_b="block", cluster=(2, 1)),
        GemmSpec(name="fused_requant", out="e4m3", scale_a="group", scale_b="block",
                 epilogue=["bias", "gelu_tanh", "group_quantize"])]
    export_bundle(specs, directory, jobs=2, cache=DiskCache(tmp_path_factory.mktemp("cache")))
    return directory
