#!/bin/bash
# The ResNet-20 frontier (results/frontier): every config in configs/frontier
# through the pipeline, then the table and plot of all of them beside the
# headline run (results/lab4). The sparse89 points start from the model that
# resnet20_sparse89_conv4 prunes, so that one goes first; each run resumes.
#   scripts/frontier.sh [DCOMP_OPTIONS...]   e.g. --threads 1
# One pruning run is about an hour on this CPU; the others take minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
dcomp=${DCOMP:-build/src/cli/dcomp}
data=${DCOMP_DATA:-../shared/data/cifar-10-batches-bin}
configs=(configs/frontier/resnet20_sparse89_conv4.json)
for config in configs/frontier/*.json; do
  [ "$config" = "${configs[0]}" ] || configs+=("$config")
done
for config in "${configs[@]}"; do
  name=$(basename "$config" .json)
  "$dcomp" pipeline --config "$config" --data "$data" --results "results/frontier/${name#resnet20_}" "$@"
done
"$dcomp" frontier results/lab4 results/frontier/*/ --out results/frontier
