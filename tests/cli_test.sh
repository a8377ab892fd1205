#!/bin/bash
# The dcomp command end to end: wrong arguments and bad input give a one-line
# error and a non-zero exit; the lab and sensitivity commands write their
# results. Usage: cli_test.sh DCOMP SOURCE_DIR DCOMP_RUN
set -u
dcomp=$1
source_dir=$2
dcomp_run=$3
python=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$source_dir/tests/checks.sh"

# expect_json DESCRIPTION FILE EXPRESSION: EXPRESSION, over the file's JSON as
# r, must be true.
expect_json() {
  if "$python" -c "import json, sys; r = json.load(open(sys.argv[1])); sys.exit(0 if ($3) else 1)" "$2"; then
    pass "$1"
  else
    fail "$1"
  fi
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
if ! command -v nvidia-smi >/dev/null; then  # a machine without a GPU
  expect_error "--device cuda without CUDA" "no CUDA device is available" \
    "$dcomp" eval --device cuda "$source_dir/models/lenet300_fmnist_baseline.pt" --model lenet300
fi
expect_error "bad pruning amount" "q in \[0, 1)" "$dcomp" prune "$tmp/w.pt" --method percentile --amount 1.5
expect_error "weights of another model" "state_dict" "$dcomp" eval --model lenet5 \
  "$source_dir/models/lenet300_fmnist_baseline.pt"

baseline=$source_dir/models/lenet300_fmnist_baseline.pt
if "$dcomp" lab1 --model lenet300 --weights "$baseline" --out "$tmp/lab1" >"$tmp/out" 2>&1; then
  expect_json "lab1 writes eight settings" "$tmp/lab1/results.json" "len(r['settings']) == 8"
  expect_json "lab1 q=0.5 prunes half of every layer" "$tmp/lab1/results.json" \
    "r['settings'][6]['amount'] == 0.5 and all(abs(l['sparsity'] - 0.5) < 1e-3 for l in r['settings'][6]['sparsity']['layers'])"
  expect_json "lab1 s=0 keeps the baseline's top-1" "$tmp/lab1/results.json" \
    "r['settings'][0]['test_top1_after_pruning'] == r['baseline_test_top1']"
  for f in README.md top1_vs_sparsity.svg per_layer_sparsity_std.svg per_layer_sparsity_percentile.svg; do
    if [ -s "$tmp/lab1/$f" ]; then pass "lab1 wrote $f"; else fail "lab1 wrote no $f"; fi
  done
else
  fail "lab1 exited non-zero: $(cat "$tmp/out")"
fi
if "$dcomp" sensitivity --model lenet300 "$baseline" --sparsities 0.5,0.99 --validation-size 2000 \
  --out "$tmp/sens" >"$tmp/out" 2>&1; then
  expect_json "sensitivity covers every layer" "$tmp/sens/results.json" \
    "[l['name'] for l in r['layers']] == ['fc1.weight', 'fc2.weight', 'fc3.weight']"
  expect_json "sensitivity: 99% of fc1 costs accuracy" "$tmp/sens/results.json" \
    "r['layers'][0]['validation_top1'][1] < r['layers'][0]['validation_top1'][0] - 5"
else
  fail "sensitivity exited non-zero: $(cat "$tmp/out")"
fi

# prune, quantize and eval share their evaluation options; the split goes into the metadata.
if "$dcomp" prune "$baseline" --model lenet300 --method percentile --amount 0.5 --split validation \
  --validation-size 2000 --out "$tmp/pv.pt" >"$tmp/out" 2>&1; then
  expect_json "prune --split validation records the validation top-1" "$tmp/pv.json" \
    "'validation_top1' in r and 'test_top1' not in r and r['validation_top1'] > 0.8"
else
  fail "prune --split validation exited non-zero: $(cat "$tmp/out")"
fi
expect_error "eval has no split 'none'" "--split: none not in" "$dcomp" eval "$baseline" --model lenet300 --split none

# Weight sharing to the compressed file and back.
if "$dcomp" prune "$baseline" --model lenet300 --method percentile --amount 0.9 --split none --out "$tmp/p.pt" \
  >"$tmp/out" 2>&1 && "$dcomp" quantize "$tmp/p.pt" --model lenet300 --split none --out "$tmp/q.pt" >"$tmp/out" 2>&1 &&
  "$dcomp" pack "$tmp/q.pt" --model lenet300 --out "$tmp/q.dcz" >"$tmp/out" 2>&1 &&
  "$dcomp" unpack "$tmp/q.dcz" --out "$tmp/u.pt" >"$tmp/out" 2>&1 &&
  "$dcomp" pack "$tmp/q.pt" --model lenet300 --coder adaptive --out "$tmp/qa.dcz" >"$tmp/out" 2>&1 &&
  "$dcomp" unpack "$tmp/qa.dcz" --out "$tmp/ua.pt" >"$tmp/out" 2>&1; then
  for unpacked in u ua; do
    if "$python" -c "
import sys, torch
a, b = torch.load(sys.argv[1]), torch.load(sys.argv[2])
sys.exit(0 if list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a) else 1)" "$tmp/q.pt" "$tmp/$unpacked.pt"; then
      pass "unpack gives back the quantized state_dict bit for bit ($unpacked.pt)"
    else
      fail "unpack differs from the quantized state_dict ($unpacked.pt)"
    fi
  done
  expect_json "pack reports both coders, the adaptive file smaller" "$tmp/qa.json" \
    "r['coder'] == 'adaptive' and r['file_bytes'] == r['by_coder_bytes']['adaptive']['file'] < r['by_coder_bytes']['huffman']['file']"
  expect_error "pack --coder names the coders" "--coder: zstd not in" "$dcomp" pack "$tmp/q.pt" --model lenet300 --coder zstd --out "$tmp/x.dcz"
  size=$(stat -c %s "$tmp/q.dcz")
  expect_json "pack reports the true file size" "$tmp/q.json" \
    "r['file_bytes'] == $size and r['compression_file'] > 20 and r['compression_formula'] > r['compression_file']"
  head -c $((size / 2)) "$tmp/q.dcz" >"$tmp/truncated.dcz"
  expect_error "truncated compressed file" "truncated.dcz: " "$dcomp" unpack "$tmp/truncated.dcz" --out "$tmp/x.pt"
  cp "$tmp/q.dcz" "$tmp/flipped.dcz"
  printf '\x55' | dd of="$tmp/flipped.dcz" bs=1 seek=$((size / 3)) conv=notrunc status=none
  expect_error "corrupted compressed file" "checksum mismatch" "$dcomp" unpack "$tmp/flipped.dcz" --out "$tmp/x.pt"
  expect_error "not a compressed file" "bad magic" "$dcomp" unpack "$baseline" --out "$tmp/x.pt"
  expect_error "unquantized weights" "distinct values" "$dcomp" pack "$baseline" --model lenet300 --out "$tmp/x.dcz"
  [ ! -e "$tmp/x.pt" ] && [ ! -e "$tmp/x.dcz" ] && pass "failed commands leave no output" || fail "failed commands left output"
