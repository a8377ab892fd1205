#!/bin/bash
# Wrong arguments and bad input give a one-line error and a non-zero exit.
set -u
dcomp=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect_error DESCRIPTION PATTERN COMMAND...: the command must fail, and its
# stderr must be one line matching PATTERN.
expect_error() {
  local what=$1 pattern=$2
  shift 2
  if "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: $what: exited 0"; failures=$((failures + 1)); return
  fi
  if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q -- "$pattern" "$tmp/err"; then
    echo "FAIL: $what: stderr was:"; cat "$tmp/err"; failures=$((failures + 1)); return
  fi
  echo "ok: $what: $(cat "$tmp/err")"
}

expect_error "missing data" "directory not found" "$dcomp" train --data "$tmp/none" --epochs 1
mkdir -p "$tmp/cifar"
head -c 5000 /dev/urandom >"$tmp/cifar/data_batch_1.bin"
expect_error "truncated batch" "data_batch_1.bin: truncated" "$dcomp" train --data "$tmp/cifar" --epochs 1
expect_error "unknown model" "resnet21" "$dcomp" train --model resnet21
expect_error "bad number" "epochs" "$dcomp" train --epochs -3
echo '{"lrr": 0.1}' >"$tmp/recipe.json"
expect_error "unknown recipe key" "unknown training setting 'lrr'" "$dcomp" train --config "$tmp/recipe.json"
echo '{"lr": ' >"$tmp/broken.json"
expect_error "broken recipe" "broken.json" "$dcomp" train --config "$tmp/broken.json"
echo "not a checkpoint" >"$tmp/w.pt"
expect_error "corrupt weights" "w.pt: not a readable PyTorch checkpoint" "$dcomp" eval "$tmp/w.pt"
expect_error "missing weights" "nope.pt" "$dcomp" eval "$tmp/nope.pt"
expect_error "no subcommand" "subcommand" "$dcomp"

echo "$((9 - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
