"""tests/gpu/prebuild.py: the GPU test modules' kernel lists, collected without a GPU."""

from fp8gen import GemmSpec
from fp8gen.render import render
from tests.gpu.prebuild import kernel_specs_by_module, main


def test_each_gpu_test_module_with_a_kernel_list_gives_distinct_renderable_specs():
    by_module = kernel_specs_by_module()
    assert {"test_gemm_per_tensor", "test_gemm_recipes", "test_epilogue", "test_split_k", "test_export"} <= set(by_module)
    for name, specs in by_module.items():
        assert specs and all(isinstance(spec, GemmSpec) for spec in specs), name
        assert len(set(specs)) == len(specs), name
        for spec in specs:
            assert spec.symbol in render(spec).text, spec.name


def test_list_prints_each_distinct_kernel_once(capsys):
    assert main(["--list", "test_split_k", "test_cluster"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [spec.name for specs in kernel_specs_by_module(["test_split_k", "test_cluster"]).values() for spec in specs]
    assert lines[-len(set(names)):] == list(dict.fromkeys(names))
    assert f"{len(set(names))} distinct kernels" in lines


def test_test_processes_share_the_cores_among_xdist_workers(monkeypatch):
    import os

    from tests.gpu.support import compile_jobs

    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    assert compile_jobs() == 16
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "16")
    assert compile_jobs() == 1
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    assert compile_jobs() == 4
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "32")
    assert compile_jobs() == 1
