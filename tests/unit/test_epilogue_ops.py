"""The fast erf-form gelu of templates/include/fp8gen/epilogue_ops.cuh, emulated in float32 on the CPU."""

import importlib.util
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
HEADER = ROOT / "templates" / "include" / "fp8gen" / "epilogue_ops.cuh"


def _fit_tool():
    spec = importlib.util.spec_from_file_location("fit_gelu_erf", ROOT / "tools" / "fit_gelu_erf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _header_polynomial() -> tuple[list[float], float]:
    text = HEADER.read_text()
    body = re.search(r"kLog2Tail\[\] = \{([^}]*)\}", text).group(1)
    coeffs = [float.fromhex(c.strip().rstrip("f")) for c in body.split(",")]
    limit = float(re.search(r"kLimit = ([0-9.]+)f;", text).group(1))
    return coeffs, limit


def test_header_polynomial_has_the_tools_degree_and_limit():
    fit = _fit_tool()
    coeffs, limit = _header_polynomial()
    assert (len(coeffs) - 1, limit) == (fit.DEGREE, fit.LIMIT)


def test_fast_gelu_relative_error_is_far_below_a_float16_rounding():
    fit = _fit_tool()
    coeffs, limit = _header_polynomial()
    found = fit.errors(coeffs, limit)
    assert found["tail"] < 6e-5 and found["gelu"] < 6e-5  # a float16 rounding: 2^-11 = 4.9e-4
    assert found["beyond"] < 6e-9  # 6 Phi(-6) in place of |x| Phi(-|x|): below float32's rounding of x > 6


@pytest.mark.parametrize("x, expected", [(float("inf"), float("inf")), (20.0, 20.0), (6.0, 6.0), (0.0, 0.0),
                                         (-6.0, -5.9e-9), (-20.0, -5.9e-9)])
def test_fast_gelu_ends(x, expected):
    fit = _fit_tool()
    coeffs, limit = _header_polynomial()
    got = fit.gelu_float32(coeffs, torch.tensor([x], dtype=torch.float64), limit).item()
    assert got == pytest.approx(expected, rel=0, abs=1e-10)


def test_fast_gelu_is_nan_where_torch_gelu_is():
    fit = _fit_tool()
    coeffs, limit = _header_polynomial()
    x = torch.tensor([float("nan"), float("-inf")], dtype=torch.float64)
    assert torch.nn.functional.gelu(x).isnan().all()
    assert fit.gelu_float32(coeffs, x, limit).isnan().all()
