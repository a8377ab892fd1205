#!/bin/bash
# Build dcomp against the LibTorch inside this machine's Python PyTorch (an
# official 2.x wheel, with CUDA where it has it) instead of Debian's 1.13, in
# build-pytorch/. Download support and the tests are left out; CLI11,
# nlohmann-json, fmt and zlib headers must be findable (CMAKE_PREFIX_PATH, or
# EXTRA_PREFIX for a folder laid out like /usr). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B build-pytorch -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix${EXTRA_PREFIX:+;$EXTRA_PREFIX}" \
  -DDCOMP_WITH_DOWNLOAD=OFF -DDCOMP_BUILD_TESTS=OFF "$@"
cmake --build build-pytorch -j "$(nproc)"
echo "built build-pytorch/src/cli/dcomp against $(python3 -c 'import torch; print(torch.__version__)')"
