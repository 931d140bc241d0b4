"""The kernels' parameter ABI that Python shares with the generated C++: the epilogue argument struct.

A ctypes mirror of fp8gen_epilogue_args (templates/include/fp8gen/epilogue_args.h). Every rendered
kernel static_asserts its size; tests/unit/test_abi.py compares the field offsets with a C compiler's.
"""

from __future__ import annotations

import ctypes


class EpilogueArgs(ctypes.Structure):
    _fields_ = [
        ("alpha", ctypes.c_float),
        ("beta", ctypes.c_float),
        ("out_scale", ctypes.c_float),
        ("reserved", ctypes.c_int),
        ("alpha_ptr", ctypes.c_void_p),
        ("out_scale_ptr", ctypes.c_void_p),
        ("bias", ctypes.c_void_p),
        ("bias_stride", ctypes.c_longlong),
        ("residual", ctypes.c_void_p),
        ("residual_stride_row", ctypes.c_longlong),
        ("residual_stride_col", ctypes.c_longlong),
        ("amax", ctypes.c_void_p),
        ("group_scales", ctypes.c_void_p),
        ("group_scales_stride_row", ctypes.c_longlong),
        ("group_scales_stride_group", ctypes.c_longlong),
        ("bias_stride_group", ctypes.c_longlong),
    ]


def epilogue_args_size() -> int:
    return ctypes.sizeof(EpilogueArgs)


def epilogue_args_offsets() -> dict[str, int]:
    return {name: getattr(EpilogueArgs, name).offset for name, _ in EpilogueArgs._fields_}