else
  fail "prune, quantize, pack, unpack: $(cat "$tmp/out")"
fi

# Lab 3 on the pruned LeNet: two bit widths, the artifacts at 5 bits.
if "$dcomp" lab3 --model lenet300 --weights "$tmp/p.pt" --baseline "$baseline" --bits 5,3 --init-bits 3 \
  --out "$tmp/lab3" --runs-dir "$tmp/runs" >"$tmp/out" 2>&1; then
  expect_json "lab3: trained quantization beats k-means alone" "$tmp/lab3/results.json" \
    "all(b['test_top1_trained'] > b['test_top1_kmeans'] for b in r['bits'])"
  expect_json "lab3: fewer bits, fewer Huffman bits" "$tmp/lab3/results.json" \
    "r['bits'][1]['huffman']['average_huffman_bits'] < r['bits'][0]['huffman']['average_huffman_bits'] <= 5"
  expect_json "lab3 compares four initializations" "$tmp/lab3/results.json" "len(r['initializations']) == 4"
  if "$python" - "$tmp/lab3/artifacts" <<'PY'; then
import sys, zipfile, numpy, torch
d = sys.argv[1]
names = sorted(zipfile.ZipFile(d + "/lab4_submission.zip").namelist())
assert names == sorted(["net_before_pruning.pt", "net_after_pruning.pt", "net_after_quantization.pt",
                        "codebook_lenet300.npy", "huffman_encoding.npy", "huffman_freq.npy"]), names
