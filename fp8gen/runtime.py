"""Load cubins, build TMA descriptors and launch kernels through the CUDA driver API.

Never renders or compiles: it receives an Artifact (cubin + launch metadata).
"""

from __future__ import annotations

import ctypes
import functools
import threading
from dataclasses import dataclass

from .errors import CudaError

_thread_state = threading.local()


@functools.lru_cache(maxsize=1)
def _driver():
    from cuda.bindings import driver

    return driver


def check(result, what: str):
    """Unwrap a cuda.bindings (err, *values) tuple, raising CudaError with the call's name on failure."""
    driver = _driver()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != driver.CUresult.CUDA_SUCCESS:
        _, name = driver.cuGetErrorName(err)
        name = name.decode() if isinstance(name, bytes) else str(err)
        raise CudaError(f"{what} failed: {name}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def ensure_context(device_index: int) -> None:
    """Make the device's primary context (the one PyTorch uses) current on this thread."""
    if getattr(_thread_state, "device", None) == device_index:
        return
    driver = _driver()
    check(driver.cuInit(0), "cuInit")
    device = check(driver.cuDeviceGet(device_index), "cuDeviceGet")
    context = check(driver.cuDevicePrimaryCtxRetain(device), "cuDevicePrimaryCtxRetain")
    check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    _thread_state.device = device_index


@dataclass(frozen=True)
class LaunchShape:
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    smem_bytes: int
    cluster: tuple[int, int, int] = (1, 1, 1)


class LoadedKernel:
    """A cubin loaded as a CUlibrary; one CUkernel usable on every device."""

    def __init__(self, cubin: bytes, symbol: str, smem_bytes: int):
        driver = _driver()
        check(driver.cuInit(0), "cuInit")
        self.symbol = symbol
        self.smem_bytes = smem_bytes
        self._library = check(driver.cuLibraryLoadData(cubin, [], [], 0, [], [], 0), "cuLibraryLoadData")
        self._kernel = check(driver.cuLibraryGetKernel(self._library, symbol.encode()), f"cuLibraryGetKernel({symbol})")
        self._configured_devices: set[int] = set()
        self._lock = threading.Lock()

    def _configure(self, device_index: int) -> None:
        if device_index in self._configured_devices:
            return
        driver = _driver()
        with self._lock:
            attr = driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
            device = check(driver.cuDeviceGet(device_index), "cuDeviceGet")
            check(driver.cuKernelSetAttribute(attr, self.smem_bytes, self._kernel, device),
                  "cuKernelSetAttribute(MAX_DYNAMIC_SHARED_MEMORY_SIZE)")
            self._configured_devices.add(device_index)

    def launch(self, shape: LaunchShape, stream: int, device_index: int, args: tuple, arg_types: tuple) -> None:
        driver = _driver()
        ensure_context(device_index)
        self._configure(device_index)
        config = driver.CUlaunchConfig()
        config.gridDimX, config.gridDimY, config.gridDimZ = shape.grid
        config.blockDimX, config.blockDimY, config.blockDimZ = shape.block
        config.sharedMemBytes = shape.smem_bytes
        config.hStream = driver.CUstream(stream)
        if shape.cluster != (1, 1, 1):
            attr = driver.CUlaunchAttribute()
            attr.id = driver.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION
            attr.value.clusterDim.x, attr.value.clusterDim.y, attr.value.clusterDim.z = shape.cluster
            config.attrs = [attr]
            config.numAttrs = 1
        check(driver.cuLaunchKernelEx(config, self._kernel, (args, arg_types), 0), f"cuLaunchKernelEx({self.symbol})")


TMA_ELEMENT_BYTES = {"u8": 1, "u16": 2, "f32": 4}


# Encoding a descriptor through the driver costs tens of microseconds from Python; weights, and
# activations recycled by torch's caching allocator, come back with the same address and shape.
@functools.lru_cache(maxsize=1024)
def tma_descriptor_2d(address: int, rows: int, cols: int, row_stride_bytes: int, box_rows: int, box_cols: int,
                      swizzle_bytes: int = 0, element: str = "u8"):
    """A TMA descriptor for a row-major (rows, cols) tensor of `element`s, loaded in (box_rows, box_cols) boxes.

    Out-of-bounds parts of a box are filled with zeros, which is what lets M, N and K sit off the tile grid.
    A descriptor holds only these values (no reference to the memory), so equal arguments share one.
    """
    driver = _driver()
    swizzles = {
        0: driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_NONE,
        32: driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_32B,
        64: driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_64B,
        128: driver.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_128B,
    }
    data_types = {
        "u8": driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_UINT8,
        "u16": driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_UINT16,
        "f32": driver.CUtensorMapDataType.CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
    }
    return check(
        driver.cuTensorMapEncodeTiled(
            data_types[element],
            2,
            address,
            [driver.cuuint64_t(cols), driver.cuuint64_t(rows)],
            [driver.cuuint64_t(row_stride_bytes)],
            [driver.cuuint32_t(box_cols), driver.cuuint32_t(box_rows)],
            [driver.cuuint32_t(1), driver.cuuint32_t(1)],
            driver.CUtensorMapInterleave.CU_TENSOR_MAP_INTERLEAVE_NONE,
            swizzles[swizzle_bytes],
            driver.CUtensorMapL2promotion.CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
            driver.CUtensorMapFloatOOBfill.CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
        ),
        "cuTensorMapEncodeTiled",
    )


POINTER = ctypes.c_void_p
INT = ctypes.c_int
INT64 = ctypes.c_longlong
