"""fp8gen: FP8 GEMM kernels for Hopper, generated from a Python DSL and compiled with NVRTC."""

from .api import Kernel, compile, gemm
from .quantize import dequantize, quantize
from .errors import (BundleError, CompilationError, ConfigurationError, CudaError, Fp8genError, InputError,
                     OutOfResources, SpecError, ToolchainError)
from .export import export_bundle, load_bundle
from .grouped import grouped_gemm
from .spec import GemmSpec, ScaleRecipe
from .version import __version__

__all__ = [
    "BundleError", "CompilationError", "ConfigurationError", "CudaError", "Fp8genError", "GemmSpec", "InputError", "Kernel", "OutOfResources",
    "ScaleRecipe", "SpecError", "ToolchainError", "__version__", "compile", "dequantize", "export_bundle", "gemm", "grouped_gemm",
    "load_bundle", "quantize",
]
