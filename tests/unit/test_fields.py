"""fp8gen/fields.py: single-field checks of the DSL. A value must equal an allowed one *and* be of its type,
since the value reaches the kernel's C++ template arguments as written (True as `true`, 2.0 as `2.0`)."""

import pytest

from fp8gen.errors import SpecError
from fp8gen.fields import choose, is_int, positive_int


@pytest.mark.parametrize("value,allowed", [
    (2, (1, 2, 3)),
    ("e4m3", ("e4m3", "e5m2")),
    ((128, 128), ((64, 64), (128, 128))),
    (True, (False, True)),
])
def test_choose_accepts_an_allowed_value_of_its_type(value, allowed):
    choose("field", value, allowed)


@pytest.mark.parametrize("value,allowed", [
    (True, (0, 1)),            # equal to 1, but a bool
    (1, (False, True)),        # equal to True, but an int
    (2.0, (1, 2)),             # equal to 2, but a float
    ((128, 128.0), ((128, 128),)),  # element by element
    ((128,), ((128, 128),)),
    ("E4M3", ("e4m3",)),
    (None, (1,)),
])
def test_choose_refuses_equal_values_of_another_type_and_others(value, allowed):
    with pytest.raises(SpecError) as info:
        choose("tile", value, allowed)
    assert info.value.field == "tile" and info.value.value == value
    assert str(info.value) == f"tile={value!r} is invalid: allowed values are {', '.join(map(repr, allowed))}"


def test_is_int_excludes_bools_and_floats():
    assert is_int(0) and is_int(-3) and is_int(2**40)
    assert not is_int(True) and not is_int(2.0) and not is_int("2") and not is_int(None)


@pytest.mark.parametrize("value", [1, 7, 64])
def test_positive_int_accepts_positive_ints_up_to_the_limit(value):
    positive_int("stages", value, at_most=64)
    positive_int("stages", value)


@pytest.mark.parametrize("value,at_most,reason", [
    (0, None, "must be a positive integer"),
    (-1, None, "must be a positive integer"),
    (True, None, "must be a positive integer"),
    (2.0, None, "must be a positive integer"),
    ("4", None, "must be a positive integer"),
    (65, 64, "must be a positive integer at most 64"),
])
def test_positive_int_names_the_field_and_the_rule(value, at_most, reason):
    with pytest.raises(SpecError) as info:
        positive_int("stages", value, at_most=at_most)
    assert str(info.value) == f"stages={value!r} is invalid: {reason}"
