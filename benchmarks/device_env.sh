# Source on the GPU machine from the repository root: installs the carried
# nvidia-cutlass wheel (.whl/) into /tmp/site and points Python at it and the checkout.
#   pip download --no-deps nvidia-cutlass==4.2.0.0 -d .whl   # once, on a machine with PyPI
python3 -m pip install -q --upgrade --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || return 1
export PYTHONPATH=/tmp/site:$PWD
export FP8GEN_CACHE_DIR=${FP8GEN_CACHE_DIR:-/tmp/fp8gen-cache}
export PYTHONUNBUFFERED=1
