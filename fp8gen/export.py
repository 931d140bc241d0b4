"""Kernel bundles: compiled kernels plus a plain-C launcher for projects without Python or NVRTC.

A bundle directory holds manifest.json (versioned), kernels/<symbol>.cubin, fp8gen_cubins.c (the same
cubins as byte arrays), fp8gen_kernels.h / .c (launch functions over the CUDA driver API),
CMakeLists.txt and example/example.c. The C sources come from templates/export/*.j2.
`load_bundle` turns a bundle back into Python kernels without NVRTC.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .api import Kernel
from .build import Artifact, build_many, launch_metadata
from .cache import DiskCache
from .epilogue import find
from .errors import BundleError, SpecError
from .fsutil import atomic_write
from .render import _environment, include_dir
from .spec import OUT_BYTES, SCALE_BYTES, GemmSpec, require_spec
from .version import __version__

BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"
ARCH = "sm_90a"
SOURCES = {  # template -> file in the bundle
    "export/fp8gen_kernels.h.j2": "fp8gen_kernels.h",
    "export/fp8gen_kernels.c.j2": "fp8gen_kernels.c",
    "export/fp8gen_cubins.c.j2": "fp8gen_cubins.c",
    "export/CMakeLists.txt.j2": "CMakeLists.txt",
    "export/example.c.j2": "example/example.c",
}
SIGNATURE = [
    ["a", "const void*"], ["lda", "int64_t"], ["b", "const void*"], ["ldb", "int64_t"], ["d", "void*"],
    ["ldd", "int64_t"], ["m", "int"], ["n", "int"], ["k", "int"], ["scale_a", "const void*"],
    ["scale_a_stride_row", "int64_t"], ["scale_a_stride_k", "int64_t"], ["scale_b", "const void*"],
    ["scale_b_stride_row", "int64_t"], ["scale_b_stride_k", "int64_t"],
    ["epilogue", "const fp8gen_epilogue_args*"], ["stream", "CUstream"],
]
EPILOGUE_ARGS_HEADER = "fp8gen_epilogue_args.h"  # the bundle's copy of templates/include/fp8gen/epilogue_args.h
EPILOGUE_NEEDS = {"bias": 1, "residual": 2, "amax": 4, "group_quantize": 8}  # FP8GEN_NEEDS_* in the C launcher
CONSTRAINTS = {
    "k": "K > 0 and K % 16 == 0",
    "leading_dimensions": "lda, ldb >= K; ldd >= N",
    "alignment": "a, b, d and 1xG scales 16-byte aligned; lda, ldb multiples of 16; ldd and N times the output "
                 "element size multiples of 16 bytes",
    "epilogue": "the pointers the kernel's chain reads (bias, residual, amax, group scales) non-NULL",
    "group_scales": "1xG scales rows-contiguous (stride_row == 1), stride_k a multiple of 16 bytes",
    "split_k": "never (splits = 1)",
}


def launch_function(spec: GemmSpec) -> str:
    return f"fp8gen_run_{spec.name}"


def _kernel_entry(artifact: Artifact) -> dict:
    spec, launch = artifact.spec, artifact.meta["launch"]
    return {
        "name": spec.name,
        "function": launch_function(spec),
        "symbol": artifact.symbol,
        "spec": spec.to_dict(),
        "summary": spec.summary(),
        "cubin": f"kernels/{artifact.symbol}.cubin",
        "cubin_sha256": hashlib.sha256(artifact.cubin).hexdigest(),
        "cache_key": artifact.key,
        "launch": launch,
        "versions": artifact.meta.get("versions", {}),
        "resources": artifact.meta.get("resources", {}),
        "signature": SIGNATURE,
        "constraints": CONSTRAINTS,
    }


def _template_kernel(entry: dict, spec: GemmSpec, cubin: bytes) -> dict:
    """What the C templates need of one kernel (all from the manifest entry and the cubin)."""
    launch = entry["launch"]
    return {
        **entry,
        "tile": launch["tile"], "cluster_m": launch["cluster"][0], "threads": launch["threads"],
        "smem_bytes": launch["smem_bytes"], "out_bytes": OUT_BYTES[spec.out], "output_box": launch["output_box"],
        "output_swizzle_bytes": launch["output_swizzle_bytes"],
        "narrows_a": int(spec.narrows_a), "staged_groups_a": spec.staged_groups("a"), "staged_groups_b": spec.staged_groups("b"),
        "scale_bytes_a": SCALE_BYTES[spec.scale_a.dtype], "scale_bytes_b": SCALE_BYTES[spec.scale_b.dtype],
        "epilogue_needs": sum(EPILOGUE_NEEDS.get(op.op, 0) for op in spec.epilogue),
        "bias_bytes": _element_bytes(spec, "bias"), "residual_bytes": _element_bytes(spec, "residual"),
        "group_scale_bytes": _element_bytes(spec, "group_quantize"),
        "cubin_size": len(cubin),
        "cubin_rows": [", ".join(str(byte) for byte in cubin[i:i + 24]) for i in range(0, len(cubin), 24)],
    }


def _element_bytes(spec: GemmSpec, op_name: str) -> int:
    """Bytes per element of the tensor an epilogue op reads or writes; 0 when the chain has no such op."""
    op = find(spec.epilogue, op_name)
    if op is None:
        return 0
    return SCALE_BYTES[op.dtype] if op_name == "group_quantize" else OUT_BYTES[op.dtype]


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    path.chmod(0o644)  # a bundle is for others to build and ship


def export_bundle(specs: list[GemmSpec], directory: Path, *, jobs: int = 1, cache: DiskCache | None = None) -> Path:
    """Build `specs` (or take them from the cache) and write a bundle into `directory`. Returns its manifest path."""
    directory = Path(directory)
    specs = [require_spec(spec) for spec in specs]
    if not specs:
        raise BundleError("a bundle needs at least one kernel spec")
    if directory.exists() and not directory.is_dir():
        raise BundleError(f"bundle directory {directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not (directory / MANIFEST).is_file():
        raise BundleError(f"bundle directory {directory} is not empty and holds no bundle ({MANIFEST}): "
                          "export into a new or empty directory, or over an earlier bundle")
    grouped = [s.name for s in specs if s.grouping != "none"]
    if grouped:
        raise BundleError(f"grouped kernels cannot be exported yet: {grouped}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise BundleError(f"kernel names in a bundle must be unique, got {names}")
    artifacts = build_many(specs, jobs=jobs, cache=cache)
    entries = [_kernel_entry(a) for a in artifacts]
    for artifact, entry in zip(artifacts, entries):
        _write(directory / entry["cubin"], artifact.cubin)
    parameters = {"fp8gen_version": __version__,
                  "kernels": [_template_kernel(e, a.spec, a.cubin) for e, a in zip(entries, artifacts)]}
    for template, filename in SOURCES.items():
        _write(directory / filename, _environment().get_template(template).render(**parameters))
    _write(directory / EPILOGUE_ARGS_HEADER, (include_dir() / "fp8gen" / "epilogue_args.h").read_text())
    manifest = {"format": BUNDLE_FORMAT, "fp8gen": __version__, "arch": ARCH, "kernels": entries}
    _write(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    _remove_other_cubins(directory, {entry["cubin"] for entry in entries})
    return directory / MANIFEST


def _remove_other_cubins(directory: Path, kept: set[str]) -> None:
    """An export over an earlier bundle: its kernels the new one does not list go."""
    for cubin in (directory / "kernels").glob("*.cubin"):
        if f"kernels/{cubin.name}" not in kept:
            cubin.unlink()


SCHEMA = Path(__file__).parent / "data" / "bundle-manifest.schema.json"
_JSON_TYPES = {"object": dict, "array": list, "string": str, "integer": int}


def validate_manifest(manifest, schema: dict | None = None, where: str = "manifest") -> None:
    """Check `manifest` against the bundle schema (the subset of JSON Schema it uses: type, required,
    properties, items); BundleError names the first offending field."""
    schema = json.loads(SCHEMA.read_text()) if schema is None else schema
    expected = _JSON_TYPES[schema["type"]]
    if not isinstance(manifest, expected) or (expected is int and isinstance(manifest, bool)):
        raise BundleError(f"{where}: expected {schema['type']}, got {type(manifest).__name__}")
    if expected is dict:
        missing = [key for key in schema.get("required", []) if key not in manifest]
        if missing:
            raise BundleError(f"{where}: missing {', '.join(missing)}")
        for key, sub in schema.get("properties", {}).items():
            if key in manifest:
                validate_manifest(manifest[key], sub, f"{where}.{key}")
    elif expected is list and "items" in schema:
        for i, item in enumerate(manifest):
            validate_manifest(item, schema["items"], f"{where}[{i}]")


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: not a readable fp8gen bundle manifest ({exc})") from exc
    validate_manifest(manifest)
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path}: bundle format {manifest.get('format')!r}; this fp8gen reads format {BUNDLE_FORMAT}")
    if manifest.get("fp8gen") != __version__:
        raise BundleError(f"{path}: made by fp8gen {manifest.get('fp8gen')}, but this is fp8gen {__version__} "
                          "(the kernels' parameter layout may differ): re-export it")
    if manifest.get("arch") != ARCH:
        raise BundleError(f"{path}: built for {manifest.get('arch')!r}; fp8gen runs {ARCH} kernels")
    return manifest


def load_bundle(directory: Path) -> dict[str, Kernel]:
    """The bundle's kernels as Python callables (no NVRTC), by name. Refuses a bundle whose format or
    fp8gen version differ, whose cubins lie outside it or do not match their sha256, or whose recorded
    symbol or launch geometry is not what its spec implies."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    entries = read_manifest(directory)["kernels"]
    names = [entry["name"] for entry in entries]
    if not names or len(set(names)) != len(names):
        raise BundleError(f"{manifest_path}: a bundle holds one or more kernels with unique names, got {names}")
    return {entry["name"]: _bundled_kernel(directory, entry, f"{manifest_path}: kernels[{i}]")
            for i, entry in enumerate(entries)}


