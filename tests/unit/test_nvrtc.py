"""NVRTC compiles rendered kernels to sm_90a cubins on a machine without a GPU."""

import pytest

from fp8gen import CompilationError, GemmSpec, ScaleRecipe
from fp8gen.build import build
from fp8gen.cache import DiskCache
from fp8gen.nvrtc import ResourceUsage, compile_cubin, compile_options
from fp8gen.render import include_dir, render
from fp8gen.toolchain import toolchain
from fp8gen.specfile import load_specs
from tests.conftest import REPO

ELF_MAGIC = b"\x7fELF"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return DiskCache(tmp_path_factory.mktemp("nvrtc-cache"))


@pytest.mark.parametrize("spec", load_specs(REPO / "examples" / "kernels.toml") + [
    GemmSpec(a="e5m2", b="e5m2", out="f32", tile=(128, 64, 64), stages=6),
    GemmSpec(scale_a="group", scale_b="block"),
    GemmSpec(scale_a=ScaleRecipe("group", dtype="ue8m0"), scale_b=ScaleRecipe("group", dtype="ue8m0"), out="f32",
             tile=(128, 64, 128)),
    GemmSpec(scale_a="group", scale_b="group", tile=(64, 64, 128)),
    GemmSpec(scale_a="row", scale_b="row", tile=(64, 128, 128)),
    GemmSpec(scale_a="tensor", scale_b=ScaleRecipe("block", group_size=64), tile=(128, 64, 64), out="f16", stages=4),
    GemmSpec(scale_a=ScaleRecipe("group", group_size=64), scale_b="block", tile=(128, 64, 128)),
    GemmSpec(scale_a="group", scale_b="tensor"),  # A's staged scales, read into registers at issue
    GemmSpec(scale_a="group", scale_b="row", tile=(64, 128, 128)),
    GemmSpec(scale_a="group", scale_b="group", tile=(128, 64, 128)),  # every consumer thread releases
    GemmSpec(scale_a="tensor", scale_b="block"),  # B's block scales staged by cp.async
    GemmSpec(scale_a=ScaleRecipe("group", dtype="ue8m0"), scale_b=ScaleRecipe("block", dtype="ue8m0"),
             tile=(64, 96, 128)),  # UE8M0 block scales from global memory on straddling tiles (was C7518)
    GemmSpec(scale_a="row", scale_b="row", tile=(128, 192, 128)),  # one partial fragment, row factors staged per tile
    GemmSpec(scale_a="group", scale_b="block", tile=(128, 192, 128)),  # tiles straddle two B scale blocks
    GemmSpec(scale_a=ScaleRecipe("group", dtype="ue8m0"), scale_b=ScaleRecipe("block", dtype="ue8m0"),
             tile=(128, 192, 128)),
    GemmSpec(scale_a="group", scale_b="block", tile=(128, 96, 128), out="f32"),
    # the default per-tensor f32 kernel at 8192^3: promotion every 32 of K, deferred and direct mainloops
    GemmSpec(tile=(128, 192, 128), out="f32"),
    GemmSpec(scale_a="group", scale_b="group", tile=(256, 96, 128)),  # two 64-row atoms per warpgroup
    GemmSpec(scale_a="group", scale_b="group", tile=(128, 192, 128), out="f32"),  # B's 1xG scales staged per column
    # B's 1xG factors next to two partials of 64 registers spilled: these keep one partial
    GemmSpec(scale_a="group", scale_b="group"),
    GemmSpec(scale_a="group", scale_b="group", out="f32", tile=(64, 128, 128), schedule="pingpong"),
    GemmSpec(tile=(64, 128, 128), schedule="pingpong"),
    GemmSpec(scale_a="group", scale_b="block", tile=(64, 128, 128), schedule="pingpong", epilogue=["bias", "silu"]),
    GemmSpec(scale_a="row", scale_b="row", tile=(64, 192, 128), schedule="pingpong"),
    GemmSpec(tile=(64, 256, 128), schedule="pingpong", accumulation="fast", out="e4m3", epilogue=["amax"]),
], ids=lambda s: s.name)
def test_spec_compiles_to_sm90a_cubin_with_symbol_and_no_spills(spec, shared_cache):
    artifact = build(spec, cache=shared_cache)
    assert artifact.cubin.startswith(ELF_MAGIC)
    assert spec.symbol.encode() in artifact.cubin
    assert artifact.meta["symbol"] == spec.symbol
    log = artifact.meta["ptxas_log"]
    assert "sm_90a" in log
    resources = artifact.meta["resources"]
    assert resources["spill_stores"] == 0 and resources["spill_loads"] == 0 and resources["stack_frame"] == 0
    assert not resources["wgmma_serialized"], artifact.meta["ptxas_log"]
    assert "C7514" not in log, "ptxas serialized the wgmma pipeline"
    assert "C7508" not in log, "ptxas ignored setmaxnreg"


