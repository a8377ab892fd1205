#!/bin/bash
# Set up dcomp on Debian 12, as root: install what is missing, build, then
#   scripts/setup.sh test   run the test suite (what CI runs)
#   scripts/setup.sh run    train the ResNet-20 CIFAR-10 baseline (the default job)
#   scripts/setup.sh build  stop after building
set -euo pipefail
mode=${1:-build}
case $mode in test | run | build) ;; *) echo "usage: $0 [build|test|run]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build git pkg-config
  libtorch-dev                               # LibTorch 1.13 (CPU)
  libcli11-dev nlohmann-json3-dev libfmt-dev # arguments, JSON, formatting
  zlib1g-dev                                 # gzip-compressed IDX files, CRC-32
  libzip-dev                                 # lab4_submission.zip
  libpng-dev libjpeg62-turbo-dev             # PNG and JPEG images (dcomp-run, image folders)
  libcurl4-openssl-dev libssl-dev libarchive-dev  # dcomp data download
  libopenblas0-openmp                        # fast fp32 BLAS (Debian defaults to the reference BLAS)
  libgoogle-perftools-dev                    # tcmalloc: reuses activation buffers (docs/benchmarks.md)
  libgtest-dev                               # tests
  clang libclang-rt-14-dev                   # libFuzzer targets (scripts/fuzz.sh)
  python3-torch python3-numpy                # PyTorch interoperability tests
  chromium                                   # renders dcomp report pages in a test
  dataset-fashion-mnist                      # Fashion-MNIST (IDX)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"

case $mode in
  test)
    ctest --test-dir build --output-on-failure -j "$(nproc)"
    scripts/fuzz.sh 20  # the two decoders, runtime loader, round trip, from their committed corpora
    scripts/check_libtorch2.sh build  # every LibTorch source against LibTorch 2.x headers
    ;;
  run)
    data=${DCOMP_DATA:-../shared/data/cifar-10-batches-bin}
    if [ ! -d "$data" ]; then
      data=data/cifar-10-batches-bin
      [ -d "$data" ] || build/src/cli/dcomp data download cifar10 --dest data
    fi
    resume=()  # a killed run continues where it stopped
    [ -f runs/resnet20_baseline/checkpoint.pt ] && resume=(--resume)
    build/src/cli/dcomp train --config configs/resnet20_cifar10_baseline.json --data "$data" \
      --name resnet20_baseline "${resume[@]}" --out runs/resnet20_baseline/resnet20_cifar10_baseline.pt
    ;;
esac
