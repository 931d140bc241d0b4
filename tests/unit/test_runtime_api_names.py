"""Every cuda.bindings name the runtime uses exists in the installed bindings (no GPU needed)."""

import re
from pathlib import Path

import fp8gen.runtime


def test_driver_names_resolve():
    from cuda.bindings import driver

    source = Path(fp8gen.runtime.__file__).read_text()
    names = set(re.findall(r"driver\.([A-Za-z_0-9]+(?:\.[A-Za-z_0-9]+)*)", source))
    assert names
    for dotted in names:
        obj = driver
        for part in dotted.split("."):
            obj = getattr(obj, part)


def test_launch_config_with_cluster_attribute_builds():
    from cuda.bindings import driver

    config = driver.CUlaunchConfig()
    config.gridDimX, config.gridDimY, config.gridDimZ = 132, 1, 1
    attr = driver.CUlaunchAttribute()
    attr.id = driver.CUlaunchAttributeID.CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION
    attr.value.clusterDim.x = 2
    config.attrs = [attr]
    config.numAttrs = 1
    assert config.numAttrs == 1
