#!/bin/bash
# Data-parallel training on c10d (docs/data_parallel.md), 2 ranks on loopback:
# the same weights as one process with the global batch, bit-identical ranks
# (train() compares digests after every epoch), zeros kept by masked
# retraining, checkpoints that resume either way, and one-line errors for a
# dead rank, a busy port, an absent master, mismatched ranks and a broken
# environment; a user's TorchScript module trains the same way.
# Usage: data_parallel_test.sh DCOMP SOURCE_DIR
set -u
dcomp=$1
source_dir=$2
python=/usr/bin/python3
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp"
passes=0 failures=0
pass() { echo "ok: $*"; passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
export GLOO_SOCKET_IFNAME=lo OMP_NUM_THREADS=1  # loopback only
# Debian's torchrun (1.13 on Python 3.11) needs --redirects and --tee set, or
# it fails at start; --standalone makes rank 0 host the store.
torchrun=(torchrun --redirects 1 --tee 1 --no_python --standalone --nproc_per_node=2)
# LeNet-300-100 on 1,024 Fashion-MNIST images (the rest held out): 8 global batches of 128 an epoch.
lenet=(--model lenet300 --validation-size 58976 --fp32 --threads 1 --runs-dir "$tmp/runs")
free_port() { "$python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
# rank R PORT ARGS...: one rank launched by hand with torchrun's variables, in the background.
rank() {
  local r=$1 port=$2
  shift 2
  RANK=$r LOCAL_RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$dcomp" "$@" >"$tmp/out$r" 2>"$tmp/err$r" &
  pids+=($!)
}
# expect_last_line DESCRIPTION RANK EXIT_CODE PATTERN: the rank failed and its stderr ends with one error line.
expect_last_line() {
  if [ "$3" -ne 0 ] && tail -n 1 "$tmp/err$2" | grep -q -- "^dcomp: error: .*$4"; then
    pass "$1: $(tail -n 1 "$tmp/err$2")"
  else
    fail "$1: exit $3, stderr: $(cat "$tmp/err$2")"
  fi
}
compare() {  # compare A B TOLERANCE: two state_dicts, max abs difference within TOLERANCE
  "$python" -c "
import sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
d = max((a[k] - b[k]).abs().max().item() for k in a)
print(d)
sys.exit(0 if a.keys() == b.keys() and d <= float(sys.argv[3]) else 1)" "$@"
}

# 2 ranks x batch 64 against 1 process x batch 128: the same images, crops and
# flips in every step, so the same weights but for the order of float sums.
"$dcomp" train "${lenet[@]}" --epochs 2 --batch-size 128 --name single --out single.pt >out 2>&1 ||
  fail "one process: $(cat out)"
if "${torchrun[@]}" "$dcomp" train "${lenet[@]}" --epochs 2 --batch-size 64 --name dp --out dp.pt >out 2>&1; then
  grep -q "2 ranks x batch 64 = global batch 128" out && pass "the global batch is stated" ||
    fail "no global batch in: $(cat out)"
  d=$(compare single.pt dp.pt 1e-5) && pass "2 ranks x 64 = 1 process x 128 (max difference $d)" ||
    fail "2 ranks differ from one process by $d"
  [ "$(grep -c "epoch 2/2" out)" -eq 1 ] && pass "rank 0 alone draws progress" || fail "progress: $(cat out)"
else
  fail "torchrun, 2 ranks: $(cat out)"
fi

# ResNet-20 (BatchNorm, local per rank) on a 10-class image folder: it learns,
# both ranks compute the same validation top-1 (checked by train() through
# the store), and its checkpoint resumes in 1 process and in 2 ranks.
"$python" "$source_dir/tests/python/image_folder.py" images 16 10
resnet=(--model resnet20 --dataset imagefolder --data images --threads 1 --batch-size 16 --lr 0.05 --runs-dir "$tmp/runs")
if "${torchrun[@]}" "$dcomp" train "${resnet[@]}" --epochs 4 --stop-after 3 --name r20 >out 2>&1; then
  "$python" -c "
import json, sys
r = [json.loads(l) for l in open('runs/r20/metrics.jsonl')]
sys.exit(0 if len(r) == 3 and r[-1]['train_loss'] < r[0]['train_loss'] else 1)" &&
    pass "ResNet-20 under 2 ranks learns (training loss falls over 3 epochs)" || fail "no learning: $(cat runs/r20/metrics.jsonl)"
  cp -r runs/r20 runs/r20_single
  "${torchrun[@]}" "$dcomp" train "${resnet[@]}" --epochs 4 --resume --name r20 --out r20.pt >out 2>&1 &&
    grep -q "resuming .* after epoch 3" out && pass "the checkpoint resumes under 2 ranks" || fail "2-rank resume: $(cat out)"
  "$dcomp" train "${resnet[@]}" --epochs 4 --resume --name r20_single --out r20_single.pt >out 2>&1 &&
    pass "the 2-rank checkpoint resumes in one process" || fail "1-process resume: $(cat out)"
else
  fail "ResNet-20 under torchrun: $(cat out)"
fi

# A user's TorchScript module (the VGG-like network of tests/python/user_models.py)
# under 2 ranks: the ranks stay bit-identical (train() compares them every
# epoch), and what rank 0 writes is TorchScript that Python opens, trained.
"$python" "$source_dir/tests/python/user_models.py" init vgg user.pt 8 10
if "${torchrun[@]}" "$dcomp" train --model user.pt --dataset imagefolder --data images --image-size 32 --threads 1 \
  --batch-size 16 --epochs 2 --fp32 --runs-dir "$tmp/runs" --name user --out user_trained.pt >out 2>&1; then
  "$python" -c "
import sys, torch
a, b = torch.jit.load('user.pt'), torch.jit.load('user_trained.pt').eval()
moved = any(not torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
sys.exit(0 if moved and b(torch.zeros(2, 3, 32, 32)).shape == (2, 10) else 1)" &&
    pass "a TorchScript module trains under 2 ranks; Python opens what rank 0 wrote" ||
    fail "TorchScript under 2 ranks wrote: $(cat out)"
else
  fail "TorchScript under torchrun: $(cat out)"
fi

# Masked retraining under 2 ranks keeps every zero.
if "$dcomp" prune "$source_dir/models/lenet300_fmnist_baseline.pt" --model lenet300 --method percentile --amount 0.8 \
  --out pruned.pt >out 2>&1 &&
  "${torchrun[@]}" "$dcomp" finetune pruned.pt "${lenet[@]}" --epochs 1 --batch-size 64 --name ft --out ft.pt >out 2>&1; then
  "$python" -c "
import sys, torch
p, f = torch.load('pruned.pt'), torch.load('ft.pt')
kept = all(bool((f[k][p[k] == 0] == 0).all()) for k in p if k.endswith('weight'))
moved = any(not torch.equal(p[k], f[k]) for k in p)
sys.exit(0 if kept and moved else 1)" && pass "masked retraining under 2 ranks keeps every zero" ||
    fail "zeros not kept, or nothing trained"
else
  fail "finetune under torchrun: $(cat out)"
fi

# The pipeline under 2 ranks: every stage, rank 0 writing; the same top-1 as
# one process with the global batch, within a few images.
for setting in "single 128" "dp 64"; do
  set -- $setting
  cat >"pipeline_$1.json" <<EOF
{"model": "lenet300", "baseline": "$source_dir/models/lenet300_fmnist_baseline.pt",
 "pruning": {"method": "layerwise", "targets": [["*", 0.8]], "end_epoch": 1},
 "retraining": {"epochs": 2, "lr": 0.01, "bf16": false, "batch_size": $2, "validation_size": 58976},
 "weight_sharing": {"fc_bits": 4},
 "trained_quantization": {"epochs": 1, "lr": 0.0001, "weight_decay": 0, "bf16": false, "batch_size": $2,
                          "validation_size": 58976},
 "dense_float16": true}
EOF
done
if "$dcomp" pipeline --config pipeline_single.json --threads 1 --run-dir pipe_single >out 2>&1 &&
  "${torchrun[@]}" "$dcomp" pipeline --config pipeline_dp.json --threads 1 --run-dir pipe_dp --results pipe_results \
    >out 2>&1; then
  "$python" -c "
import json, sys
a, b = json.load(open('pipe_single/summary.json')), json.load(open('pipe_dp/summary.json'))
sys.exit(0 if abs(a['final_top1'] - b['final_top1']) <= 0.002 and a['nonzero'] == b['nonzero'] else 1)" &&
    pass "the pipeline under 2 ranks ends where one process does" || fail "pipelines differ: $(cat out)"
  [ -s pipe_results/lenet300.dcz ] && [ "$(grep -c "results in" out)" -eq 1 ] && pass "rank 0 alone reports" ||
    fail "pipeline results: $(cat out)"
  "${torchrun[@]}" "$dcomp" pipeline --config pipeline_dp.json --threads 1 --run-dir pipe_dp >out 2>&1 &&
    [ "$(grep -c "done before" out)" -eq 6 ] && pass "a finished 2-rank pipeline runs no stage again" ||
    fail "2-rank pipeline rerun: $(cat out)"
else
  fail "pipeline under torchrun: $(cat out)"
fi

# A rank that dies mid-epoch: the other stops within its timeout, naming it,
# and the last checkpoint loads.
long=(--model lenet300 --fp32 --threads 1 --runs-dir "$tmp/runs" --epochs 100 --batch-size 64 --name dead)
port=$(free_port)
rank 0 "$port" train "${long[@]}" --timeout 10
rank0=$!
rank 1 "$port" train "${long[@]}" --timeout 10
for _ in $(seq 300); do [ -f runs/dead/checkpoint.pt ] && break; sleep 0.1; done
kill -9 $!
wait $! 2>/dev/null  # (its shell would report the kill)
start=$(date +%s)
wait $rank0
code=$?
elapsed=$(($(date +%s) - start))
expect_last_line "a killed rank 1 stops rank 0" 0 $code "rank 0: lost rank 1"
[ $code -ne 0 ] && [ $elapsed -le 15 ] && pass "within the timeout ($elapsed s)" || fail "rank 0 took $elapsed s to stop"
epochs=$(wc -l <runs/dead/metrics.jsonl)
"$dcomp" train "${long[@]}" --stop-after $((epochs + 1)) --resume >out 2>&1 && pass "the checkpoint left by the dead run loads" || fail "resume after the dead rank: $(cat out)"

# Ranks started alike or not at all.
port=$(free_port)
rank 0 "$port" train "${lenet[@]}" --epochs 1 --lr 0.1 --timeout 10 --name mismatch
rank0=$!
rank 1 "$port" train "${lenet[@]}" --epochs 1 --lr 0.2 --timeout 10 --name mismatch
wait $!
expect_last_line "mismatched recipes" 1 $? "rank 1's training recipe differs from rank 0's"
wait $rank0
[ $? -ne 0 ] && pass "rank 0 stops too" || fail "rank 0 went on alone"

port=$(free_port)
"$python" -c "
import socket, sys, time
s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(60)" "$port" &
pids+=($!)
sleep 1
rank 0 "$port" train "${lenet[@]}" --epochs 1 --timeout 3 --name busy
wait $!
expect_last_line "a port in use" 0 $? "rank 0: cannot host the store at 127.0.0.1:$port"

rank 1 "$(free_port)" train "${lenet[@]}" --epochs 1 --timeout 2 --name absent
wait $!
expect_last_line "no master" 1 $? "rank 1: cannot reach the store at 127.0.0.1"

WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=1 "$dcomp" train "${lenet[@]}" --epochs 1 >out 2>err1
expect_last_line "RANK missing" 1 $? "RANK is not set"
RANK=0 WORLD_SIZE=two MASTER_ADDR=127.0.0.1 MASTER_PORT=1 "$dcomp" train "${lenet[@]}" --epochs 1 >out 2>err1
expect_last_line "WORLD_SIZE malformed" 1 $? "WORLD_SIZE=two is not a whole number"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
