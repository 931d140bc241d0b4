"""fp8gen/fsutil.py: atomic writes, and the privacy rule for cache and tuning paths."""

import os
import stat

import pytest

from fp8gen.errors import CacheSecurityError
from fp8gen.fsutil import atomic_write, check_private


def test_atomic_write_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "meta.json"
    atomic_write(target, "first")
    atomic_write(target, b"\x00second")
    assert target.read_bytes() == b"\x00second"
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_atomic_write_that_fails_keeps_the_old_file_and_removes_its_temp(tmp_path, monkeypatch):
    target = tmp_path / "kernel.cubin"
    atomic_write(target, b"old")

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["kernel.cubin"]


def test_a_private_directory_passes(tmp_path, monkeypatch):
    monkeypatch.delenv("FP8GEN_TRUST_SHARED_CACHE", raising=False)
    tmp_path.chmod(0o700)
    check_private(tmp_path)
    tmp_path.chmod(0o755)  # readable by others is fine: only writers could plant code
    check_private(tmp_path)


@pytest.mark.parametrize("mode", [0o770, 0o702, 0o777])
def test_a_path_writable_by_group_or_others_is_refused_with_the_fix(tmp_path, monkeypatch, mode):
    monkeypatch.delenv("FP8GEN_TRUST_SHARED_CACHE", raising=False)
    tmp_path.chmod(mode)
    with pytest.raises(CacheSecurityError) as info:
        check_private(tmp_path)
    message = str(info.value)
    assert f"is writable by group or others (mode {stat.filemode(stat.S_IFDIR | mode)})" in message
    assert f"chmod go-w {tmp_path}" in message and "FP8GEN_TRUST_SHARED_CACHE=1" in message
    monkeypatch.setenv("FP8GEN_TRUST_SHARED_CACHE", "1")
    check_private(tmp_path)  # a shared cache the user says they trust


def test_a_path_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("FP8GEN_TRUST_SHARED_CACHE", raising=False)
    tmp_path.chmod(0o700)
    monkeypatch.setattr(os, "getuid", lambda: os.stat(tmp_path).st_uid + 1)  # (the tests may run as root)
    with pytest.raises(CacheSecurityError, match=f"fp8gen cache path {tmp_path} is owned by uid"):
        check_private(tmp_path)