codebook = numpy.load(d + "/codebook_lenet300.npy", allow_pickle=False)
codes = numpy.load(d + "/huffman_encoding.npy", allow_pickle=False)
freq = numpy.load(d + "/huffman_freq.npy", allow_pickle=False)
assert codebook.shape == codes.shape == freq.shape == (3, 32) and codebook.dtype == numpy.float32
q = torch.load(d + "/net_after_quantization.pt")
for row, name in enumerate(["fc1.weight", "fc2.weight", "fc3.weight"]):
    used = freq[row] > 0
    values = q[name][q[name] != 0]
    assert set(values.unique().tolist()) == set(codebook[row][used].tolist()), name
    assert int(freq[row].sum()) == values.numel(), name
PY
    pass "lab3 artifacts: the zip holds the six files; codebooks and frequencies match the quantized weights"
  else
    fail "lab3 artifacts"
  fi
  n=$(ls "$tmp/lab3/histograms" | wc -l)
  [ "$n" -eq 3 ] && pass "lab3 histograms for 3 layers" || fail "lab3 histograms: $n files"
else
  fail "lab3 exited non-zero: $(cat "$tmp/out")"
fi

# The pipeline on LeNet-300, a few epochs per stage; its report, rendered.
cat >"$tmp/pipeline.json" <<EOF
{"model": "lenet300", "baseline": "$baseline",
 "pruning": {"method": "layerwise", "targets": [["fc1.weight", 0.9], ["*", 0.8]], "end_epoch": 2},
 "retraining": {"epochs": 3, "lr": 0.01, "bf16": false},
 "weight_sharing": {"fc_bits": 4},
 "trained_quantization": {"epochs": 1, "lr": 0.0001, "weight_decay": 0, "bf16": false},
 "dense_float16": true}
