"""Disk cache: hits without NVRTC, keys that follow every input, atomic entries, corruption handling."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from fp8gen import GemmSpec, build as build_module, render
from fp8gen.build import build, cache_key, nvrtc_compile_count
from fp8gen.cache import CUBIN_FILE, META_FILE, DiskCache
from fp8gen.toolchain import Toolchain, toolchain
from tests.conftest import REPO

SPEC = GemmSpec(tile=(64, 64, 128), name="cache_probe")


@pytest.fixture
def fresh_memory(monkeypatch):
    monkeypatch.setattr(build_module, "_memory", {})


def test_second_build_in_process_and_on_disk_skips_nvrtc(cache_dir, fresh_memory, monkeypatch):
    cache = DiskCache(cache_dir)
    before = nvrtc_compile_count()
    first = build(SPEC, cache=cache)
    assert nvrtc_compile_count() == before + 1 and first.compile_seconds is not None
    assert build(SPEC, cache=cache) is first  # in-process cache
    monkeypatch.setattr(build_module, "_memory", {})
    again = build(SPEC, cache=cache)  # disk cache
    assert nvrtc_compile_count() == before + 1
    assert again.compile_seconds is None and again.cubin == first.cubin
    entries = [p for p in cache_dir.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and entries[0].name.startswith("cache_probe.")
    assert oct(cache_dir.stat().st_mode & 0o777) == "0o700"


def test_a_new_process_with_a_warm_cache_never_calls_nvrtc(cache_dir, fresh_memory):
    build(SPEC, cache=DiskCache(cache_dir))
    probe = ("import fp8gen; from fp8gen.build import build, nvrtc_compile_count; "
             "a = build(fp8gen.GemmSpec(tile=(64, 64, 128), name='cache_probe')); "
             "print(nvrtc_compile_count(), a.compile_seconds)")
    env = dict(os.environ, FP8GEN_CACHE_DIR=str(cache_dir), PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "None"]


def _key(spec=SPEC, tc=None):
    return cache_key(render.render(spec), tc or toolchain())


def test_key_changes_with_spec_toolchain_and_options(monkeypatch):
    base = _key()
    assert _key(GemmSpec(tile=(64, 64, 128), name="cache_probe", stages=3)) != base
    tc = toolchain()
    assert _key(tc=Toolchain(tc.include_dirs, "13.1", tc.cutlass_version)) != base
    assert _key(tc=Toolchain(tc.include_dirs, tc.nvrtc_version, "4.3.0")) != base
    assert _key(tc=Toolchain(tc.include_dirs, tc.nvrtc_version, tc.cutlass_version, "3.3.0")) != base
    assert _key(tc=Toolchain(tc.include_dirs, tc.nvrtc_version, tc.cutlass_version, tc.cccl_version, "13.1")) != base
    assert _key(tc=Toolchain(("/elsewhere",), tc.nvrtc_version, tc.cutlass_version, tc.cccl_version,
                             tc.cuda_version)) == base  # the same headers found at another path
    monkeypatch.setattr(build_module.nvrtc, "BASE_OPTIONS", build_module.nvrtc.BASE_OPTIONS + ("-lineinfo",))
    assert _key() != base


def test_key_changes_when_a_header_changes(tmp_path, monkeypatch):
    base = _key()
    copy = tmp_path / "templates"
    shutil.copytree(render.template_dir(), copy)
    monkeypatch.setattr(render, "template_dir", lambda: copy)
    monkeypatch.setattr(render, "_environment", render._environment.__wrapped__)
    assert _key() == base
    header = copy / "include" / "fp8gen" / "pipeline.cuh"
    header.write_text(header.read_text() + "\n// changed\n")
    assert _key() != base


def test_corrupt_cubin_is_detected_and_rebuilt(cache_dir, fresh_memory, monkeypatch):
    cache = DiskCache(cache_dir)
    first = build(SPEC, cache=cache)
    (first.path / CUBIN_FILE).write_bytes(first.cubin[: len(first.cubin) // 2])
    monkeypatch.setattr(build_module, "_memory", {})
    before = nvrtc_compile_count()
    with pytest.warns(UserWarning, match="does not match its recorded sha256"):
        rebuilt = build(SPEC, cache=cache)
    assert nvrtc_compile_count() == before + 1
    assert rebuilt.cubin == first.cubin
    assert cache.load(first.key, SPEC.name) is not None


def test_unreadable_metadata_is_detected(cache_dir, fresh_memory):
    cache = DiskCache(cache_dir)
    first = build(SPEC, cache=cache)
    (first.path / META_FILE).write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable"):
        assert cache.load(first.key, SPEC.name) is None
    assert not first.path.exists()


def test_publish_is_atomic_and_keeps_the_first_entry(tmp_path):
    cache = DiskCache(tmp_path / "c")
    a = cache.publish("k" * 64, "n", b"cubin-a", {"symbol": "s"}, "src")
    b = cache.publish("k" * 64, "n", b"cubin-b", {"symbol": "s"}, "src")
    assert a.path == b.path
    assert cache.load("k" * 64, "n").cubin == b"cubin-a"
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.startswith(".tmp-")]
    meta = json.loads((a.path / META_FILE).read_text())
    assert meta["key"] == "k" * 64 and len(meta["cubin_sha256"]) == 64
