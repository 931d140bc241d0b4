"""The cache under concurrency, crashes, unusable directories and untrusted permissions."""

import os
import signal
import subprocess
import sys
import warnings

import pytest

from fp8gen import GemmSpec
from fp8gen import build as build_module
from fp8gen.build import build, nvrtc_compile_count
from fp8gen.cache import DiskCache
from fp8gen.errors import CacheSecurityError
from tests.conftest import REPO

SPEC = GemmSpec(tile=(64, 64, 128), name="reliability_probe")
SPEC_ARGS = "tile=(64, 64, 128), name='reliability_probe'"  # the same spec, for child processes


def child_env(cache_dir, **extra):
    return dict(os.environ, FP8GEN_CACHE_DIR=str(cache_dir), PYTHONPATH=str(REPO), **extra)


def entries(cache_dir):
    return sorted(p.name for p in cache_dir.iterdir() if not p.name.startswith("."))


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    monkeypatch.setattr(build_module, "_memory", {})
    monkeypatch.setattr(build_module, "_warned_roots", set())


def test_sixteen_processes_building_one_spec_compile_it_once(cache_dir):
    probe = ("from fp8gen import GemmSpec; from fp8gen.build import build, nvrtc_compile_count; "
             f"a = build(GemmSpec({SPEC_ARGS})); assert len(a.cubin) > 0; print(nvrtc_compile_count())")
    procs = [subprocess.Popen([sys.executable, "-c", probe], env=child_env(cache_dir), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(16)]
    results = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results if err]
    assert sum(int(out.split()[-1]) for out, _ in results) == 1
    assert len(entries(cache_dir)) == 1
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]


KILLED_WRITER = f"""
import time
import fp8gen.cache as cache
from fp8gen import GemmSpec
from fp8gen.build import build
original = cache.atomic_write
def slow_write(path, data):
    original(path, data)
    if path.name == cache.CUBIN_FILE:
        print("writing", flush=True)
        time.sleep(600)
cache.atomic_write = slow_write
build(GemmSpec({SPEC_ARGS}))
"""


def test_process_killed_while_publishing_leaves_nothing_loadable(cache_dir):
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER], env=child_env(cache_dir), stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    cache = DiskCache(cache_dir)
    assert entries(cache_dir) == []  # only the dead process's temp directory is there
    assert [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]
    before = nvrtc_compile_count()
    artifact = build(SPEC, cache=cache)  # the dead process's lock was released by the OS
    assert nvrtc_compile_count() == before + 1 and len(entries(cache_dir)) == 1
    assert cache.remove_stale_temps(older_than=0) == 1
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]
    assert cache.load(artifact.key, SPEC.name).cubin == artifact.cubin