EOF
pipeline=("$dcomp" pipeline --config "$tmp/pipeline.json" --run-dir "$tmp/pipe" --results "$tmp/pipe_results")
if "${pipeline[@]}" >"$tmp/out" 2>&1; then
  expect_json "pipeline summary: sparsity, bits, both ratios, accuracy kept" "$tmp/pipe/summary.json" \
    "abs(1 - r['nonzero'] / r['total'] - 0.8884) < 0.001 and set(r['bits_per_layer'].values()) == {4} and r['compression_file'] > 30 and r['compression_formula'] > r['compression_file'] and r['final_top1'] > 0.85"
  for f in summary.json config.json lenet300.dcz lab4_submission.zip net_after_quantization.pt huffman_freq.npy; do
    [ -s "$tmp/pipe_results/$f" ] && pass "pipeline --results has $f" || fail "pipeline --results lacks $f"
  done
  if "${pipeline[@]}" >"$tmp/out" 2>&1 && [ "$(grep -c "done before" "$tmp/out")" -eq 6 ]; then
    pass "a finished pipeline runs no stage again"
  else
    fail "pipeline rerun: $(cat "$tmp/out")"
  fi
  "${pipeline[@]}" --from pack >"$tmp/out" 2>&1 && [ "$(grep -c "done before" "$tmp/out")" -eq 4 ] &&
    pass "pipeline --from pack redoes two stages" || fail "pipeline --from pack: $(cat "$tmp/out")"
  sed 's/"fc_bits": 4/"fc_bits": 5/' "$tmp/pipeline.json" >"$tmp/pipeline2.json"
  expect_error "pipeline refuses a changed config" "another config" "$dcomp" pipeline --config "$tmp/pipeline2.json" \
    --run-dir "$tmp/pipe"
  if "$dcomp" report "$tmp/pipe" >"$tmp/out" 2>&1; then
    grep -qE '(src|href)="' "$tmp/pipe/report.html" && fail "report.html refers to other files" ||
      pass "report.html is self-contained"
    [ "$(grep -c '<svg' "$tmp/pipe/report.html")" -ge 7 ] && pass "report.html has its plots" || fail "report.html lacks plots"
    grep -q "report_files/histogram_fc1.weight.svg" "$tmp/pipe/report.md" && [ -s "$tmp/pipe/report_files/histogram_fc1.weight.svg" ] &&
      pass "report.md links its plots" || fail "report.md plots"
    if command -v chromium >/dev/null; then
      timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,2400 \
        --screenshot="$tmp/report.png" "file://$tmp/pipe/report.html" >/dev/null 2>&1
      size=$(stat -c %s "$tmp/report.png" 2>/dev/null || echo 0)
      [ "$size" -gt 50000 ] && pass "chromium renders the report ($size-byte screenshot)" || fail "chromium screenshot: $size bytes"
      [ -n "${DCOMP_KEEP_SCREENSHOT:-}" ] && cp "$tmp/report.png" "$DCOMP_KEEP_SCREENSHOT"
    else
      fail "chromium is not installed (scripts/setup.sh installs it)"
    fi
  else
    fail "report: $(cat "$tmp/out")"
  fi
  # A second point from the same pruned model at 3 bits, Hessian-weighted, then the frontier of both.
  cat >"$tmp/pipeline3.json" <<EOF
{"model": "lenet300", "baseline": "$baseline", "pruned": "$tmp/pipe_results/net_after_pruning.pt",
 "weight_sharing": {"fc_bits": 3, "hessian_images": 256},
 "trained_quantization": {"epochs": 1, "lr": 0.0001, "weight_decay": 0, "bf16": false}}
EOF
  if "$dcomp" pipeline --config "$tmp/pipeline3.json" --run-dir "$tmp/pipe3" >"$tmp/out" 2>&1; then
    expect_json "pipeline from a pruned model: same sparsity, no training" "$tmp/pipe3/2_prune/stage.json" \
      "abs(1 - r['sparsity']['all_nonzeros'] / r['sparsity']['all_parameters'] - 0.8884) < 0.002 and 'trained_seconds' not in r"
    expect_json "fewer bits, smaller file" "$tmp/pipe3/summary.json" \
      "r['file_bytes'] < json.load(open('$tmp/pipe/summary.json'))['file_bytes']"
    if "$dcomp" frontier "$tmp/pipe" "$tmp/pipe3/" --out "$tmp/frontier" >"$tmp/out" 2>&1; then
      [ "$(grep -c "^| $tmp/pipe3\? |" "$tmp/frontier/README.md")" -eq 2 ] && grep -q "<svg" "$tmp/frontier/frontier.svg" &&
        grep -q "bytes, adaptive" "$tmp/frontier/README.md" && grep -q "pruned, adaptive" "$tmp/frontier/frontier.svg" &&
        grep -q "bar on both" "$tmp/frontier/README.md" && ! grep -q "not recorded" "$tmp/frontier/README.md" &&
        [ "$(grep -c "Hessian-weighted" "$tmp/frontier/README.md")" -eq 1 ] &&
        grep -q "^| $tmp/pipe3 | .*; Hessian-weighted |" "$tmp/frontier/README.md" &&
        pass "frontier: a row per run with test and validation top-1, both coders' sizes, its quantizer, and the plot" ||
        fail "frontier: $(cat "$tmp/frontier/README.md")"
    else
      fail "frontier: $(cat "$tmp/out")"
    fi
    # A run from before the validation figures: --data measures it from the file, as the pipeline did.
    cp -r "$tmp/pipe3" "$tmp/pipe_old"
    "$python" -c "import json, sys; r = json.load(open(sys.argv[1])); del r['final_validation_top1']
