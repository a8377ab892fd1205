#!/bin/bash
# Writes the runtime loader's fuzzing corpus (tests/fuzz/corpus/runtime_load):
# one small compressed file per test model (the five users' CNNs of
# tests/python/user_models.py, scripted, and the built-in networks' committed
# baselines), pruned
# to 95% and shared at 2 bits so that the seeds stay small.
#   scripts/fuzz_corpus.sh [BUILD_DIR]   (default build; needs its user_models)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dcomp=$build/src/cli/dcomp
out=tests/fuzz/corpus/runtime_load
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
seed() {  # NAME MODEL_FILE [--model BUILTIN]
  local name=$1 file=$2
  shift 2
  "$dcomp" prune "$file" "$@" --dataset "$dataset" --method percentile --amount 0.95 --split none --out "$work/$name.p.pt" >/dev/null
  "$dcomp" quantize "$work/$name.p.pt" "$@" --dataset "$dataset" --conv-bits 2 --fc-bits 2 --split none --out "$work/$name.q.pt" >/dev/null
  "$dcomp" pack "$work/$name.q.pt" "$@" --dense-float16 --out "$out/$name.dcz" --json "$work/$name.json" >/dev/null
  echo "$out/$name.dcz: $(stat -c %s "$out/$name.dcz") bytes"
}
dataset=cifar10
for m in resnet20 vgg mobilenetv2 squeezenet resnet_projection; do
  seed "$m" "$build/tests/user_models/${m}_scripted.pt"
done
dataset=cifar10
seed resnet20_builtin models/resnet20_cifar10_baseline.pt --model resnet20
dataset=fmnist
seed lenet300 models/lenet300_fmnist_baseline.pt --model lenet300
seed lenet5 models/lenet5_fmnist_baseline.pt --model lenet5
