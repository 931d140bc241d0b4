"""Checks of single DSL fields (spec and epilogue ops); each failure raises SpecError naming the field."""

from __future__ import annotations

from .errors import SpecError


def _same(value: object, option: object) -> bool:
    """Equal and of the option's type (or a subclass), element by element for tuples: True is not 1 and 2.0
    is not 2, which would otherwise reach the kernel's C++ template arguments as `true` or `2.0`."""
    if isinstance(value, tuple) and isinstance(option, tuple):
        return len(value) == len(option) and all(_same(v, o) for v, o in zip(value, option))
    if isinstance(value, bool) != isinstance(option, bool):
        return False
    return isinstance(value, type(option)) and value == option


def choose(field: str, value: object, allowed: tuple) -> None:
    if not any(_same(value, option) for option in allowed):
        raise SpecError(field, value, f"allowed values are {', '.join(map(repr, allowed))}")


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(field: str, value: object, at_most: int | None = None) -> None:
    if not is_int(value) or value <= 0 or (at_most is not None and value > at_most):
        limit = f" at most {at_most}" if at_most is not None else ""
        raise SpecError(field, value, f"must be a positive integer{limit}")