def test_resource_report_flags_serialized_wgmma():
    log = ("ptxas info    : (C7518) Potential Performance Loss: wgmma.mma_async instructions are serialized due to "
           "program dependence on compiler-inserted WG.DP in divergent path in the function 'k'\n"
           "ptxas info    : Used 168 registers, used 16 barriers\n")
    usage = ResourceUsage.from_log(log)
    assert usage.wgmma_serialized and usage.registers == 168
    assert not ResourceUsage.from_log("ptxas info    : Used 168 registers\n").wgmma_serialized


def test_compile_error_carries_log_and_source_path(tmp_path):
    source = 'extern "C" __global__ void broken_kernel() { this is not cuda; }'
    options = compile_options(toolchain().include_dirs + (str(include_dir()),))
    with pytest.raises(CompilationError) as info:
        compile_cubin(source, "broken_kernel", options, str(tmp_path / "broken.cu"))
    assert info.value.source_path == str(tmp_path / "broken.cu")
    assert "error" in info.value.log
    assert "broken_kernel" in str(info.value) and "broken.cu" in str(info.value)


def test_toolchain_reports_versions():
    tc = toolchain()
    assert tc.nvrtc_version.startswith("13.")
    assert tc.cutlass_version.startswith("4.2.0")
    assert tc.cccl_version.startswith("3.")
    assert tc.cuda_version == "13.0"


def test_precompiled_headers_leave_the_cubin_unchanged():
    spec = GemmSpec(name="pch_probe", scale_a="group", scale_b="block", tile=(128, 64, 128))
    source = render(spec).text
    options = compile_options(toolchain().include_dirs + (str(include_dir()),)) + ["--pch-verbose=true"]
    plain = compile_cubin(source, spec.symbol, options)
    first = compile_cubin(source, spec.symbol, options, precompiled_headers=True)  # saves them (or loads)
    second = compile_cubin(source, spec.symbol, options, precompiled_headers=True)
    assert "using precompiled header file" in second.log, second.log
    assert "precompiled header" not in plain.log
    assert plain.cubin == first.cubin == second.cubin
    assert plain.resources == second.resources


def fake_compiles(monkeypatch):
    """Replace NVRTC by a recorder of each compile's precompiled_headers argument."""
    import fp8gen.build as build_module
    from fp8gen import nvrtc

    calls = []

    def compile_cubin(source, symbol, options, source_path=None, *, precompiled_headers=False):
        calls.append(precompiled_headers)
        return nvrtc.CompiledBinary(cubin=ELF_MAGIC + symbol.encode(), symbol=symbol, log="", seconds=0.0)

    monkeypatch.setattr(nvrtc, "compile_cubin", compile_cubin)
    monkeypatch.setattr(build_module, "_stats", build_module._BuildStats())
    monkeypatch.setattr(build_module, "_memory", {})
    return calls


def test_precompiled_headers_from_the_second_compile_of_a_process_or_the_first_of_a_batch(monkeypatch, tmp_path):
    from fp8gen.build import build_many

    calls = fake_compiles(monkeypatch)
    specs = [GemmSpec(name=f"pch_policy{i}", tile=(128, 64 * (i + 1), 128)) for i in range(3)]
    build(specs[0], cache=DiskCache(tmp_path / "one"))
    build(specs[1], cache=DiskCache(tmp_path / "one"))
    assert calls == [False, True]
    calls = fake_compiles(monkeypatch)
    build_many(specs, cache=DiskCache(tmp_path / "batch"))
    assert calls == [True, True, True]
    calls = fake_compiles(monkeypatch)
    monkeypatch.setenv("FP8GEN_NVRTC_PCH", "0")
    build_many(specs, cache=DiskCache(tmp_path / "off"))
    assert calls == [False, False, False]


def test_a_pch_heap_too_small_for_the_headers_grows_for_the_next_compile():
    from cuda.bindings import nvrtc

    spec = GemmSpec(name="pch_heap_probe", tile=(128, 64, 128))
    options = compile_options(toolchain().include_dirs + (str(include_dir()),))
    assert compile_cubin("__global__ void warm() {}", "warm", options, precompiled_headers=True).cubin
    nvrtc.nvrtcSetPCHHeapSize(1 << 20)
    small = compile_cubin(render(spec).text, spec.symbol, options, precompiled_headers=True)
    assert small.cubin.startswith(ELF_MAGIC)
    err, size = nvrtc.nvrtcGetPCHHeapSize()
    assert size > 256 << 20, "the heap should have grown to what the headers need"
