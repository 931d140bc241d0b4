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


def write_spec(tmp_path, text: str, name: str = "spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


SMALL = "[[kernel]]\nname = 'small'\ntile = [64, 64, 128]\n"


def test_a_compile_that_fails_in_a_worker_process_is_reported_with_its_log(cache_dir, tmp_path, capsys, monkeypatch):
    fake = tmp_path / "fake-cutlass"
    (fake / "cute").mkdir(parents=True)
    (fake / "cute" / "tensor.hpp").write_text("#error this is not CUTLASS\n")
    monkeypatch.setenv("FP8GEN_CUTLASS_INCLUDE", str(fake))
    spec = write_spec(tmp_path, SMALL + "[[kernel]]\nname = 'small2'\ntile = [64, 128, 128]\n")
    assert main(["build", str(spec), "-o", str(tmp_path / "out"), "-j", "2"]) == 2
    err = capsys.readouterr().err
    assert "fp8gen: error: NVRTC failed to compile" in err and "catastrophic error detected" in err  # the log
    assert "Traceback" not in err


def test_build_refuses_a_cache_it_cannot_fill_before_compiling(cache_dir, tmp_path, capsys):
    from fp8gen.build import nvrtc_compile_count

    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    cache_dir.write_text("")
    compiles = nvrtc_compile_count()
    for command in (["build", str(write_spec(tmp_path, SMALL)), "-o", str(tmp_path / "out")],
                    ["export", str(write_spec(tmp_path, SMALL)), "-o", str(tmp_path / "bundle")]):
        assert main(command) == 2
        assert f"fp8gen cache path {cache_dir} exists and is not a directory" in capsys.readouterr().err
    assert nvrtc_compile_count() == compiles


def test_build_refuses_a_cache_directory_it_cannot_make_before_compiling(tmp_path, capsys, monkeypatch):
    from fp8gen.build import nvrtc_compile_count

    (tmp_path / "a-file").write_text("")
    under_a_file = tmp_path / "a-file" / "cache"
    monkeypatch.setenv("FP8GEN_CACHE_DIR", str(under_a_file))
    compiles = nvrtc_compile_count()
    assert main(["build", str(write_spec(tmp_path, SMALL)), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"fp8gen cache path {under_a_file} cannot be used (Not a directory)" in err
    assert "point FP8GEN_CACHE_DIR at a writable directory" in err and "Traceback" not in err
    assert nvrtc_compile_count() == compiles


def test_build_names_a_cache_directory_it_may_not_write(cache_dir, tmp_path, capsys, monkeypatch):
    import pathlib

    def refused(self, *args, **kwargs):  # (chmod cannot show this where the tests run as root)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", refused)
    assert main(["build", str(write_spec(tmp_path, SMALL)), "-o", str(tmp_path / "out")]) == 2
    assert f"fp8gen cache path {cache_dir} cannot be used (Permission denied)" in capsys.readouterr().err


@pytest.mark.parametrize("output,message", [
    ("", "the output directory (-o) must not be empty"),
    ("a-file/sub", "cannot be made: "),
])
@pytest.mark.parametrize("command", ["build", "export"])
def test_output_directories_that_cannot_be_made_are_refused_before_compiling(command, output, message, cache_dir,
                                                                            tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("")
    assert main([command, str(write_spec(tmp_path, SMALL)), "-o", output]) == 2
    assert message in capsys.readouterr().err
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_export_refuses_a_directory_that_holds_other_files(cache_dir, tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "CMakeLists.txt").write_text("my project\n")
    assert main(["export", str(write_spec(tmp_path, SMALL)), "-o", str(project)]) == 2
    assert "is not empty and holds no bundle (manifest.json)" in capsys.readouterr().err
    assert (project / "CMakeLists.txt").read_text() == "my project\n"


def test_a_bad_fp8gen_flag_is_reported_by_any_command(monkeypatch, capsys):
    monkeypatch.setenv("FP8GEN_KEEP_GENERATED", "maybe")
    assert main(["cache", "list"]) == 2
    assert "FP8GEN_KEEP_GENERATED='maybe' is not understood" in capsys.readouterr().err


@pytest.mark.parametrize("arguments,message", [
    (["--json", "/nonexistent-dir/x.json"], "its directory /nonexistent-dir does not exist"),
    (["--json", "."], "name a file to write"),
    (["--plot", "plot.xyz"], "name a png, pdf, svg, jpg, jpeg file"),
    (["--groups", ""], "has an empty group name"),
    (["--recipe", "tensor,tensor"], "names a recipe twice"),
])
def test_bench_arguments_are_checked_before_the_run(arguments, message, capsys):
    assert main(["bench", *arguments]) == 2
    assert message in capsys.readouterr().err


def test_cache_info_needs_a_key(cache_dir, capsys):
    assert main(["cache", "info", ""]) == 2
    assert "cache info needs a key" in capsys.readouterr().err
