import pytest
import torch

from tests.gpu.support import prebuild


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available() and torch.cuda.get_device_capability() >= (9, 0):
        return
    skip = pytest.mark.skip(reason="needs a Hopper (sm_90) GPU")
    for item in items:
        if "tests/gpu/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture
def generator():
    g = torch.Generator(device="cuda")
    g.seed()
    return g


@pytest.fixture(scope="module", autouse=True)
def kernels_built(request):
    """Compiles the kernels a test module lists in its kernel_specs() up front, in parallel
    (`python -m tests.gpu.prebuild` compiles every module's list on a machine without a GPU)."""
    kernel_specs = getattr(request.module, "kernel_specs", None)
    if kernel_specs is not None and torch.cuda.is_available():
        prebuild(kernel_specs(), request)
