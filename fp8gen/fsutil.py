"""Small filesystem helpers shared by the cache, the tuning tables and the source writers."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from . import env
from .errors import CacheSecurityError


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` through a temp file in the same directory and a rename."""
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_private(path: Path) -> None:
    """Refuse a cache path owned by another user or writable by group/others (it would let them
    plant code or choices we then load), unless FP8GEN_TRUST_SHARED_CACHE=1."""
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