json.dump(r, open(sys.argv[1], 'w'))" "$tmp/pipe_old/summary.json"
    recorded=$("$python" -c "import json; print(f\"{100 * json.load(open('$tmp/pipe3/summary.json'))['final_validation_top1']:.2f}%\")")
    if "$dcomp" frontier "$tmp/pipe" "$tmp/pipe_old" --data /usr/share/datasets/fashion-mnist --out "$tmp/frontier_old" \
      >"$tmp/out" 2>&1; then
      grep -q "^| $tmp/pipe_old | .* | $recorded (from the file) |" "$tmp/frontier_old/README.md" &&
        pass "frontier --data: an unrecorded validation top-1 measured from the file, as recorded ($recorded)" ||
        fail "frontier --data ($recorded): $(cat "$tmp/frontier_old/README.md")"
    else
      fail "frontier --data: $(cat "$tmp/out")"
    fi
  else
    fail "pipeline from a pruned model: $(cat "$tmp/out")"
  fi
  # A budget: the prune stage plans each layer's sparsity and bits from measured sensitivity, then runs the plan.
  cat >"$tmp/budget.json" <<EOF
{"model": "lenet300", "baseline": "$baseline", "pruning": {"end_epoch": 1}, "budget": {"file_bytes": 30000},
 "retraining": {"epochs": 2, "lr": 0.01, "bf16": false}, "weight_sharing": {"fc_bits": 4},
 "trained_quantization": {"epochs": 1, "lr": 0.0001, "weight_decay": 0, "bf16": false}, "dense_float16": true}
EOF
  if "$dcomp" pipeline --config "$tmp/budget.json" --run-dir "$tmp/budget" >"$tmp/out" 2>&1; then
    expect_json "budget: a plan per layer, its estimate within the budget, the file within 1% of it" \
      "$tmp/budget/plan.json" "len(r['layers']) == 3 and 29000 < r['estimated_file_bytes'] <= 30000 and abs(json.load(open('$tmp/budget/summary.json'))['file_bytes'] - 30000) < 300 and {l['bits'] for l in r['layers']} <= {3, 4, 5} and 'fc1.weight' in r['sensitivity']"
    expect_json "budget: the run used the plan's sparsity and bits" "$tmp/budget/summary.json" \
      "r['bits_per_layer'] == {l['name']: l['bits'] for l in r['allocation']['layers']} and abs(1 - r['nonzero'] / r['total'] - sum(l['sparsity'] * n for l, n in zip(r['allocation']['layers'], [235200, 30000, 1000])) / 266200) < 0.002"
  else
    fail "budget pipeline: $(cat "$tmp/out")"
  fi
  sed 's/"file_bytes": 30000/"file_bytes": 1000/' "$tmp/budget.json" >"$tmp/budget2.json"
  expect_error "a budget below the rest of the file" "leaves nothing for the weights" "$dcomp" pipeline \
    --config "$tmp/budget2.json" --run-dir "$tmp/budget2"
  sed 's/"end_epoch": 1/"end_epoch": 1, "targets": [["*", 0.5]]/' "$tmp/budget.json" >"$tmp/budget3.json"
  expect_error "a budget beside pruning targets" "the plan chooses the pruning targets" "$dcomp" pipeline \
    --config "$tmp/budget3.json" --run-dir "$tmp/budget3"
  sed 's/"weight_sharing"/"pruning": {"method": "layerwise", "targets": []}, "weight_sharing"/' "$tmp/pipeline3.json" >"$tmp/pipeline4.json"
  expect_error "pipeline refuses pruning settings beside a pruned model" "or 'pruned', not both" \
    "$dcomp" pipeline --config "$tmp/pipeline4.json" --run-dir "$tmp/pipe4"
  expect_error "frontier of a directory that is no run" "no summary.json" "$dcomp" frontier "$tmp" --out "$tmp/f2"
else
  fail "pipeline: $(cat "$tmp/out")"
fi

