#!/usr/bin/env bash
# Build IBM aihwkit 1.2.0 from source into its own venv, as the reference that
# tools/aihwkit/record.py runs in. aihwkit is never a dependency of analogsgd: CI compares
# against the JSON fixtures under tests/data/aihwkit/ that record.py writes.
#
#   AIHWKIT_VENV=/path/to/venv tools/aihwkit/build.sh     (default: tools/aihwkit/.venv)
#
# Needs python3 with venv, a C++ compiler and OpenBLAS (apt: libopenblas-dev); about 30 min
# on 2 cores. Ends by printing BUILD_DONE.
set -euo pipefail
AIHW="${AIHWKIT_VENV:-$(cd "$(dirname "$0")" && pwd)/.venv}"
python3 -m venv "$AIHW"
export PATH="$AIHW/bin:$PATH"
pip install -q torch==2.13.0
if ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
  apt-get install -y -qq libopenblas-dev || (apt-get update -qq && apt-get install -y -qq libopenblas-dev)
fi
pip install -q scikit-build pybind11 ninja "cmake>=4.2.1" mypy numpy scipy scikit-learn requests protobuf tqdm
pip download --no-deps aihwkit==1.2.0 -d "$AIHW/dl"
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
  pip wheel --no-build-isolation --no-deps "$AIHW/dl/aihwkit-1.2.0.tar.gz" -w "$AIHW/dl"
pip install --no-deps "$AIHW"/dl/aihwkit-1.2.0-*.whl
OMP_NUM_THREADS=1 python -c "import aihwkit, torch; from aihwkit.nn import AnalogLinear; \
print(aihwkit.__version__, AnalogLinear(4, 2)(torch.rand(3, 4)).shape)"
echo BUILD_DONE
