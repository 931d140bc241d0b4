"""Content-addressed on-disk store of compiled kernels. Knows nothing of NVRTC.

An entry is a directory `<name>.<key prefix>/` holding `kernel.cubin`,
`kernel.cu` and `meta.json` (which records the cubin's sha256). Entries are
built in a temp directory beside the final one and published with one rename,
so a reader sees a complete entry or none. A per-entry file lock only saves
duplicate compiles; correctness comes from the rename and the checksum.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import env
from .errors import CacheSecurityError
from .fsutil import atomic_write

STALE_TEMP_SECONDS = 3600  # a temp directory this old belongs to a process that died mid-publish
CUBIN_FILE = "kernel.cubin"
SOURCE_FILE = "kernel.cu"
META_FILE = "meta.json"


@dataclass(frozen=True)
class CachedEntry:
    cubin: bytes
    meta: dict
    path: Path


@dataclass(frozen=True)
class EntryInfo:
    path: Path
    meta: dict
    bytes: int
    modified: float

    @property
    def name(self) -> str:
        return self.meta.get("spec", {}).get("name", self.path.name.rsplit(".", 1)[0])


class DiskCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def entry_dir(self, key: str, name: str) -> Path:
        return self.root / f"{name}.{key[:24]}"

    def _ensure_root(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.check_private(self.root)

    @staticmethod
    def check_private(path: Path) -> None:
        """Refuse a cache path owned by another user or writable by group/others (it would let them
        plant code we then load), unless FP8GEN_TRUST_SHARED_CACHE=1."""
        if env.trust_shared_cache():
            return
        info = path.stat()
        if info.st_uid != os.getuid():
            raise CacheSecurityError(f"fp8gen cache path {path} is owned by uid {info.st_uid}, not by you "
                                     f"(uid {os.getuid()}); set FP8GEN_CACHE_DIR to a private directory, or "
                                     "FP8GEN_TRUST_SHARED_CACHE=1 for a shared cache you trust")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise CacheSecurityError(f"fp8gen cache path {path} is writable by group or others "
                                     f"(mode {stat.filemode(info.st_mode)}); run `chmod go-w {path}`, or set "
                                     "FP8GEN_TRUST_SHARED_CACHE=1 for a shared cache you trust")

    def remove_stale_temps(self, older_than: float = STALE_TEMP_SECONDS) -> int:
        """Delete temp directories left by processes that died while publishing. Returns how many."""
        removed = 0
        now = time.time()
        for tmp in self.root.glob(".tmp-*"):
            try:
                if now - tmp.stat().st_mtime > older_than:
                    shutil.rmtree(tmp, ignore_errors=True)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def load(self, key: str, name: str) -> CachedEntry | None:
        """The entry for `key`, or None if absent. A corrupt entry is removed with a warning."""
        path = self.entry_dir(key, name)
        if not path.is_dir():
            return None
        self.check_private(self.root)
        self.check_private(path)
        try:
            meta = json.loads((path / META_FILE).read_text())
            cubin = (path / CUBIN_FILE).read_bytes()
        except (OSError, ValueError) as exc:
            return self._discard(path, f"unreadable ({exc})")
        if meta.get("key") != key:
            return self._discard(path, "its metadata names another key")
        if hashlib.sha256(cubin).hexdigest() != meta.get("cubin_sha256"):
            return self._discard(path, "the cubin does not match its recorded sha256")
        return CachedEntry(cubin=cubin, meta=meta, path=path)

    def _discard(self, path: Path, why: str) -> None:
        warnings.warn(f"fp8gen: ignoring corrupt cache entry {path}: {why}; it will be rebuilt", stacklevel=3)
        shutil.rmtree(path, ignore_errors=True)
        return None

    def publish(self, key: str, name: str, cubin: bytes, meta: dict, source: str) -> CachedEntry:
        """Store an entry atomically. If another process published it first, theirs is kept."""
        self._ensure_root()
        self.remove_stale_temps()
        final = self.entry_dir(key, name)
        meta = dict(meta, key=key, cubin_sha256=hashlib.sha256(cubin).hexdigest())
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".tmp-{name}."))
        try:
            atomic_write(tmp / CUBIN_FILE, cubin)
            atomic_write(tmp / SOURCE_FILE, source)
            atomic_write(tmp / META_FILE, json.dumps(meta, indent=2, sort_keys=True))
            os.rename(tmp, final)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not final.is_dir():
                raise
        return CachedEntry(cubin=cubin, meta=meta, path=final)

    def entries(self) -> list[EntryInfo]:
        """Every published entry, newest first (unreadable ones included, with empty metadata)."""
        if not self.root.is_dir():
            return []
        infos = []
        for path in self.root.iterdir():
            if path.name.startswith(".") or not path.is_dir():
                continue
            try:
                meta = json.loads((path / META_FILE).read_text())
            except (OSError, ValueError):
                meta = {}
            files = [f for f in path.iterdir() if f.is_file()]
            infos.append(EntryInfo(path=path, meta=meta, bytes=sum(f.stat().st_size for f in files),
                                   modified=path.stat().st_mtime))
        return sorted(infos, key=lambda e: e.modified, reverse=True)

    def find(self, key_prefix: str) -> list[EntryInfo]:
        return [e for e in self.entries() if e.meta.get("key", "").startswith(key_prefix)
                or e.path.name.split(".")[-1].startswith(key_prefix)]

    def remove(self, entries: list[EntryInfo]) -> int:
        for entry in entries:
            shutil.rmtree(entry.path, ignore_errors=True)
        return len(entries)

    def older_than(self, seconds: float) -> list[EntryInfo]:
        now = time.time()
        return [e for e in self.entries() if now - e.modified > seconds]

    @contextlib.contextmanager
    def lock(self, key: str, name: str) -> Iterator[None]:
        """Exclusive advisory lock for building one entry (released by the OS if the holder dies)."""
        self._ensure_root()
        lock_path = self.root / f".{name}.{key[:24]}.lock"
        with open(lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
