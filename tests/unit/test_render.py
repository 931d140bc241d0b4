import re

import jinja2
import pytest

from fp8gen import GemmSpec, ScaleRecipe
from fp8gen.heuristics import choose_spec
from fp8gen.render import GEMM_TEMPLATE, kernel_parameters, project_dependencies, render, template_dir, write_generated


def test_render_fills_the_template_with_spec_parameters():
    spec = GemmSpec(a="e5m2", b="e4m3", out="f16", tile=(64, 128, 128), stages=5, name="k_test")
    source = render(spec)
    assert source.symbol == "fp8gen_k_test"
    assert 'extern "C" __global__' in source.text
    assert "fp8gen_k_test(" in source.text
    assert "cutlass::float_e5m2_t, cutlass::float_e4m3_t, __half" in source.text
    assert "/*BlockM=*/64, /*BlockN=*/128, /*BlockK=*/128" in source.text
    assert "/*Stages=*/5, /*ConsumerWGs=*/1" in source.text
    assert spec.summary() in source.text
    assert "{{" not in source.text and "{%" not in source.text


def test_dependencies_cover_template_and_every_included_header():
    deps = dict(project_dependencies(GEMM_TEMPLATE))
    headers = {p.relative_to(template_dir()).as_posix() for p in (template_dir() / "include").rglob("*.cuh")}
    assert GEMM_TEMPLATE in deps
    assert headers <= set(deps), "a project header is not tracked by the cache key"
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in deps.values())


def test_missing_template_parameter_is_an_error():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())), undefined=jinja2.StrictUndefined)
    params = kernel_parameters(GemmSpec())
    del params["block_n"]
    with pytest.raises(jinja2.UndefinedError):
        env.get_template(GEMM_TEMPLATE).render(**params)


def test_scale_recipes_render_their_operand_scales():
    spec = GemmSpec(scale_a=ScaleRecipe("group"), scale_b=ScaleRecipe("block", dtype="ue8m0"))
    text = render(spec).text
    assert "OperandScales<fp8gen::ScaleKind::Group, float, 128>" in text
    assert "OperandScales<fp8gen::ScaleKind::Block, uint8_t, 128>" in text
    text = render(GemmSpec(scale_a="row", scale_b="tensor")).text
    assert "OperandScales<fp8gen::ScaleKind::Row, float, 1>" in text
    assert "OperandScales<fp8gen::ScaleKind::Tensor, float, 1>" in text


@pytest.mark.parametrize("out", ["e4m3", "e5m2", "bf16", "f32"])
@pytest.mark.parametrize("m,n,k", [(1, 1008, 7168), (64, 2112, 7168), (128, 2112, 7168), (4096, 2112, 7168),
                                   (4096, 7168, 2048), (32, 28672, 8192)])
def test_the_heuristics_picks_render_for_every_output(m, n, k, out):
    # (FP8 outputs once got 112- and 176-wide tiles, whose rows no TMA-store box fits)
    for recipe in ("tensor", "row"):
        rendered = render(choose_spec(m, n, k, "e4m3", "e4m3", out, recipe, recipe))
        assert f"{rendered.symbol}(" in rendered.text


def test_write_generated(tmp_path):
    source = render(GemmSpec(name="gen_test"))
    path = write_generated(source, tmp_path / "generated")
    assert path.name == "fp8gen_gen_test.cu"
    assert path.read_text() == source.text


def test_kernels_up_to_128_wide_load_only_a_s_m_rows():
    # GemmSpec.narrows_a is the one rule: the kernel's kNarrowsA and the host's A box rows both follow it
    assert "/*NarrowsA=*/true" in render(GemmSpec(tile=(64, 16, 128))).text
    assert "/*NarrowsA=*/true" in render(GemmSpec(tile=(128, 128, 128))).text
    assert "/*NarrowsA=*/false" in render(GemmSpec(tile=(128, 192, 128))).text
