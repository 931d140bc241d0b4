"""User-facing entry points: compile(spec) -> Kernel, and gemm(a, b, scale_a, scale_b)."""

from __future__ import annotations

import functools
import threading

import torch

from . import build as _build
from . import checks
from .errors import InputError
from .heuristics import choose_spec
from .runtime import INT, POINTER, LaunchShape, LoadedKernel, tma_descriptor_2d
from .spec import GemmSpec, ceil_div


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
                 out: torch.Tensor | None = None) -> torch.Tensor:
        """D = (a * scale_a) @ (b * scale_b)^T; a (M, K), b (N, K) FP8 with K contiguous; scales float32 on the GPU."""
        a = checks.check_operand("a", a, self._a_dtype)
        b = checks.check_operand("b", b, self._b_dtype)
        if a.shape[1] != b.shape[1]:
            raise InputError(f"a is {tuple(a.shape)} and b is {tuple(b.shape)}: their K (dim 1) must agree")
        m, k = a.shape
        n = b.shape[0]
        device = checks.check_same_device(a=a, b=b, scale_a=checks.require_tensor("scale_a", scale_a),
                                          scale_b=checks.require_tensor("scale_b", scale_b))
        checks.check_scale("scale_a", scale_a, (1,), "per-tensor")
        checks.check_scale("scale_b", scale_b, (1,), "per-tensor")
        if out is None:
            out = torch.empty((m, n), dtype=self.out_dtype, device=device)
        else:
            out = checks.check_out(out, m, n, self.out_dtype, device)
        if m == 0 or n == 0:
            return out
        self._launch(a, b, scale_a, scale_b, out, m, n, k, device.index)
        return out

    def _launch(self, a, b, scale_a, scale_b, out, m, n, k, device_index) -> None:
        bm, bn, bk = self.spec.tile
        launch = self.artifact.meta["launch"]
        tma_a = tma_descriptor_2d(a.data_ptr(), m, k, a.stride(0) if m > 1 else k, bm, bk, bk)
        tma_b = tma_descriptor_2d(b.data_ptr(), n, k, b.stride(0) if n > 1 else k, bn, bk, bk)
        tiles = ceil_div(m, bm) * ceil_div(n, bn)
        shape = LaunchShape(grid=(min(tiles, _sm_count(device_index)), 1, 1), block=(launch["threads"], 1, 1),
                            smem_bytes=launch["smem_bytes"])
        ldd = out.stride(0) if m > 1 else n
        args = (tma_a, tma_b, out.data_ptr(), scale_a.data_ptr(), scale_b.data_ptr(), m, n, k, ldd)
        types = (None, None, POINTER, POINTER, POINTER, INT, INT, INT, INT)
        stream = torch.cuda.current_stream(device_index).cuda_stream
        self._kernel().launch(shape, stream, device_index, args, types)


_kernels: dict[GemmSpec, Kernel] = {}
_kernels_lock = threading.Lock()


def compile(spec: GemmSpec) -> Kernel:  # noqa: A001 - the public name the API promises
    """Render, compile (or fetch from cache) and wrap `spec`. Raises NotImplementedError for recipes without a kernel."""
    with _kernels_lock:
        kernel = _kernels.get(spec)
    if kernel is None:
        kernel = Kernel(_build.build(spec))
        with _kernels_lock:
            kernel = _kernels.setdefault(spec, kernel)
    return kernel


def gemm(a: torch.Tensor, b: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor, *,
         out_dtype: torch.dtype = torch.bfloat16, out: torch.Tensor | None = None) -> torch.Tensor:
    """D (M, N) = (a * scale_a) @ (b * scale_b)^T, accumulated in fp32.

    a: (M, K) and b: (N, K), torch.float8_e4m3fn or torch.float8_e5m2 (any pair), K contiguous,
    K a multiple of 16, 16-byte aligned. out_dtype: torch.bfloat16, torch.float16 or torch.float32.
    The scaling recipe follows from the scale shapes (float32 CUDA tensors):
      one element                          -> per-tensor
      a: (M,) / (M, 1), b: (N,) / (N, 1)   -> per-row
      (rows, ceil(K/128))                  -> 1x128 groups
      b: (ceil(N/128), ceil(K/128))        -> 128x128 blocks
    Raises InputError for invalid arguments and NotImplementedError for recipes without a kernel yet.
    """
    a = checks.check_operand("a", a)
    b = checks.check_operand("b", b)
    if out_dtype not in checks.OUT_OF_DTYPE:
        raise InputError(f"out_dtype={out_dtype} is not supported; use torch.bfloat16, torch.float16 or torch.float32")
    if a.shape[1] != b.shape[1]:
        raise InputError(f"a is {tuple(a.shape)} and b is {tuple(b.shape)}: their K (dim 1) must agree")
    (m, k), n = a.shape, b.shape[0]
    recipe_a = checks.infer_recipe("scale_a", scale_a, m, k, "a")
    recipe_b = checks.infer_recipe("scale_b", scale_b, n, k, "b")
    spec = choose_spec(m, n, k, checks.FORMAT_OF_DTYPE[a.dtype], checks.FORMAT_OF_DTYPE[b.dtype],
                       checks.OUT_OF_DTYPE[out_dtype], recipe_a, recipe_b)
    if not spec.implemented:
        raise NotImplementedError(f"scaling recipe {recipe_a} (a) x {recipe_b} (b) has no kernel yet; "
                                  "implemented: tensor x tensor")
    return compile(spec)(a, b, scale_a, scale_b, out=out)
