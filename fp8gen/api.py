"""User-facing entry points: compile(spec) -> Kernel, and gemm(a, b, scale_a, scale_b)."""

from __future__ import annotations

import functools
import threading
import warnings
from dataclasses import dataclass

import torch

from . import build as _build
from . import checks
from . import epilogue as epilogue_dsl
from .abi import EpilogueArgs
from .errors import Fp8genError, InputError, SpecError
from . import heuristics
from .heuristics import NO_SPLIT, KSplit
from . import tuning
from .quantize import empty_rows_contiguous
from .runtime import INT, INT64, POINTER, LaunchShape, LoadedKernel, PreparedLaunch, tma_descriptor_2d
from .spec import GemmSpec, ScaleRecipe, ceil_div, require_spec


@functools.lru_cache(maxsize=None)
def _device_name(device_index: int) -> str:
    return torch.cuda.get_device_name(device_index)


@functools.lru_cache(maxsize=None)
def _sm_count(device_index: int) -> int:
    return torch.cuda.get_device_properties(device_index).multi_processor_count


class Kernel:
    """A compiled GEMM kernel, callable on torch tensors. Loaded onto the GPU at the first call."""

    def __init__(self, artifact: _build.Artifact):
        self.artifact = artifact
        self.spec: GemmSpec = artifact.spec
        self._loaded: LoadedKernel | None = None
        self._load_lock = threading.Lock()
        self._a_dtype = checks.FP8_DTYPES[self.spec.a]
        self._b_dtype = checks.FP8_DTYPES[self.spec.b]
        self.out_dtype = checks.OUT_DTYPES[self.spec.out]
        self._chain_ops = {op.op for op in self.spec.epilogue}
        self._fp8_out = self.spec.out in checks.FP8_DTYPES
        self._group_quantize = epilogue_dsl.find(self.spec.epilogue, "group_quantize")
        self._plans: dict[tuple, CallPlan] = {}

    def __repr__(self) -> str:
        return f"Kernel({self.spec.summary()})"

    def _kernel(self) -> LoadedKernel:
        if self._loaded is None:
            with self._load_lock:
                if self._loaded is None:
                    launch = self.artifact.meta["launch"]
                    self._loaded = LoadedKernel(self.artifact.cubin, self.artifact.symbol, launch["smem_bytes"])
        return self._loaded

    def __call__(self, a: torch.Tensor, b: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor,
                 out: torch.Tensor | None = None, split_k: int | None = None, *, alpha=None, bias=None,
                 residual=None, beta=None, out_scale=None, amax_out=None, group_scales_out=None):
        """D = epilogue((a * scale_a) @ (b * scale_b)^T) with this kernel's recipes and epilogue chain; see
        fp8gen.gemm for the conventions.

        split_k: cut every tile's K into this many ranges computed by different CTAs and summed in a fixed
        order (deterministic); 1: no split; None picks from the shape (heuristics.split_k: every tile split
        when the tiles leave most SMs idle; heuristics.tail_split: only the last wave's tiles, when whole
        tiles fill some waves and the last wave's idle SMs gain more than the split costs).
        Epilogue arguments (each only for a kernel whose chain has the op): alpha (number or one-element
        float32 tensor, default 1), bias, residual (C of shape (M, N), may be `out`), beta (default 1),
        out_scale (FP8 output: D = saturate(x / out_scale), default 1), amax_out (one-element float32
        tensor, overwritten with max |x|), group_scales_out (group_quantize: where the scales go;
        allocated when None). Returns D, or (D, group scales) for a group_quantize chain.
        """
        key = _call_key(a, b, scale_a, scale_b, out, split_k,
                        (alpha, bias, residual, beta, out_scale, amax_out, group_scales_out))
        result = _replay(self._plans, key, out)
        if result is None:
            result, plan = self._call(a, b, scale_a, scale_b, out, split_k, alpha=alpha, bias=bias, residual=residual,
                                      beta=beta, out_scale=out_scale, amax_out=amax_out,
                                      group_scales_out=group_scales_out)
            _remember(self._plans, key, plan)
        return result

    def _call(self, a, b, scale_a, scale_b, out, split_k, **epilogue_given):
        """Check every argument and launch -> (result, a CallPlan that repeats this launch for arguments of
        the same signature, or None when a call needs per-call work beyond allocating D)."""
        a = checks.check_operand("a", a, self._a_dtype)
        b = checks.check_operand("b", b, self._b_dtype)
        if a.shape[1] != b.shape[1]:
            raise InputError(f"a is {tuple(a.shape)} and b is {tuple(b.shape)}: their K (dim 1) must agree")
        m, k = a.shape
        n = b.shape[0]
        device = checks.check_same_device(a=a, b=b)
        split = self._splits(m, n, k, split_k, device.index)
        scales = (checks.scale_argument("scale_a", scale_a, self.spec.scale_a, m, k, device)
                  + checks.scale_argument("scale_b", scale_b, self.spec.scale_b, n, k, device))
        # 1xG group scales reach the kernel through TMA, in the layout TMA reads (a copy only if needed).
        staged = tuple(checks.tma_scale_layout(s) if self.spec.staged_groups(operand) else None
                       for operand, s in (("a", scale_a), ("b", scale_b)))
        allocate_out = out is None
        if allocate_out:
            out = torch.empty((m, n), dtype=self.out_dtype, device=device)
        else:
            out = checks.check_out(out, m, n, self.out_dtype, device)
        epilogue, group_scales = self._epilogue_arguments(m, n, device, **epilogue_given)
        result = (out, group_scales) if self._group_quantize else out
        if m == 0 or n == 0:
            return result, None
        # The kernel writes D with TMA; other outputs go through a padded buffer and a copy.
        target = out if _tma_addressable(out) else _padded_output(m, n, self.out_dtype, device)
        launch = self._prepare(a, b, scales, staged, target, m, n, k, split, device.index, epilogue)
        stream = _current_stream(device.index)
        launch.launch(stream)
        if target is not out:
            out.copy_(target)
        # A split-K plan keeps its workspace: never one allocated inside a capture (the graph's pool owns it).
        replayable = (target is out and self._group_quantize is None and epilogue_given["amax_out"] is None
                      and all(s is None or s is given for s, given in zip(staged, (scale_a, scale_b)))
                      and (split.splits == 1 or not torch.cuda.is_current_stream_capturing()))
        plan = CallPlan(self, launch, out, allocate_out, stream if split.splits > 1 else None) if replayable else None
        return result, plan

    def _epilogue_arguments(self, m: int, n: int, device: torch.device, bias_stride_group: int = 0,
                            **given) -> tuple[EpilogueArgs, torch.Tensor | None]:
        """The kernel's EpilogueArgs from the call's epilogue arguments (checked against the chain).
        bias_stride_group: grouped kernels with a bias per expert (fp8gen/grouped.py)."""
        if not self._chain_ops and not self._fp8_out and all(value is None for value in given.values()):
            return _NO_EPILOGUE, None  # the plain kernels' per-call path
        checks.unused_epilogue_arguments(self._chain_ops, self._fp8_out, **given)
        args = EpilogueArgs(alpha=1.0, beta=1.0, out_scale=1.0, bias_stride_group=bias_stride_group)
        chain = self.spec.epilogue
        if given["alpha"] is not None:
            args.alpha, args.alpha_ptr = checks.scalar_argument("alpha", given["alpha"], device)
        if given["out_scale"] is not None:
            args.out_scale, args.out_scale_ptr = checks.scalar_argument("out_scale", given["out_scale"], device)
        if given["beta"] is not None:
            args.beta, pointer = checks.scalar_argument("beta", given["beta"], device)
            if pointer:
                raise InputError("beta must be a host number")
        if "bias" in self._chain_ops:
            if given["bias"] is None:
                raise InputError("this kernel's epilogue adds a bias: pass bias=")
            args.bias, args.bias_stride = checks.bias_argument(given["bias"], epilogue_dsl.find(chain, "bias"), m, n, device)
        if "residual" in self._chain_ops:
            if given["residual"] is None:
                raise InputError("this kernel's epilogue adds a residual: pass residual=")
            args.residual, args.residual_stride_row, args.residual_stride_col = checks.residual_argument(
                given["residual"], epilogue_dsl.find(chain, "residual"), m, n, device)
        if "amax" in self._chain_ops:
            if given["amax_out"] is None:
                raise InputError("this kernel's epilogue records amax: pass amax_out= (a one-element float32 tensor)")
            amax = checks.amax_argument(given["amax_out"], device)
            amax.zero_()
            args.amax = amax.data_ptr()
        group_scales = None
        if self._group_quantize is not None:
            group_scales = self._group_scales(given["group_scales_out"], m, n, device)
            args.group_scales = group_scales.data_ptr()
            args.group_scales_stride_row, args.group_scales_stride_group = group_scales.stride()
        return args, group_scales

    def _group_scales(self, given: torch.Tensor | None, m: int, n: int, device: torch.device) -> torch.Tensor:
        op = self._group_quantize
        if given is not None:
            return checks.group_scales_argument(given, op, m, n, device)
        # Rows contiguous: the layout the next GEMM reads as its A group scales without a copy.
        return empty_rows_contiguous(m, ceil_div(n, op.group_size), checks.SCALE_DTYPES[op.dtype], device)

    def _splits(self, m: int, n: int, k: int, split_k: int | None, device_index: int) -> KSplit:
        k_blocks = ceil_div(k, self.spec.tile[2])
        if self.spec.schedule == "pingpong":  # its consumers own whole tiles: no split-K reduction
            if split_k not in (None, 1):
                raise InputError(f"split_k={split_k!r}: ping-pong kernels do not split K")
            return NO_SPLIT
        if split_k is None:
            sm_count = _sm_count(device_index)
            splits = heuristics.split_k(m, n, k, self.spec.tile, sm_count, self.spec.has_k_group_scales)
            if splits > 1:
                return KSplit(splits, 0)
            return heuristics.tail_split(m, n, k, self.spec.tile, sm_count, self.spec.cluster[0])
        if not isinstance(split_k, int) or isinstance(split_k, bool) or not 1 <= split_k <= max(k_blocks, 1):
            raise InputError(f"split_k={split_k!r} must be an integer from 1 to the number of K blocks "
                             f"({k_blocks} for K={k} and BK={self.spec.tile[2]})")
        return KSplit(heuristics.balanced_splits(k_blocks, split_k) if k_blocks else 1, 0)

    def _prepare(self, a, b, scales: tuple[int, ...], staged, out, m, n, k, split: KSplit, device_index,
                 epilogue: EpilogueArgs, groups: "GroupArguments | None" = None) -> PreparedLaunch:
        """The launch on 2-D views: a (M, K), b (rows, K) (rows = G * N for grouped kernels), out (M, N).
        It owns its split-K workspace, so a plan replaying it reuses the buffers (on one stream)."""
        bm, bn, bk = self.spec.tile
        launch = self.artifact.meta["launch"]
        a_box_rows = self.spec.a_box_rows(m)
        tma_a = tma_descriptor_2d(a.data_ptr(), m, k, a.stride(0) if m > 1 else k, a_box_rows, bk, bk)
        cluster_m = self.spec.cluster[0]
        # In a cluster each CTA loads 1/cluster_m of the B tile and multicasts it.
        b_rows = b.shape[0]
        tma_b = tma_descriptor_2d(b.data_ptr(), b_rows, k, b.stride(0) if b_rows > 1 else k, bn // cluster_m, bk, bk)
        # The kernel reads a scale descriptor only for 1xG scales; otherwise any descriptor holds the slot.
        tma_scale_a, tma_scale_b = (
            tma_a if scale is None else _staged_scale_descriptor(scale, self.spec.staged_groups(operand), box)
            for operand, scale, box in (("a", staged[0], bm), ("b", staged[1], bn)))
        tma_d = _output_descriptor(out, m, n, launch)
        cluster_tiles = ceil_div(m, bm * cluster_m) * ceil_div(n, bn)
        splits, first_split_tile = split
        k_blocks_per_split = ceil_div(ceil_div(k, bk), splits)
        split_tiles = cluster_tiles - first_split_tile
        workspace = _split_workspace(split_tiles * cluster_m, splits, bm * bn, out.device)
        clusters = min(first_split_tile + split_tiles * splits, _sm_count(device_index) // cluster_m)
        shape = LaunchShape(grid=(clusters * cluster_m, 1, 1), block=(launch["threads"], 1, 1),
                            smem_bytes=launch["smem_bytes"], cluster=(cluster_m, 1, 1), dependent=splits == 1)
        groups = groups or NO_GROUPS
        scale_a_ptr, scale_a_row, scale_a_group, scale_b_ptr, scale_b_row, scale_b_group = scales
        params = (tma_a, tma_b, tma_scale_a, tma_scale_b, tma_d,
                  POINTER(scale_a_ptr), INT64(scale_a_row), INT64(scale_a_group),
                  POINTER(scale_b_ptr), INT64(scale_b_row), INT64(scale_b_group),
                  INT(m), INT(n), INT(k), INT(splits), INT(first_split_tile), INT(k_blocks_per_split),
                  POINTER(workspace.partials), POINTER(workspace.arrivals),
                  INT64(groups.scale_b_stride_group), POINTER(groups.info), INT(groups.rows), INT(a_box_rows), epilogue)
        return self._kernel().prepare(shape, device_index, params, owned=workspace.tensors)


OUTPUT_DESCRIPTOR_PARAMETER = 4  # the index of tma_d in the kernel's parameters
OUTPUT_DESCRIPTORS_PER_PLAN = 16


class CallPlan:
    """A checked call's prepared launch, replayed by later calls whose arguments have the same signature
    (addresses, shapes, strides, dtypes, devices and epilogue values): one driver call, plus D's allocation
    when the caller passes no `out`. Holds no reference to the caller's tensors."""

    def __init__(self, kernel: "Kernel", launch: PreparedLaunch, out: torch.Tensor, allocates_out: bool,
                 stream: int | None):
        self._launch = launch
        self._shape = tuple(out.shape)
        self._dtype = out.dtype
        self._device = out.device
        self._device_index = out.device.index
        self._allocates_out = allocates_out
        # A fresh D's descriptor differs from this one's in its address only (no reference to `out` kept).
        self._output_layout = _output_layout(out, *self._shape, kernel.artifact.meta["launch"])
        self._split_stream = stream  # split-K launches own a workspace: only on the stream they were made for
        # Fresh outputs' descriptors by address: the caching allocator hands a few addresses out in turn.
        self._output_descriptors: dict[int, object] = {}

    def run(self, out: torch.Tensor | None) -> torch.Tensor | None:
        """Launch -> D, or None when this call cannot be replayed (the caller then takes the checked path)."""
        stream = _current_stream(self._device_index)
        if self._split_stream is not None and (stream != self._split_stream or torch.cuda.is_current_stream_capturing()):
            return None
        if not self._allocates_out:
            self._launch.launch(stream)
            return out
        out = torch.empty(self._shape, dtype=self._dtype, device=self._device)
        address = out.data_ptr()
        descriptor = self._output_descriptors.get(address)
        if descriptor is None:
            if address % checks.TMA_ALIGNMENT:  # shape and strides are the plan's; only an odd allocator moves this
                return None
            if len(self._output_descriptors) >= OUTPUT_DESCRIPTORS_PER_PLAN:
                self._output_descriptors.clear()
            descriptor = self._output_descriptors[address] = tma_descriptor_2d(address, *self._output_layout)
        self._launch.launch(stream, (OUTPUT_DESCRIPTOR_PARAMETER, descriptor))
        return out


def _signature(value):
    """What a call's plan depends on in one argument: a tensor's address, shape, strides and dtype (never
    its values), or a host value itself. The address also fixes the device: CUDA's unified virtual
    addressing gives every device's and the host's allocations distinct addresses. (Each tensor
    attribute read costs ~0.1 us; together they are most of a replayed call's cost.)"""
    if isinstance(value, torch.Tensor):
        return value.data_ptr(), value.shape, value.stride(), value.dtype
    return value


def _call_key(a, b, scale_a, scale_b, out, values: tuple, optional: tuple) -> tuple | None:
    """A call's signature: the operand, scale and output tensors' signatures (flat: the attribute reads
    are most of a replayed call's cost), host `values`, and the `optional` arguments (None by default)
    only when one is given. None when an operand is not a tensor (the checked path says what is wrong)."""
    try:
        key = (a.data_ptr(), a.shape, a.stride(), a.dtype, b.data_ptr(), b.shape, b.stride(), b.dtype,
               scale_a.data_ptr(), scale_a.shape, scale_a.stride(), scale_a.dtype,
               scale_b.data_ptr(), scale_b.shape, scale_b.stride(), scale_b.dtype,
               None if out is None else _signature(out), values)
    except AttributeError:
        return None
    for value in optional:
        if value is not None:
            return key + tuple([_signature(value) for value in optional])
    return key


PLANS_PER_TABLE = 1024


def _replay(plans: dict, key: tuple | None, out):
    """The result of replaying the plan for `key`, or None (no plan, or this call cannot replay it)."""
    if key is None:
        return None
    try:
        plan = plans.get(key)
    except TypeError:  # an unhashable argument: the checked path says what is wrong with it
        return None
    return plan.run(out) if plan is not None else None


def _remember(plans: dict, key: tuple | None, plan: "CallPlan | None") -> None:
    if plan is None or key is None:
        return
    if len(plans) >= PLANS_PER_TABLE:  # addresses churn (e.g. activations of varying shapes): start over
        plans.clear()
    try:
        plans[key] = plan
    except TypeError:
        pass


def forget_plans() -> None:
    """Drop every remembered call plan (after the tuning tables change which kernel a shape gets)."""
    _gemm_plans.clear()
    with _kernels_lock:
        for kernel in _kernels.values():
            kernel._plans.clear()


try:  # the raw handle without constructing a torch.cuda.Stream (~1 us a call)
    _current_stream = torch._C._cuda_getCurrentRawStream
except AttributeError:  # pragma: no cover - older or future torch
    def _current_stream(device_index: int) -> int:
        return torch.cuda.current_stream(device_index).cuda_stream


# Launches copy kernel parameters, so every kernel without run-time epilogue values shares one struct.
_NO_EPILOGUE = EpilogueArgs(alpha=1.0, beta=1.0, out_scale=1.0)


@dataclass(frozen=True)
class GroupArguments:
    """What a grouped kernel needs beyond a plain one (see fp8gen/grouped.py)."""

    scale_b_stride_group: int  # elements between consecutive experts' B scales
    info: int                  # device pointer: the expert of each row (contiguous) or each expert's rows (masked)
    rows: int                  # masked: rows per expert


NO_GROUPS = GroupArguments(0, 0, 0)


@dataclass(frozen=True)
class SplitWorkspace:
    partials: int = 0   # fp32 partial tiles
    arrivals: int = 0   # per-tile arrival counters, zero between launches (the kernel resets them)
    tensors: tuple = ()


def _split_workspace(tiles: int, splits: int, tile_elements: int, device: torch.device) -> SplitWorkspace:
    """Split-K buffers from torch's stream-ordered allocator, so concurrent launches on other streams never
    share them; empty without split-K."""
    if splits == 1:
        return SplitWorkspace()
    partials = torch.empty(tiles * splits * tile_elements, dtype=torch.float32, device=device)
    arrivals = torch.zeros(tiles, dtype=torch.int32, device=device)
    return SplitWorkspace(partials.data_ptr(), arrivals.data_ptr(), (partials, arrivals))


def _staged_scale_descriptor(scale: torch.Tensor, groups_per_stage: int, box_rows: int):
    """TMA descriptor for (rows, groups) 1xG scales with rows contiguous (checks.tma_scale_layout)."""
    rows, groups = scale.shape
    size = scale.element_size()
    # With one K group the stride is never used, but TMA still wants a multiple of 16 bytes.
    group_stride = scale.stride(1) * size if groups > 1 else -(-rows * size // 16) * 16
    return tma_descriptor_2d(scale.data_ptr(), groups, rows, group_stride, groups_per_stage, box_rows,
                             element="u8" if size == 1 else "f32")


def _output_row_stride(out: torch.Tensor) -> int:
    """D's row stride in bytes; a single row gets any multiple of 16 (TMA never steps it)."""
    size = out.element_size()
    return out.stride(0) * size if out.shape[0] > 1 else -(-out.shape[1] * size // 16) * 16


def _tma_addressable(out: torch.Tensor) -> bool:
    """TMA stores need a 16-byte aligned base and row stride, and (measured on the H100) write a
    row's last 16-byte chunk whole, so the row must also end on a 16-byte boundary."""
    aligned = out.data_ptr() % 16 == 0 and _output_row_stride(out) % 16 == 0
    return aligned and (out.shape[1] * out.element_size()) % 16 == 0


def _padded_output(m: int, n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An (m, n) view of a buffer whose rows are padded to 16 bytes."""
    per_16_bytes = 16 // dtype.itemsize
    return torch.empty((m, ceil_div(n, per_16_bytes) * per_16_bytes), dtype=dtype, device=device)[:, :n]


def _output_descriptor(out: torch.Tensor, m: int, n: int, launch: dict):
    return tma_descriptor_2d(out.data_ptr(), *_output_layout(out, m, n, launch))


def _output_layout(out: torch.Tensor, m: int, n: int, launch: dict) -> tuple:
    """tma_descriptor_2d's arguments after the address for D's TMA stores."""
    box_rows, box_cols = launch["output_box"]
    element = {1: "u8", 2: "u16", 4: "f32"}[out.element_size()]
    return m, n, _output_row_stride(out), box_rows, box_cols, launch["output_swizzle_bytes"], element


_kernels: dict[GemmSpec, Kernel] = {}
_kernels_lock = threading.Lock()


def compile(spec: GemmSpec) -> Kernel:  # noqa: A001 - the public name the API promises
    """Render, compile (or fetch from cache) and wrap `spec`. Raises SpecError if `spec` is not a GemmSpec,
    CompilationError if NVRTC rejects the source, ToolchainError if the compiler or headers are missing."""
    require_spec(spec)
    with _kernels_lock:
        kernel = _kernels.get(spec)
    if kernel is None:
        built = Kernel(_build.build(spec))
        with _kernels_lock:
            kernel = _kernels.setdefault(spec, built)
        if kernel is built:  # (once per kernel and process)
            _warn_if_slowed_by_its_resources(kernel.artifact)
    return kernel


def _warn_if_slowed_by_its_resources(artifact: _build.Artifact) -> None:
    """Register spills or wgmma that ptxas serialized: the kernel is correct, but slower than its tile promises
    (none of the kernels fp8gen.gemm picks does either; a hand-written spec can)."""
    res = artifact.resources
    problems = []
    if res.spill_bytes:
        problems.append(f"spills registers to local memory ({res.spill_stores or 0} bytes stored, "
                        f"{res.spill_loads or 0} loaded)")
    if res.wgmma_serialized:
        problems.append("has its wgmma instructions serialized by ptxas")
    if problems:
        warnings.warn(f"fp8gen: kernel {artifact.spec.name} {' and '.join(problems)}: it computes correctly but "
                      f"runs slower than a kernel that fits; `fp8gen cache info {artifact.key[:12]}` shows the "
                      "ptxas report", stacklevel=3)


def gemm(a: torch.Tensor, b: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor, *,
         out_dtype: torch.dtype = torch.bfloat16, out: torch.Tensor | None = None,
         split_k: int | None = None, alpha=None, bias: torch.Tensor | None = None,
         residual: torch.Tensor | None = None, beta: float | None = None, activation=None, out_scale=None,
         amax_out: torch.Tensor | None = None, requantize: str | None = None):
    """D (M, N) = epilogue((a * scale_a) @ (b * scale_b)^T), accumulated in fp32.

    a: (M, K) and b: (N, K), torch.float8_e4m3fn or torch.float8_e5m2 (any pair), K contiguous,
    K a multiple of 16, 16-byte aligned rows. out_dtype: torch.bfloat16, torch.float16, torch.float32,
    or FP8 (torch.float8_e4m3fn / torch.float8_e5m2, saturating).
    Scales are CUDA tensors indexed in the coordinates of the operand they scale; the recipe follows
    from their shapes (G = 128 along K):
      one element                              -> per-tensor (float32)
      a: (M,) / (M, 1), b: (N,) / (N, 1)       -> per-row (float32)
      (rows, ceil(K/G))                        -> 1xG groups per row (float32 or float8_e8m0fnu)
      b: (ceil(N/G), ceil(K/G))                -> GxG blocks (float32 or float8_e8m0fnu)
    Any strides are accepted; group scales are read without a copy when rows are contiguous and each
    group's column is 16-byte aligned (what fp8gen.quantize returns; ``torch.empty(K // 128, M).t()`` for M
    a multiple of 4 with float32 scales, of 16 with UE8M0 ones), and copied on every call otherwise.
    split_k: see Kernel.__call__ (None: chosen from the shape).

    Fused epilogue, applied in fp32 in this order (each only when its argument is given):
      alpha       x *= alpha (a number or a one-element float32 CUDA tensor)
      bias        x += bias: 1-D, length N (per column) or M (per row, when M != N); bf16/f16/f32
      residual    x += beta * residual (an (M, N) bf16/f16/f32 tensor, may be `out`); beta default 1
      activation  "relu", "gelu" (erf), "gelu_tanh", "silu" or ("clamp", lo, hi)
      amax_out    a one-element float32 CUDA tensor, set to max |x| over the output
    then the cast: FP8 outputs are saturate(x / out_scale) (out_scale: number or device scalar, default 1),
    or, with requantize="1x128" / "1x128_ue8m0", x divided by one scale per row and 128 columns,
    returned as (D, scales) with scales (M, ceil(N/128)) in the layout gemm reads as `scale_a`.
    Raises InputError for invalid arguments.
    """
    key = _call_key(a, b, scale_a, scale_b, out, (out_dtype, split_k),
                    (alpha, bias, residual, beta, activation, out_scale, amax_out, requantize))
    result = _replay(_gemm_plans, key, out)
    if result is not None:
        return result
    a = checks.check_operand("a", a)
    b = checks.check_operand("b", b)
    out_format = checks.out_format(out_dtype)
    if a.shape[1] != b.shape[1]:
        raise InputError(f"a is {tuple(a.shape)} and b is {tuple(b.shape)}: their K (dim 1) must agree")
    (m, k), n = a.shape, b.shape[0]
    recipe_a = _recipe_of("scale_a", scale_a, m, k, "a")
    recipe_b = _recipe_of("scale_b", scale_b, n, k, "b")
    chain = _chain_of(out_format, alpha is not None, _bias_signature(bias, m, n),
                      _dtype_name("residual", residual), _activation_signature(activation), amax_out is not None,
                      _requantize_signature(requantize))
    try:
        spec = tuning.select_spec(_device_name(a.device.index), m, n, k, checks.FORMAT_OF_DTYPE[a.dtype],
                                  checks.FORMAT_OF_DTYPE[b.dtype], out_format, recipe_a, recipe_b, chain)
    except SpecError as exc:  # a combination of arguments no kernel offers
        raise InputError(f"no kernel computes this call: {exc}") from None
    result, plan = compile(spec)._call(a, b, scale_a, scale_b, out, split_k, alpha=alpha, bias=bias,
                                       residual=residual, beta=beta, out_scale=out_scale, amax_out=amax_out,
                                       group_scales_out=None)
    _remember(_gemm_plans, key, plan)
    return result


# gemm()'s plans, keyed by every argument's signature: a repeated call skips recipe inference, kernel
# selection and the checks.
_gemm_plans: dict[tuple, CallPlan] = {}


REQUANTIZE_CHOICES = {"1x128": "f32", "1x128_ue8m0": "ue8m0"}


def _dtype_name(name: str, t) -> str | None:
    if t is None:
        return None
    t = checks.require_tensor(name, t)
    if t.dtype not in checks.VECTOR_OF_DTYPE:
        raise InputError(f"{name} has dtype {t.dtype}; expected torch.bfloat16, torch.float16 or torch.float32")
    return checks.VECTOR_OF_DTYPE[t.dtype]


def _bias_signature(bias, m: int, n: int) -> tuple[str, str] | None:
    dtype = _dtype_name("bias", bias)
    if dtype is None:
        return None
    if bias.dim() != 1 or bias.shape[0] not in (m, n):
        raise InputError(f"bias has shape {tuple(bias.shape)}; expected ({n},) per output column or ({m},) per row")
    return ("column" if bias.shape[0] == n else "row", dtype)


def _activation_signature(activation):
    if activation is None or (isinstance(activation, str) and activation in epilogue_dsl.ACTIVATION_NAMES):
        return activation
    if (isinstance(activation, tuple) and len(activation) == 3 and activation[0] == "clamp"
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in activation[1:])):
        return activation
    raise InputError(f"activation={activation!r} is invalid; use 'relu', 'gelu', 'gelu_tanh', 'silu' or "
                     "('clamp', lo, hi) with numbers lo <= hi")


def _requantize_signature(requantize):
    if requantize is None or (isinstance(requantize, str) and requantize in REQUANTIZE_CHOICES):
        return requantize
    raise InputError(f"requantize={requantize!r} is invalid; use None, '1x128' or '1x128_ue8m0'")


@functools.lru_cache(maxsize=256)
def _chain_of(out: str, alpha: bool, bias, residual, activation, amax: bool,
              requantize) -> tuple[epilogue_dsl.EpilogueOp, ...]:
    """The epilogue chain gemm()'s arguments describe (cached: it is built on every call; the arguments are
    the hashable signatures _bias_signature, _activation_signature and _requantize_signature return)."""
    if requantize is not None and out not in checks.FP8_DTYPES:
        raise InputError("requantize needs an FP8 out_dtype (torch.float8_e4m3fn or torch.float8_e5m2)")
    ops: list = ["alpha"] if alpha else []
    if bias is not None:
        ops.append({"op": "bias", "axis": bias[0], "dtype": bias[1]})
    if residual is not None:
        ops.append({"op": "residual", "dtype": residual})
    if isinstance(activation, tuple):
        ops.append({"op": "clamp", "lo": activation[1], "hi": activation[2]})
    elif activation is not None:
        ops.append(activation)
    if amax:
        ops.append("amax")
    if requantize is not None:
        ops.append({"op": "group_quantize", "group_size": 128, "dtype": REQUANTIZE_CHOICES[requantize]})
    try:
        return tuple(epilogue_dsl.EpilogueOp.parse(op) for op in ops)
    except Fp8genError as exc:
        raise InputError(f"invalid epilogue arguments: {exc}") from None


def _recipe_of(name: str, scale, rows: int, k: int, operand: str) -> ScaleRecipe:
    kind = checks.infer_recipe(name, scale, rows, k, operand)
    dtype = checks.SCALE_DTYPE_NAMES.get(scale.dtype)
    if dtype is None or (dtype == "ue8m0" and kind in ("tensor", "row")):
        allowed = "torch.float32 or torch.float8_e8m0fnu" if kind in ("group", "block") else "torch.float32"
        raise InputError(f"{name} has dtype {scale.dtype}; {kind} scales must be {allowed}")
    return ScaleRecipe(kind=kind, dtype=dtype)
