"""A bundle's C launcher linked against a fake CUDA driver (tests/unit/fake_cuda_driver.c), without a GPU:
every argument check fails with a message that names the argument and reaches no driver call, fp8gen_init's
failure path unloads what it loaded, and valid calls launch the grid and shared memory the manifest gives."""

from __future__ import annotations

import ctypes
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from fp8gen.abi import EpilogueArgs
from fp8gen.export import read_manifest
from fp8gen.spec import OUT_BYTES
from fp8gen.toolchain import cuda_include_dir

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a C compiler")

FAKE_DRIVER = Path(__file__).with_name("fake_cuda_driver.c")
SUCCESS, INVALID_ARGUMENT, NOT_INITIALIZED, CUDA_ERROR = 0, 1, 2, 3
SM_COUNT = 132  # what the fake driver reports
ALIGNED = 1 << 20  # fake device addresses: the launcher never dereferences them


class FakeDriverState(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in
                ("libraries_loaded", "libraries_unloaded", "kernels_got", "tensor_maps", "launches",
                 "fail_get_kernel_at")] + \
               [(name, ctypes.c_uint) for name in ("grid_x", "block_x", "shared_bytes", "attributes", "cluster_x")] + \
               [(name, ctypes.c_int) for name in ("m", "n", "k", "a_box_rows")]


LAUNCH_ARGUMENTS = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                    ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                    ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.POINTER(EpilogueArgs), ctypes.c_void_p]