# Lab 2 split in two: --only does two settings, the second call the rest.
lab2=("$dcomp" lab2 --model lenet300 --weights "$baseline" --epochs 1 --out "$tmp/lab2" --runs-dir "$tmp/runs")
if "${lab2[@]}" --only q_0.75,s_1 >"$tmp/out" 2>&1 && grep -q "2 of 8 settings done" "$tmp/out" &&
  [ ! -e "$tmp/lab2/results.json" ] && "${lab2[@]}" >"$tmp/out" 2>&1; then
  expect_json "lab2 retrains all eight settings" "$tmp/lab2/results.json" \
    "len(r['settings']) == 8 and all('test_top1_after_retraining' in s for s in r['settings'])"
  expect_json "lab2: q=0 prunes nothing and shares the retraining of s=0" "$tmp/lab2/results.json" \
    "r['settings'][4]['retraining_shared_with'] == 's_0' and r['settings'][4]['test_top1_after_retraining'] == r['settings'][0]['test_top1_after_retraining'] and 'retraining_shared_with' not in r['settings'][5]"
  expect_json "lab2 keeps the pruned weights at zero" "$tmp/lab2/results.json" \
    "abs(r['settings'][7]['sparsity']['prunable_sparsity'] - 0.75) < 1e-3"
  expect_json "lab2 retraining recovers accuracy at q=0.75" "$tmp/lab2/results.json" \
    "r['settings'][7]['test_top1_after_retraining'] > r['settings'][7]['test_top1_after_pruning'] + 0.01"
else
  fail "lab2 in two parts: $(cat "$tmp/out")"
fi

# The user's own model: a TorchScript module written by plain PyTorch, on the
# user's own images (an ImageFolder the test writes), through training,
# pruning, weight sharing, packing and back into TorchScript that Python opens.
"$python" "$source_dir/tests/python/image_folder.py" "$tmp/images" 12
"$python" "$source_dir/tests/python/user_models.py" init mobilenetv2 "$tmp/user.pt" 8 2
expect_error "TorchScript without a dataset" "give --dataset" "$dcomp" eval "$tmp/user.pt"
expect_error "image folder without --data" "needs --data ROOT" "$dcomp" eval "$tmp/user.pt" --dataset imagefolder
if "$dcomp" train --model "$tmp/user.pt" --dataset imagefolder --data "$tmp/images" --image-size 24 --epochs 1 \
  --batch-size 8 --runs-dir "$tmp/runs" --out "$tmp/user_trained.pt" >"$tmp/out" 2>&1 &&
  "$dcomp" prune "$tmp/user_trained.pt" --method percentile --amount 0.5 --data "$tmp/images" --out "$tmp/user_pruned.pt" \
    >>"$tmp/out" 2>&1 &&
  "$dcomp" quantize "$tmp/user_pruned.pt" --conv-bits 3 --fc-bits 3 --data "$tmp/images" --out "$tmp/user_q.pt" \
    >>"$tmp/out" 2>&1 &&
  "$dcomp" pack "$tmp/user_q.pt" --out "$tmp/user.dcz" >>"$tmp/out" 2>&1 &&
  "$dcomp" unpack "$tmp/user.dcz" --like "$tmp/user_q.pt" --out "$tmp/user_unpacked.pt" >>"$tmp/out" 2>&1; then
  pass "TorchScript through train, prune, quantize, pack and unpack"
  # bf16 was asked for (train's default) and falls back to fp32, saying why:
  # on a CPU without AVX-512 BW, VL and DQ for any model (LibTorch has no
  # fast bf16 kernels there), elsewhere for this one (ReLU6 has no bf16
  # backward in LibTorch 1.13).
  if fast_bf16_cpu; then
    why="training in fp32" what="ReLU6 without a bf16 backward"
  else
    why="computing in fp32" what="a CPU without fast bf16 kernels"
  fi
  grep -qF "$why" "$tmp/out" && pass "$what: said, and trained in fp32" ||
    fail "no word of the bf16 fallback ($what): $(cat "$tmp/out")"
  expect_json "the trained module records its image folder, and fp32" "$tmp/user_trained.json" \
    "r['format'] == 'torchscript' and r['dataset'] == 'imagefolder' and r['recipe']['bf16'] is False"
  if "$python" -c "
