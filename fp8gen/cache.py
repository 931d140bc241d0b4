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
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import ConfigurationError
from .fsutil import atomic_write, check_private
from .spec import NAME_PATTERN

STALE_TEMP_SECONDS = 3600  # a temp directory this old belongs to a process that died mid-publish
CUBIN_FILE = "kernel.cubin"
SOURCE_FILE = "kernel.cu"
META_FILE = "meta.json"
# An entry directory's name: <kernel name>.<24 hex digits of its key>. Nothing else under the root is an entry
# (the tuning tables live in tuning/, and a user may point FP8GEN_CACHE_DIR at a directory holding other things).
ENTRY_NAME = re.compile(rf"{NAME_PATTERN.pattern}\.[0-9a-f]{{24}}")


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
        spec = self.meta.get("spec")
        name = spec.get("name") if isinstance(spec, dict) else None
        return name if isinstance(name, str) else self.path.name.rsplit(".", 1)[0]

    @property
    def fp8gen_version(self) -> str:
        versions = self.meta.get("versions")
        return str(versions.get("fp8gen", "?")) if isinstance(versions, dict) else "?"


class DiskCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def entry_dir(self, key: str, name: str) -> Path:
        return self.root / f"{name}.{key[:24]}"

    def _ensure_root(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private(self.root)

    def _refuse_a_root_that_is_not_a_directory(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise ConfigurationError(f"fp8gen cache path {self.root} exists and is not a directory; point "
                                     "FP8GEN_CACHE_DIR at a directory")

    def prepare(self) -> None:
        """Create the cache directory, or raise: for callers that exist to fill the cache (`fp8gen build`),
        where compiling into a cache that cannot keep the kernels would be wasted work. (Library calls keep
        their kernels in memory instead, with a warning.)"""
        self._refuse_a_root_that_is_not_a_directory()
        try:
            self._ensure_root()
        except OSError as exc:
            raise ConfigurationError(f"fp8gen cache path {self.root} cannot be used ({exc.strerror}); point "
                                     "FP8GEN_CACHE_DIR at a writable directory") from None

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

    def load(self, key: str, name: str, expect: dict | None = None) -> CachedEntry | None:
        """The entry for `key`, or None if absent. A corrupt entry is removed with a warning: unreadable, not
        matching its key or cubin checksum, or whose metadata lacks a field of `expect` with that value."""
        path = self.entry_dir(key, name)
        if not path.is_dir():
            return None
        check_private(self.root)
        check_private(path)
        try:
            meta = json.loads((path / META_FILE).read_text())
            cubin = (path / CUBIN_FILE).read_bytes()
        except (FileNotFoundError, ValueError) as exc:
            return self._discard(path, f"incomplete or garbled ({exc})")
        except OSError as exc:  # (permissions, I/O errors: the entry may be fine; it is left in place)
            warnings.warn(f"fp8gen: cannot read cache entry {path} ({exc}); the kernel is compiled again",
                          stacklevel=2)
            return None
        if not isinstance(meta, dict):
            return self._discard(path, "its metadata is not a JSON object")
        if meta.get("key") != key:
            return self._discard(path, "its metadata names another key")
        if hashlib.sha256(cubin).hexdigest() != meta.get("cubin_sha256"):
            return self._discard(path, "the cubin does not match its recorded sha256")
        for field, value in (expect or {}).items():
            if meta.get(field) != value:
                return self._discard(path, f"its metadata's {field!r} is not the kernel's")
        return CachedEntry(cubin=cubin, meta=meta, path=path)

    def _discard(self, path: Path, why: str) -> None:
        shutil.rmtree(path, ignore_errors=True)
        if path.exists():
            warnings.warn(f"fp8gen: ignoring corrupt cache entry {path}: {why}; it cannot be removed (check its "
                          "permissions and remove it by hand): the kernel is compiled again meanwhile", stacklevel=3)
        else:
            warnings.warn(f"fp8gen: ignoring corrupt cache entry {path}: {why}; it will be rebuilt", stacklevel=3)
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
        """Every published entry (a directory named like one), newest first; unreadable ones included, with
        empty metadata."""
        self._refuse_a_root_that_is_not_a_directory()
        if not self.root.is_dir():
            return []
        infos = []
        for path in self.root.iterdir():
            if not ENTRY_NAME.fullmatch(path.name) or not path.is_dir():
                continue
            infos.append(self._entry_info(path))
        return sorted(infos, key=lambda e: e.modified, reverse=True)

    @staticmethod
    def _entry_info(path: Path) -> EntryInfo:
        try:
            meta = json.loads((path / META_FILE).read_text())
        except (OSError, ValueError):
            meta = {}
        try:
            size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        except OSError:
            size = 0
        return EntryInfo(path=path, meta=meta if isinstance(meta, dict) else {}, bytes=size,
                         modified=path.stat().st_mtime)

    def find(self, key_prefix: str) -> list[EntryInfo]:
        return [e for e in self.entries() if str(e.meta.get("key", "")).startswith(key_prefix)
                or e.path.name.split(".")[-1].startswith(key_prefix)]

    def remove(self, entries: list[EntryInfo]) -> int:
        """Delete entries; returns how many are gone."""
        for entry in entries:
            shutil.rmtree(entry.path, ignore_errors=True)
        return sum(1 for entry in entries if not entry.path.exists())

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
