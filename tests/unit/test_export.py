"""Kernel bundles: export, the generated C compiles, manifest schema, load_bundle refusals, cache CLI."""

import json
import shutil
import subprocess

import pytest

from fp8gen import GemmSpec
from fp8gen.cli import main
from fp8gen.errors import BundleError
from fp8gen.export import MANIFEST, export_bundle, load_bundle, read_manifest, validate_manifest
from fp8gen.toolchain import cuda_include_dir


def test_bundle_holds_manifest_cubins_and_sources(bundle):
    manifest = read_manifest(bundle)
    names = [k["name"] for k in manifest["kernels"]]
    assert names == ["prefill_e4m3_bf16", "decode_e4m3_bf16", "grad_e5m2_e4m3_f32", "fast_e4m3_f16", "block_cluster",
                     "fused_requant"]
    for kernel in manifest["kernels"]:
        assert (bundle / kernel["cubin"]).read_bytes().startswith(b"\x7fELF")
        assert kernel["function"] in (bundle / "fp8gen_kernels.h").read_text()
    assert manifest["kernels"][-2]["launch"]["cluster"] == [2, 1]
    assert (bundle / "fp8gen_epilogue_args.h").is_file()
    # the fused kernel's launcher refuses a NULL bias / group-scale pointer (FP8GEN_NEEDS_BIAS | _GROUP_SCALES) and
    # ones not aligned to their elements (bf16 bias: 2 bytes, no residual, float32 group scales: 4)
    assert ", 9, 2, 0, 4}," in (bundle / "fp8gen_kernels.c").read_text()
    # kernels up to 128 wide load only A's M rows when M is below one tile (GemmSpec.narrows_a), the others whole boxes
    assert "a_box_rows = kd->narrows_a && m < kd->block_m" in (bundle / "fp8gen_kernels.c").read_text()
    for name in ("fp8gen_kernels.c", "fp8gen_cubins.c", "CMakeLists.txt", "example/example.c"):
        assert (bundle / name).is_file()


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a C compiler")
@pytest.mark.parametrize("source", ["fp8gen_kernels.c", "example/example.c"])
def test_generated_c_compiles_warning_free_against_the_cuda_headers(bundle, source, tmp_path):
    result = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", str(bundle / source),
                             f"-I{bundle}", f"-I{cuda_include_dir()}", "-o", str(tmp_path / "out.o")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")
def test_launcher_also_compiles_as_cpp(bundle):
    result = subprocess.run(["g++", "-x", "c++", "-fsyntax-only", "-Wall", str(bundle / "fp8gen_kernels.c"),
                             f"-I{cuda_include_dir()}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_manifest_validates_and_schema_violations_are_named(bundle):
    manifest = json.loads((bundle / MANIFEST).read_text())
    validate_manifest(manifest)
    del manifest["kernels"][1]["cubin_sha256"]
    with pytest.raises(BundleError, match=r"manifest.kernels\[1\]: missing cubin_sha256"):
        validate_manifest(manifest)
    manifest["kernels"][1]["cubin_sha256"] = "x"
    manifest["kernels"][0]["launch"]["threads"] = "384"
    with pytest.raises(BundleError, match=r"manifest.kernels\[0\].launch.threads: expected integer"):
        validate_manifest(manifest)


def test_load_bundle_gives_kernels_without_nvrtc(bundle, monkeypatch):
    import fp8gen.nvrtc

    monkeypatch.setattr(fp8gen.nvrtc, "compile_cubin", lambda *a, **k: pytest.fail("load_bundle compiled"))
    kernels = load_bundle(bundle)
    assert kernels["block_cluster"].spec.cluster == (2, 1)
    assert kernels["grad_e5m2_e4m3_f32"].spec.a == "e5m2"


def copy_of(bundle, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(bundle, target)
    return target


def test_load_bundle_refuses_an_altered_cubin(bundle, tmp_path):
    target = copy_of(bundle, tmp_path)
    cubin = target / read_manifest(target)["kernels"][0]["cubin"]
    data = bytearray(cubin.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cubin.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256 does not match the manifest"):
        load_bundle(target)


@pytest.mark.parametrize("field,value,message", [
    ("fp8gen", "0.0.1", "made by fp8gen 0.0.1"),
    ("format", 99, "bundle format 99"),
    ("arch", "sm_80", "built for 'sm_80'"),
])
def test_load_bundle_refuses_other_versions(bundle, tmp_path, field, value, message):
    target = copy_of(bundle, tmp_path)
    manifest = json.loads((target / MANIFEST).read_text())
    manifest[field] = value
    (target / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=message):
        load_bundle(target)


def test_export_and_cache_commands(cache_dir, tmp_path, capsys):
    spec = tmp_path / "one.toml"
    spec.write_text('[[kernel]]\nname = "one"\ntile = [64, 128, 128]\n')
    assert main(["export", str(spec), "-o", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / MANIFEST).is_file()
    capsys.readouterr()
    assert main(["cache", "list"]) == 0
    listing = capsys.readouterr().out
    assert "one" in listing and "1 entries" in listing
    key = read_manifest(tmp_path / "b")["kernels"][0]["cache_key"]
    assert main(["cache", "info", key[:10]]) == 0
    assert json.loads(capsys.readouterr().out)["key"] == key
    assert main(["cache", "prune", "--older-than", "1"]) == 0 and "removed 0" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0 and "removed 1" in capsys.readouterr().out
    assert main(["cache", "info", key[:10]]) == 2


def _edit_manifest(target, edit):
    manifest = json.loads((target / MANIFEST).read_text())
    edit(manifest)
    (target / MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.parametrize("edit,message", [
    (lambda m: m["kernels"][0].update(cubin="../outside.cubin"), "must be relative and inside the bundle"),
    (lambda m: m["kernels"][0].update(cubin="/etc/passwd"), "must be relative and inside the bundle"),
    (lambda m: m["kernels"][0]["launch"].update(smem_bytes=1), r"kernels\[0\].launch is"),
    (lambda m: m["kernels"][0].update(symbol="fp8gen_other"), r"kernels\[0\].symbol is 'fp8gen_other'"),
    (lambda m: m["kernels"][0]["spec"].update(tile=[7, 7, 7]), r"kernels\[0\].spec: tile="),
    (lambda m: m["kernels"].append(m["kernels"][0]), "unique names"),
    (lambda m: m.update(kernels=[]), "one or more kernels"),
])
def test_load_bundle_refuses_inconsistent_manifests(bundle, tmp_path, edit, message):
    target = copy_of(bundle, tmp_path)
    _edit_manifest(target, edit)
    with pytest.raises(BundleError, match=message) as info:
        load_bundle(target)
    assert str(target) in str(info.value) or "cubin" in str(info.value)


def test_export_needs_specs_and_a_directory(tmp_path):
    with pytest.raises(BundleError, match="at least one kernel spec"):
        export_bundle([], tmp_path / "empty")
    taken = tmp_path / "taken"
    taken.write_text("")
    with pytest.raises(BundleError, match="exists and is not a directory"):
        export_bundle([GemmSpec()], taken)


def test_an_export_over_an_earlier_bundle_removes_the_kernels_it_no_longer_lists(tmp_path):
    from fp8gen.export import _remove_other_cubins

    (tmp_path / "kernels").mkdir()
    for name in ("kept", "gone"):
        (tmp_path / "kernels" / f"{name}.cubin").write_bytes(b"\x7fELF")
    _remove_other_cubins(tmp_path, {"kernels/kept.cubin"})
    assert sorted(p.name for p in (tmp_path / "kernels").iterdir()) == ["kept.cubin"]
