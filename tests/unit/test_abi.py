"""The ctypes mirror of fp8gen_epilogue_args matches what a C compiler makes of the header."""

import shutil
import subprocess

import pytest

from fp8gen.abi import epilogue_args_offsets, epilogue_args_size
from fp8gen.render import include_dir


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_ctypes_layout_matches_the_c_header(tmp_path):
    offsets = epilogue_args_offsets()
    prints = "\n".join(f'  printf("{name} %zu\\n", offsetof(fp8gen_epilogue_args, {name}));' for name in offsets)
    program = tmp_path / "layout.c"
    program.write_text(f'#include <stddef.h>\n#include <stdio.h>\n#include "fp8gen/epilogue_args.h"\n'
                       f'int main(void) {{\n  printf("size %zu\\n", sizeof(fp8gen_epilogue_args));\n{prints}\n'
                       f'  return 0;\n}}\n')
    binary = tmp_path / "layout"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", f"-I{include_dir()}", str(program), "-o", str(binary)],
                   check=True)
    measured = dict(line.split() for line in subprocess.run([str(binary)], check=True, capture_output=True,
                                                            text=True).stdout.splitlines())
    assert int(measured.pop("size")) == epilogue_args_size()
    assert {name: int(value) for name, value in measured.items()} == offsets
