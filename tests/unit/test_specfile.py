import pytest

from fp8gen import SpecError
from fp8gen.specfile import load_specs, parse_specs
from tests.conftest import REPO


def test_example_spec_file_loads():
    specs = load_specs(REPO / "examples" / "kernels.toml")
    assert [s.name for s in specs] == ["prefill_e4m3_bf16", "decode_e4m3_bf16", "grad_e5m2_e4m3_f32", "fast_e4m3_f16"]
    assert specs[2].a == "e5m2" and specs[2].out == "f32"
    assert specs[3].accumulation == "fast" and specs[3].tile == (128, 256, 128)


def test_defaults_apply_and_kernel_overrides():
    specs = parse_specs('[defaults]\nout = "f16"\n[[kernel]]\nname = "a"\n[[kernel]]\nname = "b"\nout = "f32"\n')
    assert [s.out for s in specs] == ["f16", "f32"]


@pytest.mark.parametrize("text,fragment", [
    ("[[kernel]]\nname = 'x'\ntile = [128, 128", "not valid TOML"),
    ("[[kernels]]\nname = 'x'\n", "unknown top-level keys"),
    ("[defaults]\nout = 'bf16'\n", "needs one or more [[kernel]]"),
    ("[[kernel]]\nname = 'x'\ncolour = 'red'\n", "unknown fields"),
    ("[[kernel]]\nname = 'x'\n[[kernel]]\nname = 'x'\n", "repeated: ['x']"),
    ("[[kernel]]\nname = 'x'\nout = 'bf17'\n", "kernel[0].out"),
    ("kernel = [1, 2]\n", "kernel[0]=1 is invalid: must be a table"),
    ("[defaults]\ncolour = 'red'\n[[kernel]]\nname = 'x'\n", "defaults=['colour'] is invalid: unknown fields"),
    ("[[kernel]]\nepilogue = 5\n", "kernel[0].epilogue=5"),
    ("[[kernel]]\nscale_b = { kind = 'blok' }\n", "kernel[0].scale_b.kind='blok'"),
    ("[[kernel]]\ntile = " + "[" * 5000 + "]" * 5000 + "\n", "nests arrays or inline tables too deeply"),
])
def test_bad_spec_files_are_rejected_with_the_reason(text, fragment):
    with pytest.raises(SpecError) as info:
        parse_specs(text, "bad.toml")
    assert fragment in str(info.value)


@pytest.mark.parametrize("field,value", [
    ("name", "x\\n#include <evil>"),
    ("name", "k(); asm(\\\"trap;\\\"); void f"),
    ("a", "e4m3> evil<"),
    ("tile", "[128, 128, '128; evil']"),
    ("stages", "'7; evil'"),
])
def test_values_that_would_reach_cplusplus_are_validated(field, value):
    quoted = value if field in ("tile", "stages") else f'"{value}"'
    with pytest.raises(SpecError):
        parse_specs(f"[[kernel]]\n{field} = {quoted}\n")


def test_unreadable_file(tmp_path):
    with pytest.raises(SpecError, match="cannot be read"):
        load_specs(tmp_path / "missing.toml")


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe[[kernel]]")
    with pytest.raises(SpecError, match="is not UTF-8 text"):
        load_specs(path)


def test_out_of_resources_keeps_its_class_and_figures():
    from fp8gen import OutOfResources

    with pytest.raises(OutOfResources) as info:
        parse_specs("[[kernel]]\nstages = 100\n", "big.toml")
    assert info.value.field == "big.toml: kernel[0].stages" and info.value.limit > 0 and info.value.required > 0


def test_a_bad_value_from_defaults_is_named_where_it_was_written():
    text = "[defaults]\ntile = [1, 2, 3]\n[[kernel]]\nname = 'a'\ntile = [64, 64, 128]\n[[kernel]]\nname = 'b'\n"
    with pytest.raises(SpecError, match=r"defaults.tile \(inherited by kernel\[1\]\)=\(1, 2, 3\)"):
        parse_specs(text)


def test_unknown_kernel_fields_are_named_with_the_kernel():
    with pytest.raises(SpecError, match=r"kernel\[0\]=\['bar', 'foo'\] is invalid: unknown fields"):
        parse_specs("[[kernel]]\nfoo = 1\nbar = 2\n")


def test_a_scale_table_needs_its_kind():
    with pytest.raises(SpecError, match=r"kernel\[0\].scale_a=.* a table needs kind"):
        parse_specs("[[kernel]]\nscale_a = {group_size = 128}\n")


def test_a_byte_order_mark_is_allowed(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[[kernel]]\nname = 'k'\n")
    assert [spec.name for spec in load_specs(path)] == ["k"]


def test_an_epilogue_from_defaults_is_named_there():
    text = "[defaults]\nepilogue = ['relu', {op = 'clamp', lo = 5, hi = 1}]\n[[kernel]]\nname = 'a'\n"
    with pytest.raises(SpecError, match=r"defaults.epilogue\[1\].clamp \(inherited by kernel\[0\]\)"):
        parse_specs(text)
