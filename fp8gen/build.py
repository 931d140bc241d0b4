"""The build pipeline: spec -> rendered source -> cache key -> (cache hit | NVRTC compile + publish) -> Artifact."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from . import env, nvrtc
from .errors import CacheSecurityError, CompilationError, Fp8genError
from .cache import DiskCache
from .render import RenderedSource, include_dir, render, write_generated
from .spec import GemmSpec, require_spec
from .toolchain import Toolchain, toolchain
from .version import __version__


@dataclass(frozen=True)
class Artifact:
    """A compiled kernel: the cubin plus what the runtime needs to launch it."""

    spec: GemmSpec
    key: str
    cubin: bytes
    meta: dict
    path: Path | None = None
    compile_seconds: float | None = None  # None when it came from the disk cache

    @property
    def symbol(self) -> str:
        return self.meta["symbol"]

    @property
    def resources(self) -> nvrtc.ResourceUsage:
        """What ptxas reported, read from the log every cache entry keeps (the `resources` field of older
        entries lacks the serialization flag)."""
        return nvrtc.ResourceUsage.from_log(self.meta.get("ptxas_log", ""))


@dataclass
class _BuildStats:
    nvrtc_compiles: int = 0
    batch: bool = False  # build_many is compiling several kernels in this process
    lock: threading.Lock = field(default_factory=threading.Lock)


_stats = _BuildStats()
_memory: dict[tuple[GemmSpec, str], Artifact] = {}
_memory_lock = threading.Lock()


def nvrtc_compile_count() -> int:
    """How many times this process has invoked NVRTC (tests use it to prove cache hits)."""
    return _stats.nvrtc_compiles


def cache_key(source: RenderedSource, tc: Toolchain) -> str:
    material = {
        "fp8gen": __version__,
        "source_sha256": hashlib.sha256(source.text.encode()).hexdigest(),
        "dependencies": source.dependencies,
        "toolchain": tc.identity(),
        "options": nvrtc.BASE_OPTIONS,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def launch_metadata(spec: GemmSpec) -> dict:
    bm, bn, bk = spec.tile
    return {
        "threads": 128 * (1 + spec.consumer_warpgroups),
        "smem_bytes": spec.smem_bytes(spec.stages),
        "tile": [bm, bn, bk],
        "cluster": list(spec.cluster),
        "output_box": list(spec.output_box),
        "output_swizzle_bytes": spec.output_row_bytes,
    }


def _precompiled_headers() -> bool:
    """NVRTC's precompiled headers pay from a process's second compile on (the first saves them, +20%; each
    later one is 2.2x faster), and from the first in a batch; FP8GEN_NVRTC_PCH=0 switches them off."""
    return env.precompiled_headers() and (_stats.batch or _stats.nvrtc_compiles > 0)


def _compile(spec: GemmSpec, source: RenderedSource, tc: Toolchain, source_path: Path | None) -> tuple[nvrtc.CompiledBinary, dict]:
    options = nvrtc.compile_options(tc.include_dirs + (str(include_dir()),))
    pch = _precompiled_headers()
    if source_path is None:
        # Only written when compiling fails, so the error can point at it.
        try:
            binary = nvrtc.compile_cubin(source.text, source.symbol, options, precompiled_headers=pch)
        except CompilationError:
            failed = Path(tempfile.mkdtemp(prefix="fp8gen-failed-")) / f"{source.symbol}.cu"
            failed.write_text(source.text)
            binary = nvrtc.compile_cubin(source.text, source.symbol, options, str(failed), precompiled_headers=pch)
    else:
        binary = nvrtc.compile_cubin(source.text, source.symbol, options, str(source_path), precompiled_headers=pch)
    with _stats.lock:
        _stats.nvrtc_compiles += 1
    meta = {
        "symbol": source.symbol,
        "spec": spec.to_dict(),
        "launch": launch_metadata(spec),
        "resources": binary.resources.__dict__,
        "versions": {"fp8gen": __version__, **tc.identity()},
        "compile_seconds": round(binary.seconds, 3),
        "created": time.time(),
        "ptxas_log": binary.log,
    }
    return binary, meta


def build(spec: GemmSpec, *, cache: DiskCache | None = None, generated: Path | None = None) -> Artifact:
    """Compile `spec` (or fetch it from the in-process or disk cache)."""
    require_spec(spec)
    cache = cache or DiskCache(env.cache_dir())
    memo_key = (spec, str(cache.root))
    with _memory_lock:
        if memo_key in _memory and generated is None:
            return _memory[memo_key]
    source = render(spec)
    tc = toolchain()  # (a missing toolchain is reported before any source is written)
    source_path = None
    if generated is not None or env.keep_generated():
        source_path = _write_source(source, generated or env.generated_dir())
    key = cache_key(source, tc)
    artifact = _load(spec, key, cache) or _build_locked(spec, source, key, tc, cache, source_path)
    with _memory_lock:
        _memory[memo_key] = artifact
    return artifact


def _write_source(source: RenderedSource, directory: Path) -> Path:
    try:
        return write_generated(source, directory)
    except OSError as exc:
        raise Fp8genError(f"cannot write the rendered source to {directory} ({exc.strerror or exc}): give a "
                          "directory for generated sources (-o, FP8GEN_GENERATED_DIR)") from None


def _load(spec: GemmSpec, key: str, cache: DiskCache) -> Artifact | None:
    # (An entry whose symbol or launch geometry is not the spec's is corrupt: the launch would use it.)
    entry = cache.load(key, spec.name, expect={"symbol": spec.symbol, "launch": launch_metadata(spec)})
    if entry is None:
        return None
    return Artifact(spec=spec, key=key, cubin=entry.cubin, meta=entry.meta, path=entry.path)


def _build_locked(spec, source, key, tc, cache: DiskCache, source_path) -> Artifact:
    try:
        with cache.lock(key, spec.name):
            found = _load(spec, key, cache)
            if found is not None:
                return found
            binary, meta = _compile(spec, source, tc, source_path)
            return _published(spec, key, binary, meta, source, cache)
    except CacheSecurityError:
        raise
    except OSError as exc:  # the lock or the lookup failed: nothing compiled yet
        _warn_cache_unusable(cache, exc)
        binary, meta = _compile(spec, source, tc, source_path)
        return Artifact(spec=spec, key=key, cubin=binary.cubin, meta=dict(meta, key=key), compile_seconds=binary.seconds)


def _published(spec, key, binary, meta, source, cache: DiskCache) -> Artifact:
    """The compiled kernel, stored in the cache where that works (kept in memory where it does not)."""
    try:
        entry = cache.publish(key, spec.name, binary.cubin, meta, source.text)
    except OSError as exc:
        _warn_cache_unusable(cache, exc)
        return Artifact(spec=spec, key=key, cubin=binary.cubin, meta=dict(meta, key=key), compile_seconds=binary.seconds)
    return Artifact(spec=spec, key=key, cubin=binary.cubin, meta=entry.meta, path=entry.path,
                    compile_seconds=binary.seconds)


_warned_roots: set[str] = set()


def _warn_cache_unusable(cache: DiskCache, exc: OSError) -> None:
    """One warning per cache directory and process: kernels are then kept in memory only."""
    if str(cache.root) in _warned_roots:
        return
    _warned_roots.add(str(cache.root))
    warnings.warn(f"fp8gen: cache directory {cache.root} is not usable ({exc}); compiled kernels are kept "
                  "in memory for this process only", stacklevel=4)


def _start_batch_worker() -> None:
    _stats.batch = True


def _build_in_worker(spec: GemmSpec, cache_root: str, generated: str | None) -> tuple[Artifact, list[tuple]]:
    """The artifact and the warnings its build raised, which the parent shows (once, under its own filters)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        artifact = build(spec, cache=DiskCache(Path(cache_root)), generated=Path(generated) if generated else None)
    return artifact, [(str(w.message), w.category) for w in caught]


