#!/bin/bash
# The committed results/resnet_projection: a user's own CNN (tests/python/user_models.py's
# ResNetProjection, width 16, scripted) trained and compressed by dcomp from its TorchScript file.
# fp32 and one thread: on CPUs without AVX-512, LibTorch 1.13's bf16 convolutions are slower.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DCOMP_DATA:-../shared/data/cifar-10-batches-bin}
dcomp=${DCOMP:-build/src/cli/dcomp}
resume=()
[ -f runs/resnet_projection_cifar10_baseline/checkpoint.pt ] && resume=(--resume)
[ -f models/resnet_projection_cifar10_baseline.pt ] ||
  "$dcomp" train --config configs/resnet_projection_cifar10_baseline.json --dataset cifar10 --data "$data" --threads 1 \
    --name resnet_projection_cifar10_baseline "${resume[@]}" --out models/resnet_projection_cifar10_baseline.pt
"$dcomp" pipeline --config configs/resnet_projection_cifar10.json --data "$data" --threads 1 --results results/resnet_projection
"$dcomp" report runs/resnet_projection_cifar10 --out results/resnet_projection
