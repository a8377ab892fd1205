#!/bin/bash
# Set up dcomp on Debian 12, as root: install what is missing, build, then
#   scripts/setup.sh test   run the test suite (what CI runs)
#   scripts/setup.sh run    compress ResNet-20 on CIFAR-10 from the committed baseline
#   scripts/setup.sh build  stop after building
set -euo pipefail
mode=${1:-build}
case $mode in test | run | build) ;; *) echo "usage: $0 [build|test|run]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build git pkg-config
  libtorch-dev                               # LibTorch 1.13 (CPU)
  libgloo-dev                                # headers c10d's ProcessGroupGloo needs (data-parallel training)
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
  chromium                                   # prints the submission PDF; renders report pages in a test
  poppler-utils                              # pdfinfo, pdftotext: the submission test
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
    # Deep Compression of ResNet-20 from the committed baseline, the Lab 4
    # recipe (about an hour on 2 cores); every stage resumes where a killed
    # run stopped.
    run=runs/resnet20_cifar10
    build/src/cli/dcomp pipeline --config configs/resnet20_cifar10.json --data "$data" \
      --threads "$(nproc)" --run-dir "$run" --results "$run/results"
    build/src/cli/dcomp report "$run" --out "$run/report" > /dev/null
    file="$run/results/resnet20.dcz"
    echo "compressed file: $file ($(stat -c %s "$file") bytes; run it with build/src/runtime/dcomp-run $file --eval $data)"
    echo "report: $run/report/report.html"
    ;;
esac
