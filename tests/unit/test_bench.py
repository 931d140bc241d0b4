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


@pytest.mark.parametrize("content,message", [
    ("[[shape]]\ngroup = 'x'\nmnk = [[64, 7168", "cannot be read as TOML"),
    ("title = 'no shapes'\n", r"needs one or more \[\[shape\]\] tables"),
    ("[[shape]]\ngroup = 'x'\nmnk = [[64, 7168, 2048]]\n[[other]]\n", r"and nothing else"),
    ("[[shape]]\nmnk = [[64, 7168, 2048]]\n", r"shape\[0\] must be a table of exactly group"),
    ("[[shape]]\ngroup = 'x'\nmnk = [[64, 7168, 2048]]\nm = 1\n", r"shape\[0\] must be a table of exactly group"),
    ("[[shape]]\ngroup = 'x'\nmnk = []\n", r"shape\[0\].mnk must be a non-empty list"),
    ("[[shape]]\ngroup = 'x'\nmnk = [[64, 7168]]\n", r"\[64, 7168\] is not \[M, N, K\] of positive integers"),
    ("[[shape]]\ngroup = 'x'\nmnk = [[64, 7168, 0]]\n", r"is not \[M, N, K\] of positive integers"),
    ("[[shape]]\ngroup = 'x'\nmnk = [[64, true, 2048]]\n", r"is not \[M, N, K\] of positive integers"),
    ("[[shape]]\ngroup = 'x'\nmnk = [[64, 7168, 2048.0]]\n", r"is not \[M, N, K\] of positive integers"),
    ("[[shape]]\ngroup = 'x'\nmnk = [[64, 7168, 2040]]\n", "N and K must be multiples of 16"),
])
def test_shape_files_with_mistakes_are_refused_naming_the_entry(tmp_path, content, message):
    from fp8gen import InputError

    path = tmp_path / "shapes.toml"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        bench.load_shapes(path)
    assert str(path) in str(info.value)


def test_asking_for_a_group_the_file_lacks_is_refused():
    from fp8gen import InputError

    with pytest.raises(InputError, match=r"no shapes in group\(s\) \['prefil'\]; it has \['decode', 'prefill', 'square'\]"):
        bench.load_shapes(bench.DEFAULT_SHAPES, {"decode", "prefil"})


@pytest.mark.parametrize("command", ["bench", "tune"])
def test_a_bad_shape_file_is_reported_before_the_gpu_is_asked_for(command, tmp_path, capsys):
    path = tmp_path / "shapes.toml"
    path.write_text("[[shape]]\ngroup = 'x'\nmnk = [[64, 7168, 2040]]\n")
    assert main([command, "--recipe", "tensor", "--shapes", str(path)]) == 2
    assert "N and K must be multiples of 16" in capsys.readouterr().err
    assert main([command, "--recipe", "tensor", "--groups", "nope"]) == 2
    assert "no shapes in group(s) ['nope']" in capsys.readouterr().err