def _bundled_kernel(directory: Path, entry: dict, where: str) -> Kernel:
    cubin_path = _inside(directory, entry["cubin"], where)
    try:
        cubin = cubin_path.read_bytes()
    except OSError as exc:
        raise BundleError(f"{cubin_path}: cannot read the cubin of kernel {entry['name']} ({exc})") from exc
    if hashlib.sha256(cubin).hexdigest() != entry["cubin_sha256"]:
        raise BundleError(f"{cubin_path}: sha256 does not match the manifest; the bundle is corrupt or altered")
    try:
        spec = GemmSpec.from_dict(entry["spec"])
    except SpecError as exc:
        raise BundleError(f"{where}.spec: {exc}") from None
    # (The sha256 covers the cubin, not these: a launch with another geometry than the kernel's is wrong.)
    for field, implied in (("name", spec.name), ("symbol", spec.symbol), ("launch", launch_metadata(spec))):
        if entry[field] != implied:
            raise BundleError(f"{where}.{field} is {entry[field]!r}; its spec implies {implied!r}")
    meta = {"symbol": entry["symbol"], "launch": entry["launch"], "versions": entry["versions"]}
    return Kernel(Artifact(spec=spec, key=entry["cache_key"], cubin=cubin, meta=meta, path=cubin_path))


def _inside(directory: Path, relative: str, where: str) -> Path:
    """directory / relative, refused unless it stays inside the bundle directory (links resolved)."""
    try:
        path = (directory / relative).resolve()
        inside = not Path(relative).is_absolute() and path.is_relative_to(directory.resolve())
    except (OSError, ValueError):
        inside = False
    if not inside:
        raise BundleError(f"{where}.cubin is {relative!r}: a cubin's path must be relative and inside the bundle")
    return path
