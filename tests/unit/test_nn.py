"""fp8gen.nn.FP8Linear's argument checks (CPU; its GEMMs run in tests/gpu/test_torch_integration.py)."""

import pytest
import torch

from fp8gen import InputError
from fp8gen.nn import FP8Linear


@pytest.mark.parametrize("kwargs,fragment", [
    ({"in_features": 256, "out_features": -5}, "out_features=-5 must be a positive integer"),
    ({"in_features": 256, "out_features": 0}, "out_features=0 must be a positive integer"),
    ({"in_features": 256.0, "out_features": 128}, "in_features=256.0 must be a positive integer"),
    ({"in_features": 100, "out_features": 128}, "multiple of 16"),
    ({"in_features": 256, "out_features": 128, "out_dtype": torch.float8_e4m3fn}, "quantize_output=True"),
    ({"in_features": 256, "out_features": 128, "recipe": "tensor"}, "recipe='tensor' is invalid"),
    ({"in_features": 256, "out_features": 100, "quantize_output": True}, "multiple of 128"),
])
def test_constructor_rejects_bad_arguments(kwargs, fragment):
    with pytest.raises(InputError) as info:
        FP8Linear(**kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize("bias", [True, False])  # (bias: fp8gen::gemm; none: fp8gen::scaled_mm)
def test_cpu_input_is_rejected_with_the_device(bias):
    layer = FP8Linear.from_linear(torch.nn.Linear(256, 128, bias=bias))
    with pytest.raises(InputError, match="fp8gen's kernels run on CUDA tensors; a is on cpu"):
        layer(torch.randn(4, 256))
