"""Exception hierarchy. Every error fp8gen raises on purpose derives from Fp8genError."""

from __future__ import annotations

import reprlib


class Fp8genError(Exception):
    """Base class of all fp8gen errors."""

    def __reduce__(self):
        # Errors cross process boundaries (build_many's workers); their constructors take other arguments
        # than Exception.args holds, so they are rebuilt from their fields.
        return _restore, (self.__class__, self.args, self.__dict__)


def _restore(cls, args: tuple, fields: dict) -> Fp8genError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(fields)
    return error


class SpecError(Fp8genError, ValueError):
    """A kernel spec field is invalid: names the field, the value and what is allowed."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}={_shown(value)} is invalid: {allowed}")

    def renamed(self, field: str) -> "SpecError":
        """The same error (same class and details) naming the field as the caller sees it: scale_b.kind for a
        recipe's kind, a spec file's kernel[2].tile for a spec's tile."""
        return _restore(self.__class__, (f"{field}={_shown(self.value)} is invalid: {self.allowed}",),
                        {**self.__dict__, "field": field})


_shallow_repr = reprlib.Repr()
_shallow_repr.maxlevel = 4


def _shown(value: object, limit: int = 200) -> str:
    """The value's repr, cut short: an error message is no place for a 200 KB string."""
    try:
        text = repr(value)
    except RecursionError:  # nested deeper than Python's recursion limit: show its outer levels
        text = _shallow_repr.repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class OutOfResources(SpecError):
    """A spec needs more of a hardware resource (shared memory, registers) than exists."""

    def __init__(self, field: str, value: object, resource: str, required: int, limit: int, hint: str):
        self.required = required
        self.limit = limit
        super().__init__(field, value, f"needs {required} {resource}, limit is {limit}; {hint}")


class InputError(Fp8genError, ValueError):
    """A tensor or argument passed to a kernel call is invalid; the message names it."""


class CompilationError(Fp8genError, RuntimeError):
    """NVRTC rejected a rendered kernel. Carries the compiler log and the source path."""

    def __init__(self, symbol: str, log: str, source_path: str | None):
        self.symbol = symbol
        self.log = log
        self.source_path = source_path
        where = f" (source: {source_path})" if source_path else ""
        super().__init__(f"NVRTC failed to compile {symbol}{where}:\n{log}")


class ConfigurationError(Fp8genError, ValueError):
    """An FP8GEN_* environment variable holds a value fp8gen does not understand; the message names it."""


class ToolchainError(Fp8genError, RuntimeError):
    """A header directory or library fp8gen needs was not found."""


class CudaError(Fp8genError, RuntimeError):
    """A CUDA driver call failed."""


class CacheSecurityError(Fp8genError, PermissionError):
    """The kernel cache is not private to this user; loading code from it is refused."""


class BundleError(Fp8genError, ValueError):
    """A kernel bundle that cannot be used: unknown format, other fp8gen version, or a cubin that does not
    match its recorded sha256."""
