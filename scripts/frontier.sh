#!/bin/bash
# The ResNet-20 frontier (results/frontier): every config in configs/frontier
# through the pipeline, then the table and plot of all of them beside the
# headline run (results/lab4). Configs with "pruning" train a pruned model
# (about an hour each on this CPU) that the others, with "pruned", start
# from: those go first. Every run resumes where it stopped.
#   scripts/frontier.sh [DCOMP_OPTIONS...]   e.g. --threads 1
set -euo pipefail
cd "$(dirname "$0")/.."
dcomp=${DCOMP:-build/src/cli/dcomp}
data=${DCOMP_DATA:-../shared/data/cifar-10-batches-bin}
configs=($(grep -l '"pruning"' configs/frontier/*.json) $(grep -L '"pruning"' configs/frontier/*.json))
for config in "${configs[@]}"; do
  name=$(basename "$config" .json)
  "$dcomp" pipeline --config "$config" --data "$data" --results "results/frontier/${name#resnet20_}" "$@"
done
"$dcomp" frontier results/lab4 results/frontier/*/ --out results/frontier
