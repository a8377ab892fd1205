#!/bin/bash
# dcomp submission from a small run the test makes (LeNet-300-100 through the
# whole pipeline on 1,024 Fashion-MNIST images, as results/lab4): the PDF has
# pages and every question's heading, the zips hold what they should, and
# bad input gets one line. Usage: submission_test.sh DCOMP SOURCE_DIR
set -u
dcomp=$1
source_dir=$2
python=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
source "$source_dir/tests/checks.sh"

cat >pipeline.json <<JSON
{"model": "lenet300", "baseline": "$source_dir/models/lenet300_fmnist_baseline.pt",
 "pruning": {"method": "layerwise", "targets": [["*", 0.8]], "end_epoch": 1},
 "retraining": {"epochs": 2, "lr": 0.01, "bf16": false, "validation_size": 58976},
 "weight_sharing": {"fc_bits": 4},
 "trained_quantization": {"epochs": 1, "lr": 0.0001, "weight_decay": 0, "bf16": false, "validation_size": 58976},
 "dense_float16": true}
JSON
if ! "$dcomp" pipeline --config pipeline.json --threads 2 --run-dir run --results results/lab4 >out 2>&1; then
  echo "FAIL: the pipeline: $(cat out)"
  exit 1
fi
if "$dcomp" submission --results results --out sub --threads 2 --training-steps 2 --training-repetitions 1 >out 2>&1; then
  pages=$(pdfinfo sub/report.pdf 2>/dev/null | awk '/^Pages:/ {print $2}')
  [ "${pages:-0}" -ge 5 ] && pass "report.pdf has $pages pages" || fail "report.pdf: $(pdfinfo sub/report.pdf 2>&1)"
  pdfinfo sub/report.pdf | grep -q "Page size:.*(A4)" && pass "A4 pages" || fail "page size: $(pdfinfo sub/report.pdf)"
  pdftotext sub/report.pdf report.txt
  missing=""
  for heading in "Problem 1.1" "Problem 1.2" "Problem 1.3" "Problem 1.4" "Problem 1.5" "Lab 1" "Lab 2" "Lab 3" \
    "Lab 4: Deep Compression end to end" "Verdict"; do
    grep -q "$heading" report.txt || missing="$missing [$heading]"
  done
  [ -z "$missing" ] && pass "the PDF holds every question's heading" || fail "not in the PDF:$missing"
  # The figures the run's summary holds, as the report prints them.
  figures=$("$python" -c "
import json
s = json.load(open('results/lab4/summary.json'))
print('%.2f%%' % (100 * s['final_top1']), '%.1fx' % s['compression_file'], '%.1fx' % s['compression_formula'])")
  absent=""
  for f in $figures; do grep -qF -- "$f" report.txt || absent="$absent $f"; done
  [ -z "$absent" ] && pass "the PDF states the summary's figures ($figures)" || fail "figures not in the PDF:$absent"
  # Problem 1.3 times the default recipe (bf16) and says bf16 only where it ran.
  if fast_bf16_cpu; then grep -q "bf16 autocast" sub/report.html; else ! grep -q "bf16 autocast" sub/report.html; fi &&
    pass "Problem 1.3 names the precision it timed in" || fail "Problem 1.3 claims a precision it did not time in"
  grep -q "Not in these results" report.txt && pass "labs without results say so" || fail "absent labs not reported"
  grep -q "<svg" sub/report.html && ! grep -q "<img" sub/report.html && pass "report.html is self-contained" ||
    fail "report.html plots"
  "$python" - "$source_dir" <<'PY' && pass "code.zip holds the sources, not results or weights; lab4_submission.zip the six artifacts" || fail "zips"
import sys, zipfile
code = zipfile.ZipFile('sub/code.zip').namelist()
lab4 = sorted(zipfile.ZipFile('sub/lab4_submission.zip').namelist())
need = ['dcomp/CMakeLists.txt', 'dcomp/src/cli/main.cpp', 'dcomp/configs/resnet20_cifar10.json', 'dcomp/scripts/setup.sh']
ok = all(n in code for n in need) and not any(n.startswith(('dcomp/results/', 'dcomp/models/')) for n in code)
ok = ok and lab4 == sorted(['net_before_pruning.pt', 'net_after_pruning.pt', 'net_after_quantization.pt',
                            'codebook_lenet300.npy', 'huffman_encoding.npy', 'huffman_freq.npy'])
print(len(code), 'files in code.zip;', lab4)
sys.exit(0 if ok else 1)
PY
else
  fail "submission: $(cat out)"
fi

expect_error "no results" "results: Directory does not exist" "$dcomp" submission --results nowhere --out x
mkdir -p empty
expect_error "no Lab 4 run" "lab4_submission.zip not found" "$dcomp" submission --results empty --out x
rm results/lab4/net_after_pruning.pt
expect_error "a missing model" "net_after_pruning.pt not found" "$dcomp" submission --results results --out x
[ ! -e x ] && pass "nothing written on error" || fail "x written"

finish submission