import sys, torch
q, u = torch.jit.load(sys.argv[1]).eval(), torch.jit.load(sys.argv[2]).eval()
x = torch.randn(3, 3, 24, 24)
same = all(torch.equal(a, b) for a, b in zip(q.state_dict().values(), u.state_dict().values()))
sys.exit(0 if same and torch.equal(q(x), u(x)) and q(x).shape == (3, 2) else 1)" "$tmp/user_q.pt" "$tmp/user_unpacked.pt"; then
    pass "Python's torch.jit.load opens the unpacked module: the quantized weights, the same logits"
  else
    fail "the unpacked TorchScript differs from the quantized one"
  fi
  expect_error "unpack of TorchScript without --like" "give that module with --like" \
    "$dcomp" unpack "$tmp/user.dcz" --out "$tmp/x.pt"
  # The LibTorch-free runtime runs the user's module from its graph: the
  # same top-1 on the image folder as LibTorch, and a single image.
  "$dcomp" eval "$tmp/user_q.pt" --data "$tmp/images" >"$tmp/out" 2>&1
  libtorch_top1=$(grep -o "top-1 [0-9.]*%" "$tmp/out" | head -1)
  "$dcomp_run" "$tmp/user.dcz" --eval "$tmp/images" >"$tmp/run_out" 2>&1
  runtime_top1=$(grep -o "top-1 [0-9.]*%" "$tmp/run_out" | head -1)
  [ -n "$libtorch_top1" ] && [ "$libtorch_top1" = "$runtime_top1" ] &&
    pass "dcomp-run on the image folder: $runtime_top1, as LibTorch" ||
    fail "dcomp-run --eval: '$runtime_top1' against LibTorch's '$libtorch_top1': $(cat "$tmp/run_out" "$tmp/out")"
  "$dcomp_run" "$tmp/user.dcz" --eval "$tmp/images" --threads 1 >"$tmp/run_out" 2>&1
  [ "$(grep -o "top-1 [0-9.]*%" "$tmp/run_out" | head -1)" = "$runtime_top1" ] &&
    pass "dcomp-run --threads 1: the same top-1" || fail "dcomp-run --threads 1: $(cat "$tmp/run_out")"
  expect_error "dcomp-run --threads out of range" "threads" "$dcomp_run" "$tmp/user.dcz" --threads 1000
  # BatchNorm folded for inference: a smaller file, the same top-1 in the
  # runtime, and an unpacked module with the same logits in plain PyTorch.
  if "$dcomp" pack "$tmp/user_q.pt" --fold-batchnorm --out "$tmp/user_folded.dcz" >"$tmp/out" 2>&1 &&
    "$dcomp" unpack "$tmp/user_folded.dcz" --like "$tmp/user_q.pt" --out "$tmp/user_folded.pt" >>"$tmp/out" 2>&1 &&
    "$dcomp_run" "$tmp/user_folded.dcz" --eval "$tmp/images" >"$tmp/run_out" 2>&1; then
    [ "$(grep -o "top-1 [0-9.]*%" "$tmp/run_out" | head -1)" = "$runtime_top1" ] &&
      [ "$(stat -c %s "$tmp/user_folded.dcz")" -lt "$(stat -c %s "$tmp/user.dcz")" ] &&
      pass "pack --fold-batchnorm: a smaller file, the same top-1 ($runtime_top1)" ||
      fail "pack --fold-batchnorm: $(cat "$tmp/run_out"), $(stat -c %s "$tmp/user_folded.dcz" "$tmp/user.dcz")"
    "$python" -c "