def _show_worker_warnings(caught: list[tuple], shown: set) -> None:
    for message, category in caught:
        if (message, category) not in shown:
            shown.add((message, category))
            warnings.warn(message, category, stacklevel=3)


def build_many(specs: list[GemmSpec], *, jobs: int = 1, cache: DiskCache | None = None,
               generated: Path | None = None, on_done=None) -> list[Artifact]:
    """Build several specs, `jobs` NVRTC compiles at a time (in processes: NVRTC holds the GIL; at most one per
    spec and per CPU core).

    `on_done(artifact)` is called as each one finishes.
    """
    specs = [require_spec(spec) for spec in specs]
    cache = cache or DiskCache(env.cache_dir())
    # NVRTC is CPU-bound and takes ~1.3 GB a compile: workers past the cores (or the specs) only cost memory
    jobs = min(jobs, len(specs), os.cpu_count() or 1)
    if jobs <= 1:
        results = []
        batch, _stats.batch = _stats.batch, len(specs) > 1
        try:
            for spec in specs:
                results.append(build(spec, cache=cache, generated=generated))
                if on_done:
                    on_done(results[-1])
        finally:
            _stats.batch = batch
        return results
    import concurrent.futures as cf
    import multiprocessing

    built: dict[GemmSpec, Artifact] = {}
    shown_warnings: set = set()
    context = multiprocessing.get_context("spawn")
    # a worker that compiles more than one kernel saves the headers from its first compile on
    initializer = _start_batch_worker if len(specs) > jobs else None
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=initializer) as pool:
        futures = {pool.submit(_build_in_worker, s, str(cache.root), str(generated) if generated else None): s
                   for s in specs}
        for future in cf.as_completed(futures):
            spec = futures[future]
            # the worker's artifact, not a second build here: with a cache that cannot keep kernels, that
            # would compile every kernel again
            built[spec], caught = future.result()
            _show_worker_warnings(caught, shown_warnings)
            with _memory_lock:
                _memory[(spec, str(cache.root))] = built[spec]
            if on_done:
                on_done(built[spec])
    return [built[s] for s in specs]


