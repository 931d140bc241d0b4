"""A bundle's C launcher, built with CMake and the system C compiler, matches the Python path bit for bit."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import torch

import fp8gen
from fp8gen import GemmSpec, ScaleRecipe
from fp8gen.export import export_bundle, load_bundle
from tests.gpu.support import random_fp8, random_scales

SPECS = [
    GemmSpec(name="tensor_bf16"),
    GemmSpec(name="block_f32", out="f32", scale_a="group", scale_b="block"),
    GemmSpec(name="group_ue8m0", scale_a=ScaleRecipe("group", dtype="ue8m0"), scale_b=ScaleRecipe("group", dtype="ue8m0"),
             tile=(128, 64, 128)),
    GemmSpec(name="row_cluster", scale_a="row", scale_b="row", cluster=(2, 1)),
    GemmSpec(name="block_pingpong", scale_a="group", scale_b="block", tile=(64, 128, 128), schedule="pingpong"),
]


def kernel_specs() -> list[GemmSpec]:
    return SPECS


pytestmark = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("cc") is None,
                                reason="needs cmake and a C compiler")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    bundle = tmp_path_factory.mktemp("bundle")
    export_bundle(SPECS, bundle, jobs=len(SPECS))
    build = bundle / "build"
    for command in (["cmake", "-S", str(bundle), "-B", str(build)], ["cmake", "--build", str(build)]):
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    return bundle, build / "fp8gen_example"


def scales_for(kind: str, rows: int, k: int, generator, dtype: str):
    """A scale tensor in the layout the C launcher reads without a copy (1xG groups: rows contiguous,
    each K group's rows padded to 16 bytes), the contiguous tensor holding it, and its (row, k) strides."""
    s = random_scales(kind, rows, k, generator, dtype)
    if kind != "group":
        stored = s.contiguous()
        return stored, stored, (stored.stride(0) if kind != "tensor" else 0, stored.stride(1) if s.dim() > 1 else 0)
    per_16_bytes = 16 // s.element_size()
    stored = torch.zeros(s.shape[1], -(-rows // per_16_bytes) * per_16_bytes, dtype=s.dtype, device=s.device)
    stored[:, :rows] = s.t()
    view = stored[:, :rows].t()
    return view, stored, (view.stride(0), view.stride(1))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_c_launcher_matches_python_bit_for_bit(built, spec, tmp_path, generator):
    bundle, example = built
    m, n, k = 300, 384, 1040
    a = random_fp8(m, k, torch.float8_e4m3fn, generator)
    b = random_fp8(n, k, torch.float8_e4m3fn, generator)
    dtype = spec.scale_a.dtype
    sa, sa_stored, (sa_row, sa_k) = scales_for(spec.scale_a.kind, m, k, generator, dtype)
    sb, sb_stored, (sb_row, sb_k) = scales_for(spec.scale_b.kind, n, k, generator, spec.scale_b.dtype)
    for name, t in (("a", a), ("b", b), ("scale_a", sa_stored), ("scale_b", sb_stored)):
        (tmp_path / f"{name}.bin").write_bytes(t.view(torch.uint8).cpu().numpy().tobytes())
    args = [spec.name, m, n, k, sa_row, sa_k, sb_row, sb_k, tmp_path]
    result = subprocess.run([str(example), *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    jit_out = fp8gen.compile(spec)(a, b, sa, sb, split_k=1)  # the C launchers never split K
    bundle_out = load_bundle(bundle)[spec.name](a, b, sa, sb, split_k=1)
    c_out = torch.frombuffer(bytearray((tmp_path / "d.bin").read_bytes()), dtype=jit_out.dtype).view(m, n)
    assert torch.equal(c_out, jit_out.cpu()), "the C launcher and the Python JIT path differ"
    assert torch.equal(bundle_out, jit_out), "load_bundle and the Python JIT path differ"
    assert not torch.isnan(c_out).any()


def test_example_refuses_bad_numbers_and_short_files_before_launching(built, tmp_path):
    _, example = built
    (tmp_path / "a.bin").write_bytes(bytes(64 * 128 - 1))  # one byte short of M x K
    for name in ("b.bin", "scale_a.bin", "scale_b.bin"):
        (tmp_path / name).write_bytes(bytes(64 * 128))
    for args, message in ((["64", "64", "12x"], "K = '12x' is not an integer from 16"),
                          (["0", "64", "128"], "M = '0' is not an integer from 1"),
                          (["64", "64", "128"], "a.bin holds 8191 bytes; the shape needs at least 8192")):
        result = subprocess.run([str(example), SPECS[0].name, *args, "0", "0", "0", "0", str(tmp_path)],
                                capture_output=True, text=True)
        assert result.returncode == 2 and message in result.stderr, result.stderr
