"""The benchmark's pure parts: shape suite, input rotation, summaries, report."""

import math

import pytest

from fp8gen import bench
from fp8gen.cli import main


def test_packaged_shape_suite_has_the_three_groups():
    shapes = bench.load_shapes(bench.DEFAULT_SHAPES)
    assert {g for g, *_ in shapes} == {"decode", "prefill", "square"}
    assert ("square", 8192, 8192, 8192) in shapes
    assert all(g == "decode" for g, *_ in bench.load_shapes(bench.DEFAULT_SHAPES, {"decode"}))


def test_input_sets_exceed_l2_and_stay_bounded():
    assert bench.input_set_count(8192, 8192, 8192) == 2
    decode = bench.input_set_count(64, 7168, 2048)
    assert decode * (64 * 2048 + 7168 * 2048 + 2 * 64 * 7168) >= bench.ROTATION_BYTES
    assert bench.input_set_count(1, 16, 16) == bench.MAX_INPUT_SETS


def test_summary_geomeans_per_group_and_m_range():
    rows = [{"group": "decode", "m": 64, "ratio": 0.5}, {"group": "decode", "m": 128, "ratio": 2.0},
            {"group": "prefill", "m": 4096, "ratio": 1.21}, {"group": "square", "m": 8192, "ratio": 1.0},
            {"group": "decode", "m": 1}]  # a cuBLASLt error: no ratio
    summary = bench.summarize(rows)
    assert summary["decode"] == pytest.approx(1.0) and summary["M<=128"] == pytest.approx(1.0)
    assert summary["M>=2048"] == pytest.approx(math.sqrt(1.21))
    report = bench.format_report("block", [{**rows[0], "n": 1, "k": 1, "fp8gen_tflops": 1.0, "fp8gen_gbps": 1.0,
                                             "cublaslt_tflops": 2.0, "cublaslt_gbps": 2.0, "agreement_rel": 0.0},
                                            {**rows[4], "n": 1, "k": 1, "fp8gen_tflops": 1.0, "fp8gen_gbps": 1.0,
                                             "cublaslt_error": "not supported"}], summary)
    assert "| decode | 64 | 1 | 1 | 1.0 | 2.0 | 0.50 |" in report and "not supported" in report


def test_bench_command_without_gpu_says_so(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(["bench", "--recipe", "tensor"]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