import sys, torch
q, f = torch.jit.load(sys.argv[1]).eval(), torch.jit.load(sys.argv[2]).eval()
x = torch.randn(3, 3, 24, 24)
means = [v for k, v in f.state_dict().items() if k.endswith('running_mean')]
sys.exit(0 if means and all(not m.any() for m in means) and torch.allclose(q(x), f(x), atol=1e-4) else 1)" \
      "$tmp/user_q.pt" "$tmp/user_folded.pt" && pass "the folded module: running means 0, PyTorch's logits unchanged" ||
      fail "the folded module differs from the quantized one"
  else
    fail "pack --fold-batchnorm: $(cat "$tmp/out" "$tmp/run_out")"
  fi
  png=$(ls "$tmp"/images/val/red/*.png | head -1)
  cp "$png" "$tmp/one.png"
  "$dcomp_run" "$tmp/user.dcz" "$tmp/one.png" >"$tmp/run_out" 2>&1 && grep -q "one.png: [01] \(red\|blue\)" "$tmp/run_out" &&
    pass "dcomp-run classifies one image: $(cat "$tmp/run_out")" || fail "dcomp-run on a PNG: $(cat "$tmp/run_out")"
  expect_error "dcomp-run on a missing image" "missing.jpg" "$dcomp_run" "$tmp/user.dcz" "$tmp/missing.jpg"
  cat >"$tmp/user_pipeline.json" <<EOF
{"model": "$tmp/user.pt", "data": {"dataset": "imagefolder", "image_size": 24}, "baseline": "$tmp/user_trained.pt",
 "pruning": {"method": "percentile", "amount": 0.6, "begin_epoch": 0, "end_epoch": 1},
 "retraining": {"epochs": 2, "batch_size": 8, "lr": 0.02, "validation_size": 4},
 "weight_sharing": {"conv_bits": 4, "fc_bits": 4},
 "trained_quantization": {"epochs": 1, "batch_size": 8, "lr": 0.0001, "weight_decay": 0, "validation_size": 4}}
EOF
  if "$dcomp" pipeline --config "$tmp/user_pipeline.json" --data "$tmp/images" --run-dir "$tmp/user_run" \
    --results "$tmp/user_results" >"$tmp/out" 2>&1 && "$dcomp" report "$tmp/user_run" >>"$tmp/out" 2>&1; then
    expect_json "pipeline on TorchScript: a file named after the module, 60% pruned" "$tmp/user_results/summary.json" \
      "r['model'] == 'user' and abs(r['nonzero'] / r['total'] - 0.4) < 0.02"
    [ -s "$tmp/user_results/user.dcz" ] && [ -s "$tmp/user_run/report.html" ] &&
      pass "pipeline on TorchScript wrote its file and report" || fail "no user.dcz or report.html"
    "$python" -c "import sys, torch; torch.jit.load(sys.argv[1])" "$tmp/user_run/4_trained_quantization/model.pt" &&
      pass "the pipeline's stages save TorchScript" || fail "a stage's output is no TorchScript"
  else
    fail "pipeline on TorchScript: $(tail -3 "$tmp/out")"
  fi
  "$dcomp" eval "$tmp/user_trained.pt" --data "$tmp/images" >"$tmp/out" 2>&1 && grep -q "imagefolder" "$tmp/out" &&
    pass "eval reads the recorded image folder settings" || fail "eval of the trained module: $(cat "$tmp/out")"
else
  fail "the TorchScript flow failed: $(tail -3 "$tmp/out")"
fi
expect_error "dcomp-run on a format-1 file" "re-pack it" "$dcomp_run" "$source_dir/tests/data/lenet300_format1.dcz"
printf 'not a png' >"$tmp/images/train/red/broken.png"
expect_error "corrupt image" "broken.png" "$dcomp" eval "$tmp/user_trained.pt" --data "$tmp/images"
rm "$tmp/images/train/red/broken.png"
mkdir -p "$tmp/images/val/green" && cp "$tmp/images/val/red/000.png" "$tmp/images/val/green/"
expect_error "a class in val only" "green: a class that the training folder does not have" \
  "$dcomp" eval "$tmp/user_trained.pt" --data "$tmp/images"

finish cli