@pytest.fixture(scope="module")
def launcher(bundle, tmp_path_factory):
    library = tmp_path_factory.mktemp("launcher") / "libfp8gen_fake_driver.so"
    result = subprocess.run(
        ["gcc", "-std=c99", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-Wl,-Bsymbolic",
         str(bundle / "fp8gen_kernels.c"), str(bundle / "fp8gen_cubins.c"), str(FAKE_DRIVER),
         f"-I{bundle}", f"-I{cuda_include_dir()}", "-o", str(library)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lib = ctypes.CDLL(str(library))
    lib.fake_driver.restype = ctypes.POINTER(FakeDriverState)
    lib.fp8gen_last_error_message.restype = ctypes.c_char_p
    lib.fp8gen_error_string.restype = ctypes.c_char_p
    lib.fp8gen_last_cuda_error.restype = ctypes.c_int
    for kernel in read_manifest(bundle)["kernels"]:
        getattr(lib, kernel["function"]).argtypes = LAUNCH_ARGUMENTS
    yield lib
    lib.fp8gen_teardown()


@pytest.fixture
def driver(launcher):
    """The launcher, initialized against a fresh fake driver."""
    launcher.fp8gen_teardown()
    launcher.fake_driver_reset(-1)
    assert launcher.fp8gen_init() == SUCCESS
    return launcher


def state(lib) -> FakeDriverState:
    return lib.fake_driver().contents


def message(lib) -> str:
    return lib.fp8gen_last_error_message().decode()


def kernel(bundle, name: str) -> dict:
    return next(k for k in read_manifest(bundle)["kernels"] if k["name"] == name)


def valid_arguments(entry: dict, m: int = 300, n: int = 512, k: int = 1024) -> dict:
    """Arguments one launch of `entry` accepts: contiguous operands and the scale layout fp8gen.quantize returns."""
    spec = entry["spec"]
    out_bytes = OUT_BYTES[spec["out"]]
    arguments = dict(a=ALIGNED, lda=k, b=2 * ALIGNED, ldb=k, d=3 * ALIGNED, ldd=n, m=m, n=n, k=k,
                     scale_a=4 * ALIGNED, scale_a_stride_row=0, scale_a_stride_k=0,
                     scale_b=5 * ALIGNED, scale_b_stride_row=0, scale_b_stride_k=0, epilogue=None, stream=None)
    groups = math.ceil(k / 128)
    if spec["scale_a"]["kind"] == "group":  # (M, K/128), M contiguous with rows padded to 16 bytes
        arguments.update(scale_a_stride_row=1, scale_a_stride_k=math.ceil(m / 4) * 4)
    if spec["scale_b"]["kind"] == "block":  # (N/128, K/128), row-major
        arguments.update(scale_b_stride_row=groups, scale_b_stride_k=1)
    epilogue = EpilogueArgs(alpha=1.0, beta=1.0, out_scale=1.0)
    ops = [op["op"] for op in spec["epilogue"]]
    if "bias" in ops:
        epilogue.bias, epilogue.bias_stride = 6 * ALIGNED, 1
    if "group_quantize" in ops:
        epilogue.group_scales, epilogue.group_scales_stride_row = 7 * ALIGNED, 1
        epilogue.group_scales_stride_group = math.ceil(m / 4) * 4
    arguments["epilogue"] = ctypes.pointer(epilogue)
    assert (n * out_bytes) % 16 == 0
    return arguments


def launch(lib, entry: dict, arguments: dict) -> int:
    return getattr(lib, entry["function"])(*arguments.values())


def test_every_kernel_launches_the_manifests_geometry(bundle, driver):
    for entry in read_manifest(bundle)["kernels"]:
        launches = state(driver).launches
        m, n, k = 1000, 2048, 4096
        assert launch(driver, entry, valid_arguments(entry, m, n, k)) == SUCCESS, (entry["name"], message(driver))
        geometry, recorded = entry["launch"], state(driver)
        block_m, block_n, _ = geometry["tile"]
        cluster = geometry["cluster"][0]
        tiles = math.ceil(m / (block_m * cluster)) * math.ceil(n / block_n)
        assert recorded.launches == launches + 1
        assert recorded.grid_x == min(tiles, SM_COUNT // cluster) * cluster, entry["name"]
        assert (recorded.block_x, recorded.shared_bytes) == (geometry["threads"], geometry["smem_bytes"])
        assert recorded.cluster_x == cluster
        assert (recorded.m, recorded.n, recorded.k) == (m, n, k)


def test_narrow_kernels_load_only_the_rows_of_a_below_one_tile(bundle, driver):
    decode = kernel(bundle, "decode_e4m3_bf16")
    assert decode["spec"]["tile"][0] == 64
    assert launch(driver, decode, valid_arguments(decode, m=24)) == SUCCESS
    assert state(driver).a_box_rows == 24
    assert launch(driver, decode, valid_arguments(decode, m=200)) == SUCCESS
    assert state(driver).a_box_rows == 64


def test_empty_problems_launch_nothing(bundle, driver):
    entry = kernel(bundle, "prefill_e4m3_bf16")
    for m, n in ((0, 512), (300, 0)):
        assert launch(driver, entry, valid_arguments(entry, m, n)) == SUCCESS
    assert state(driver).launches == 0


def epilogue_field(name, value):
    def edit(arguments):
        setattr(arguments["epilogue"].contents, name, value)
    return edit


def argument(name, value):
    def edit(arguments):
        arguments[name] = value
    return edit


@pytest.mark.parametrize("kernel_name,edit,expected", [
    ("prefill_e4m3_bf16", argument("m", -1), "m: must be >= 0"),
    ("prefill_e4m3_bf16", argument("n", -16), "n: must be >= 0"),
    ("prefill_e4m3_bf16", argument("k", 1000), "k: must be positive and a multiple of 16"),
    ("prefill_e4m3_bf16", argument("k", 0), "k: must be positive"),
    ("prefill_e4m3_bf16", argument("a", None), "a: NULL or not 16-byte aligned"),
    ("prefill_e4m3_bf16", argument("b", ALIGNED + 8), "b: NULL or not 16-byte aligned"),
    ("prefill_e4m3_bf16", argument("d", ALIGNED + 2), "d: NULL or not 16-byte aligned"),
    ("prefill_e4m3_bf16", argument("scale_a", None), "scale_a: NULL"),
    ("prefill_e4m3_bf16", argument("scale_b", None), "scale_b: NULL"),
    ("prefill_e4m3_bf16", argument("scale_b", ALIGNED + 2), "scale_b: not aligned to its element size"),
    ("prefill_e4m3_bf16", argument("lda", 1000), "lda: must be >= k"),
    ("prefill_e4m3_bf16", argument("lda", 1032 - 4), "lda: must be >= k and a multiple of 16"),
    ("prefill_e4m3_bf16", argument("ldb", 512), "ldb: must be >= k"),
    ("prefill_e4m3_bf16", argument("ldd", 500), "ldd: must be >= n"),
    ("prefill_e4m3_bf16", argument("ldd", 516),
     "ldd: must be >= n, and ldd times the output element size a multiple of 16 bytes"),
    ("prefill_e4m3_bf16", argument("n", 500), "n: times the output element size must be a multiple of 16 bytes"),
    ("prefill_e4m3_bf16", epilogue_field("alpha_ptr", ALIGNED + 1), "epilogue->alpha_ptr: not aligned to 4 bytes"),
    ("fused_requant", argument("epilogue", None), "epilogue->bias: NULL, but the kernel's epilogue chain adds a bias"),
    ("fused_requant", epilogue_field("bias", ALIGNED + 1), "epilogue->bias: not aligned to its element size"),
    ("fused_requant", epilogue_field("group_scales", None), "epilogue->group_scales: NULL"),
    ("fused_requant", epilogue_field("group_scales", ALIGNED + 2), "epilogue->group_scales: not aligned"),
    ("fused_requant", epilogue_field("out_scale_ptr", ALIGNED + 2), "epilogue->out_scale_ptr: not aligned"),
    ("fused_requant", argument("scale_a", ALIGNED + 4), "scale_a: 1xG group scales must be 16-byte aligned"),
    ("fused_requant", argument("scale_a", ALIGNED + 1), "scale_a: not aligned to its element size"),
    ("fused_requant", argument("scale_a_stride_row", 8), "scale_a_stride_row: 1xG group scales must be rows-contiguous"),
    ("fused_requant", argument("scale_a_stride_k", 301), "scale_a_stride_k: times the scale element size must be"),
    ("fused_requant", argument("scale_b", ALIGNED + 2), "scale_b: not aligned to its element size"),
])
def test_each_refused_argument_is_named_and_reaches_no_driver_call(bundle, driver, kernel_name, edit, expected):
    entry = kernel(bundle, kernel_name)
    arguments = valid_arguments(entry)
    assert launch(driver, entry, arguments) == SUCCESS, message(driver)
    maps = state(driver).tensor_maps
    edit(arguments)
    assert launch(driver, entry, arguments) == INVALID_ARGUMENT
    assert message(driver).startswith(expected), message(driver)
    assert state(driver).launches == 1 and state(driver).tensor_maps == maps
    assert "fp8gen_last_error_message() names it" in driver.fp8gen_error_string(INVALID_ARGUMENT).decode()


def test_launch_before_init_is_refused(bundle, launcher):
    launcher.fp8gen_teardown()
    entry = kernel(bundle, "prefill_e4m3_bf16")
    assert launch(launcher, entry, valid_arguments(entry)) == NOT_INITIALIZED
    assert message(launcher) == "fp8gen_init() has not succeeded"


def test_failed_init_names_the_driver_call_and_unloads_what_it_loaded(bundle, launcher):
    launcher.fp8gen_teardown()
    launcher.fake_driver_reset(3)  # the fourth kernel is not found
    assert launcher.fp8gen_init() == CUDA_ERROR
    assert "cuLibraryGetKernel" in message(launcher)
    assert launcher.fp8gen_last_cuda_error() == 500  # CUDA_ERROR_NOT_FOUND
    assert state(launcher).libraries_loaded == 4 and state(launcher).libraries_unloaded == 4
    entry = kernel(bundle, "prefill_e4m3_bf16")
    assert launch(launcher, entry, valid_arguments(entry)) == NOT_INITIALIZED


def test_init_is_idempotent_and_teardown_unloads_every_kernel(bundle, launcher):
    launcher.fp8gen_teardown()
    launcher.fake_driver_reset(-1)
    kernels = len(read_manifest(bundle)["kernels"])
    assert launcher.fp8gen_init() == SUCCESS and launcher.fp8gen_init() == SUCCESS
    assert state(launcher).libraries_loaded == kernels
    launcher.fp8gen_teardown()
    launcher.fp8gen_teardown()
    assert state(launcher).libraries_unloaded == kernels
