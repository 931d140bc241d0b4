"""fp8gen/errors.py: every error survives a trip between processes (build_many's workers raise them)."""

import pickle

import pytest

from fp8gen.errors import (BundleError, CacheSecurityError, CompilationError, ConfigurationError, CudaError,
                           InputError, OutOfResources, SpecError, ToolchainError)


@pytest.mark.parametrize("error", [
    CompilationError("fp8gen_k", "error: expected a ;", "/tmp/k.cu"),
    SpecError("tile", (7, 7, 7), "BM must be 64 or 128"),
    SpecError("scale", "blok", "choose tensor, row, group or block").renamed("scale_b.kind"),
    OutOfResources("stages", 9, "bytes of shared memory", 300000, 232448, "use fewer stages"),
    InputError("a has dtype torch.float16"), ConfigurationError("FP8GEN_TUNING='maybe'"), ToolchainError("no cute"),
    CudaError("cuInit failed"), CacheSecurityError("writable by others"), BundleError("no manifest"),
], ids=lambda e: type(e).__name__)
def test_errors_pickle_with_their_message_and_fields(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error) and copy.__dict__ == error.__dict__


def test_a_huge_value_is_cut_short_in_the_message():
    error = SpecError("name", "x" * 200_000, "at most 128 characters")
    assert len(str(error)) < 400 and "(200002 characters)" in str(error)


def test_a_value_nested_past_the_recursion_limit_is_shown_by_its_outer_levels():
    value = [128]
    for _ in range(5000):
        value = [value]
    assert str(SpecError("tile", value, "must be three integers")).startswith("tile=[[[[[...]]]]] is invalid")
