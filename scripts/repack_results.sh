#!/bin/bash
# Re-packs the committed compressed files of results/ to the current format
# (unpack, then pack: the weights are bit-identical, the file gains what the
# format added) and updates their summary.json figures, keeping the old file
# size as file_bytes_format1. Checks that the LibTorch-free runtime gives
# each file's recorded test top-1.
#   scripts/repack_results.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for summary in results/*/summary.json results/frontier/*/summary.json; do
  dir=$(dirname "$summary")
  file=$(ls "$dir"/*.dcz | grep -v "_adaptive\.dcz$")  # the Huffman file the run wrote
  model=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['config']['model'])" "$summary")
  float16=$(python3 -c "import json, sys; print(int(json.load(open(sys.argv[1]))['config'].get('dense_float16', False)))" "$summary")
  version=$(od -An -tu4 -j4 -N4 "$file" | tr -d ' ')
  like=()  # a file packed from TorchScript unpacks into the config's module
  [ -f "$model" ] && like=(--like "$model")
  "$build/src/cli/dcomp" unpack "$file" "${like[@]}" --out "$work/weights.pt" >/dev/null
  "$build/src/cli/dcomp" pack "$work/weights.pt" --model "$model" $([ "$float16" = 1 ] && echo --dense-float16) \
    --out "$work/new.dcz" --json "$work/new.json" >/dev/null
  case $model in lenet*) data=/usr/share/datasets/fashion-mnist;;
                 *) data=${DCOMP_DATA:-../shared/data/cifar-10-batches-bin};; esac
  top1=$("$build/src/runtime/dcomp-run" "$work/new.dcz" --eval "$data" | grep -o "top-1 [0-9.]*" | cut -d' ' -f2)
  python3 - "$summary" "$work/new.json" "$top1" "$version" <<'PY'
import json, os, sys
summary_path, pack_path, top1, version = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
s, p = json.load(open(summary_path)), json.load(open(pack_path))
recorded = 100 * s["test_top1_by_stage"]["pack"]
if abs(top1 - recorded) > 0.005:
    sys.exit(f"{summary_path}: the runtime gives {top1:.2f}%, the summary records {recorded:.2f}%")
if version == 1:
    s.setdefault("file_bytes_format1", s["file_bytes"])
for key in ("file_bytes", "compression_file", "ratio_file", "stream_entropy_bytes"):
    s[key] = p[key]
s["file_breakdown_bytes"] = p["breakdown_bytes"]
s["format_version"] = 2
tmp = summary_path + ".tmp"
with open(tmp, "w") as f:
    json.dump(s, f, indent=2, sort_keys=True)
    f.write("\n")
os.replace(tmp, summary_path)
print(f"{summary_path}: {s.get('file_bytes_format1', '')} -> {s['file_bytes']} bytes "
      f"(graph {p['breakdown_bytes']['graph']}), {p['compression_file']:.1f}x, runtime top-1 {top1:.2f}%")
PY
  mv "$work/new.dcz" "$file"
done
