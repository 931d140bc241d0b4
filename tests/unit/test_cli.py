import pytest
import subprocess
import sys

from fp8gen.cli import main, progress_bar
from tests.conftest import REPO


def test_build_example_spec_renders_compiles_and_prints_table(cache_dir, tmp_path, capsys):
    out_dir = tmp_path / "generated"
    assert main(["build", str(REPO / "examples" / "kernels.toml"), "-o", str(out_dir), "-j", "2"]) == 0
    captured = capsys.readouterr()
    table = captured.out
    assert "[####################] 4/4" in captured.err  # the progress bar reached the end
    for name in ("prefill_e4m3_bf16", "decode_e4m3_bf16", "grad_e5m2_e4m3_f32", "fast_e4m3_f16"):
        assert name in table
        assert (out_dir / f"fp8gen_{name}.cu").is_file()
    assert "registers" in table and "smem_bytes" in table
    assert "SERIALIZED" not in table and table.count(" ok") >= 4  # no kernel with serialized wgmma
    # A second build is served from the cache.
    assert main(["build", str(REPO / "examples" / "kernels.toml"), "-o", str(out_dir)]) == 0
    assert capsys.readouterr().out.count("cached") == 4


def test_bad_spec_file_exits_2_with_message(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[kernel]]\nout = 'bf17'\n")
    assert main(["build", str(bad)]) == 2
    assert "kernel[0].out='bf17'" in capsys.readouterr().err


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "fp8gen", "--version"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and out.stdout.startswith("fp8gen ")


def test_progress_bar():
    assert progress_bar(0, 4, width=8) == "[........] 0/4"
    assert progress_bar(2, 4, width=8) == "[####....] 2/4"
    assert progress_bar(4, 4, width=8) == "[########] 4/4"


@pytest.mark.parametrize("command", ["bench", "tune"])
def test_gpu_commands_exit_2_without_a_gpu(command, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main([command, "--recipe", "tensor"]) == 2
    assert f"fp8gen {command} needs a CUDA GPU" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["build", "export"])
def test_output_that_is_a_file_is_refused_before_compiling(command, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("")
    assert main([command, str(REPO / "examples" / "kernels.toml"), "-o", str(taken)]) == 2
    assert f"{taken} exists and is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("argv,fragment", [
    (["build", "spec.toml", "-j", "0"], "'0' is not a positive number of jobs"),
    (["export", "spec.toml", "-o", "out", "-j", "x"], "'x' is not a positive number of jobs"),
    (["cache", "prune", "--older-than", "-1"], "'-1' is not a non-negative number of days"),
    (["cache", "prune", "--older-than", "nan"], "'nan' is not a non-negative number of days"),
])
def test_bad_option_values_are_usage_errors(argv, fragment, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and fragment in capsys.readouterr().err