def test_unusable_cache_directory_warns_once_and_keeps_kernels_in_memory(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    cache = DiskCache(blocker / "cache")
    with pytest.warns(UserWarning, match="not usable") as caught:
        first = build(SPEC, cache=cache)
        second = build(GemmSpec(tile=(64, 64, 128), stages=3, name="reliability_probe2"), cache=cache)
    assert len([w for w in caught if "not usable" in str(w.message)]) == 1
    assert first.cubin and second.cubin and first.path is None


def test_group_writable_cache_is_refused_unless_trusted(cache_dir, monkeypatch):
    build(SPEC, cache=DiskCache(cache_dir))
    monkeypatch.setattr(build_module, "_memory", {})
    os.chmod(cache_dir, 0o775)
    with pytest.raises(CacheSecurityError, match="writable by group or others"):
        build(SPEC, cache=DiskCache(cache_dir))
    monkeypatch.setenv("FP8GEN_TRUST_SHARED_CACHE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build(SPEC, cache=DiskCache(cache_dir)).compile_seconds is None


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_entry_owned_by_another_user_is_refused(cache_dir, monkeypatch):
    artifact = build(SPEC, cache=DiskCache(cache_dir))
    monkeypatch.setattr(build_module, "_memory", {})
    os.chown(artifact.path, 12345, 12345)
    with pytest.raises(CacheSecurityError, match="owned by uid 12345"):
        build(SPEC, cache=DiskCache(cache_dir))


def test_new_fp8gen_version_means_new_key(monkeypatch):
    from fp8gen import render
    from fp8gen.toolchain import toolchain

    source = render.render(SPEC)
    old = build_module.cache_key(source, toolchain())
    monkeypatch.setattr(build_module, "__version__", "99.0.0")
    assert build_module.cache_key(source, toolchain()) != old


class _FakeBinary:
    cubin = b"\x7fELF fake cubin"
    seconds = 0.0


def _fake_compile(calls):
    def compile_(spec, source, tc, source_path):
        calls.append(spec.name)
        return _FakeBinary(), {"symbol": spec.symbol, "launch": build_module.launch_metadata(spec)}
    return compile_


def test_a_failed_publish_keeps_the_compiled_kernel_and_compiles_once(cache_dir, monkeypatch):
    calls = []
    monkeypatch.setattr(build_module, "_compile", _fake_compile(calls))
    artifact = build(SPEC)  # publishes an entry; then the entry's place is taken by a file
    build_module._memory.clear()
    import shutil
    shutil.rmtree(artifact.path)
    artifact.path.write_text("")
    with pytest.warns(UserWarning, match="not usable"):
        again = build(SPEC)
    assert calls == [SPEC.name, SPEC.name] and again.cubin == _FakeBinary.cubin and again.path is None


@pytest.mark.parametrize("damage", ["[]", '"x"', "drop launch", "other launch"])
def test_entries_whose_metadata_is_not_the_kernels_are_rebuilt(cache_dir, monkeypatch, damage):
    import json

    calls = []
    monkeypatch.setattr(build_module, "_compile", _fake_compile(calls))
    artifact = build(SPEC)
    meta_path = artifact.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    if damage == "drop launch":
        del meta["launch"]
    elif damage == "other launch":
        meta["launch"]["smem_bytes"] = 1
    meta_path.write_text(json.dumps(meta) if damage in ("drop launch", "other launch") else damage)
    build_module._memory.clear()
    with pytest.warns(UserWarning, match="ignoring corrupt cache entry"):
        rebuilt = build(SPEC)
    assert len(calls) == 2 and rebuilt.meta["launch"] == build_module.launch_metadata(SPEC)


def test_cache_commands_touch_only_entry_directories(cache_dir, monkeypatch, capsys):
    from fp8gen.cli import main

    monkeypatch.setattr(build_module, "_compile", _fake_compile([]))
    artifact = build(SPEC)
    for other in ("tuning", "Documents", "notes.v1"):
        (cache_dir / other).mkdir()
    (artifact.path / "meta.json").write_text('{"spec": "not a table", "versions": "x"}')
    assert main(["cache", "list"]) == 0
    listing = capsys.readouterr().out
    assert "1 entries" in listing and "reliability_probe" in listing and "Documents" not in listing
    assert main(["cache", "clear"]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert sorted(p.name for p in cache_dir.iterdir() if not p.name.startswith(".")) == ["Documents", "notes.v1",
                                                                                          "tuning"]


def test_an_entry_that_cannot_be_read_is_left_in_place(cache_dir, monkeypatch):
    from pathlib import Path

    calls = []
    monkeypatch.setattr(build_module, "_compile", _fake_compile(calls))
    artifact = build(SPEC)
    build_module._memory.clear()
    real_read = Path.read_bytes

    def denied(path):
        if path.parent == artifact.path:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read(path)

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.warns(UserWarning, match="cannot read cache entry"):
        assert DiskCache(cache_dir).load(artifact.key, SPEC.name) is None
    assert (artifact.path / "kernel.cubin").is_file()  # not deleted as corrupt


def test_generated_sources_to_an_unwritable_place_name_it(cache_dir, tmp_path):
    from fp8gen.errors import Fp8genError

    taken = tmp_path / "a-file"
    taken.write_text("")
    with pytest.raises(Fp8genError, match=f"cannot write the rendered source to {taken}"):
        build(SPEC, generated=taken)


def test_cache_info_says_when_no_entry_matches(cache_dir, capsys):
    from fp8gen.cli import main

    assert main(["cache", "info", "abc123"]) == 2
    assert "no cache entry in" in capsys.readouterr().err


def test_a_cache_path_that_is_a_file_is_named_not_listed_as_empty(cache_dir, capsys):
    from fp8gen.cli import main

    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    cache_dir.write_text("not a directory")
    for command in (["cache", "list"], ["cache", "clear"], ["cache", "prune", "--older-than", "1"]):
        assert main(command) == 2
        assert f"fp8gen cache path {cache_dir} exists and is not a directory" in capsys.readouterr().err
    assert cache_dir.read_text() == "not a directory"
    with pytest.warns(UserWarning, match="not usable"):  # a build still works, kept in memory
        assert build(SPEC, cache=DiskCache(cache_dir)).path is None


def test_parallel_builds_use_the_workers_kernels_even_where_the_cache_cannot_keep_them(tmp_path, monkeypatch):
    from fp8gen.build import build_many, nvrtc_compile_count

    monkeypatch.setattr(build_module, "_memory", {})
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    specs = [GemmSpec(name="parallel_a", tile=(64, 64, 128)), GemmSpec(name="parallel_b", tile=(64, 128, 128))]
    compiles = nvrtc_compile_count()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        artifacts = build_many(specs, jobs=2, cache=DiskCache(not_a_directory))
    assert [a.spec for a in artifacts] == specs and all(a.cubin.startswith(b"\x7fELF") for a in artifacts)
    assert all(a.compile_seconds for a in artifacts)
    assert nvrtc_compile_count() == compiles  # compiled in the workers only, not again here
    # each worker found the cache unusable; the caller hears it once, not once per worker
    unusable = [w for w in caught if "is not usable" in str(w.message)]
    assert len(unusable) == 1 and unusable[0].filename == __file__


def test_parallel_builds_start_no_more_workers_than_cores_or_specs(tmp_path, monkeypatch):
    import concurrent.futures
    import os

    from fp8gen.build import build_many

    started = []

    class Refused(Exception):
        pass

    def pool(max_workers, **_):
        started.append(max_workers)
        raise Refused

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    specs = [GemmSpec(name=f"w{i}", tile=(64, 64, 128)) for i in range(6)]
    for jobs, specs_given, workers in ((1000, 6, 4), (1000, 3, 3), (2, 6, 2)):
        with pytest.raises(Refused):
            build_many(specs[:specs_given], jobs=jobs, cache=DiskCache(tmp_path))
        assert started.pop() == workers
