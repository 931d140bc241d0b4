"""Every cuda.bindings name the runtime uses exists in the installed bindings (no GPU needed)."""

import re
from pathlib import Path

import fp8gen.runtime


def test_driver_names_resolve():
    from cuda.bindings import driver

    source = Path(fp8gen.runtime.__file__).read_text()
    names = set(re.findall(r"driver\.([A-Za-z_0-9]+(?:\.[A-Za-z_0-9]+)*)", source))
    assert names
    for dotted in names:
        obj = driver
        for part in dotted.split("."):
            obj = getattr(obj, part)


def test_ctypes_launch_config_matches_cuda_h_layout():
    """The ctypes CUlaunchConfig / CUlaunchAttribute read back what cuda.bindings writes into its structs."""
    import ctypes

    from cuda.bindings import driver

    from fp8gen.runtime import _LaunchAttribute, _LaunchConfig

    config = driver.CUlaunchConfig()
    config.gridDimX, config.gridDimY, config.gridDimZ = 132, 2, 3
    config.blockDimX, config.blockDimY, config.blockDimZ = 384, 1, 1
    config.sharedMemBytes = 227 * 1024
    config.hStream = driver.CUstream(0x1234)
    attr = driver.CUlaunchAttribute()
    attr.id = driver.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION
    attr.value.clusterDim.x, attr.value.clusterDim.y, attr.value.clusterDim.z = 2, 1, 1
    config.attrs = [attr]
    config.numAttrs = 1
    mirror = _LaunchConfig.from_buffer_copy(ctypes.string_at(config.getPtr(), ctypes.sizeof(_LaunchConfig)))
    assert (list(mirror.grid), list(mirror.block)) == ([132, 2, 3], [384, 1, 1])
    assert (mirror.shared_mem_bytes, mirror.stream, mirror.num_attrs) == (227 * 1024, 0x1234, 1)
    assert ctypes.sizeof(_LaunchAttribute) == 72
    attribute = _LaunchAttribute.from_buffer_copy(ctypes.string_at(attr.getPtr(), 72))
    assert attribute.id == int(driver.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION)
    assert list(attribute.value) == [2, 1, 1]

    serialization = driver.CUlaunchAttribute()
    serialization.id = driver.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION
    serialization.value.programmaticStreamSerializationAllowed = 1
    attribute = _LaunchAttribute.from_buffer_copy(ctypes.string_at(serialization.getPtr(), 72))
    assert (attribute.id, attribute.value[0]) == (int(serialization.id), 1)


def test_launches_allow_programmatic_dependent_launch_unless_turned_off(monkeypatch):
    """Every launch that does not split K carries the programmatic stream serialization attribute (after the
    cluster shape, when there is one); FP8GEN_DEPENDENT_LAUNCH=0 drops it."""
    from cuda.bindings import driver

    from fp8gen.runtime import LaunchShape, _launch_attributes

    ids = driver.CUlaunchAttributeID
    clustered = LaunchShape(grid=(132, 1, 1), block=(384, 1, 1), smem_bytes=1024, cluster=(2, 1, 1))
    plain = LaunchShape(grid=(132, 1, 1), block=(384, 1, 1), smem_bytes=1024)
    monkeypatch.delenv("FP8GEN_DEPENDENT_LAUNCH", raising=False)
    assert [(a.id, list(a.value)) for a in _launch_attributes(clustered)] == [
        (int(ids.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION), [2, 1, 1]),
        (int(ids.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION), [1, 0, 0])]
    monkeypatch.setenv("FP8GEN_DEPENDENT_LAUNCH", "0")
    assert [(a.id, list(a.value)) for a in _launch_attributes(clustered)] == [
        (int(ids.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION), [2, 1, 1])]
    assert len(_launch_attributes(plain)) == 0
    monkeypatch.delenv("FP8GEN_DEPENDENT_LAUNCH")
    split = LaunchShape(grid=(132, 1, 1), block=(384, 1, 1), smem_bytes=1024, dependent=False)
    assert len(_launch_attributes(split)) == 0


def test_a_driver_without_an_entry_point_is_a_clear_error(monkeypatch):
    """cuGetProcAddress succeeding with a null address (an older driver) raises CudaError naming the symbol."""
    import ctypes

    import pytest
    from cuda.bindings import driver

    from fp8gen.errors import CudaError
    from fp8gen.runtime import _DriverCalls

    def no_such_symbol(symbol, version, flags):
        return driver.CUresult.CUDA_SUCCESS, 0, driver.CUdriverProcAddressQueryResult.CU_GET_PROC_ADDRESS_SUCCESS

    monkeypatch.setattr(driver, "cuGetProcAddress", no_such_symbol)
    with pytest.raises(CudaError, match="the CUDA driver has no cuLaunchKernelEx"):
        _DriverCalls._resolve("cuLaunchKernelEx", 12000, ctypes.CFUNCTYPE(ctypes.c_int))
