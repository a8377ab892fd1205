"""What a user would otherwise do with a pruned, weight-shared state_dict:
compress it with a general-purpose compressor. Sizes side by side with
dcomp's file under both coders.

  /usr/bin/python3 bench/compare_general_compressors.py results/lab4/net_after_quantization.pt \
      --dcomp build/src/cli/dcomp --model resnet20 [--dense-float16]

Compressed, with xz -9 and zstd -19 --long:
  - the .pt file itself (PyTorch's zip of float32 tensors);
  - the raw index tensors: each prunable weight as one int8 per element (0
    for a pruned weight, 1 + its codebook index otherwise, codebooks sorted
    ascending), concatenated: the entropy coder's whole job, without the
    codebooks, BN or names.
Prints a Markdown table (bytes and factor against dense float32)."""
import argparse
import os
import subprocess
import sys
import tempfile

import torch


def compressed_size(path, command):
    return len(subprocess.run(command + ["-c", path], check=True, capture_output=True).stdout)


def index_tensors(state_dict):
    """The int8 index tensors of every weight with a few distinct nonzero values."""
    parts = []
    for name, value in state_dict.items():
        if not (name.endswith("weight") and value.dim() in (2, 4)):
            continue
        v = value.float().flatten()
        codebook = torch.unique(v[v != 0])
        index = torch.searchsorted(codebook, v) + 1
        index[v == 0] = 0
        parts.append(index.to(torch.int8).numpy().tobytes())
    return b"".join(parts)


def dcomp_size(dcomp, weights, model, dense_float16, coder, out):
    command = [dcomp, "pack", weights, "--model", model, "--coder", coder, "--out", out]
    if dense_float16:
        command.append("--dense-float16")
    subprocess.run(command, check=True, capture_output=True)
    return os.path.getsize(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights")
    parser.add_argument("--dcomp", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--dense-float16", action="store_true")
    args = parser.parse_args()

    state_dict = torch.load(args.weights, map_location="cpu")
    parameters = sum(v.numel() for k, v in state_dict.items() if v.is_floating_point() and "running" not in k)
    dense = 4 * parameters
    xz, zstd = ["xz", "-9", "-k"], ["zstd", "-19", "--long", "-q"]
    with tempfile.TemporaryDirectory() as tmp:
        indices = os.path.join(tmp, "indices.bin")
        with open(indices, "wb") as f:
            f.write(index_tensors(state_dict))
        rows = [
            (".pt, xz -9", compressed_size(args.weights, xz)),
            (".pt, zstd -19 --long", compressed_size(args.weights, zstd)),
            ("int8 index tensors, raw", os.path.getsize(indices)),
            ("int8 index tensors, xz -9", compressed_size(indices, xz)),
            ("int8 index tensors, zstd -19 --long", compressed_size(indices, zstd)),
        ]
        for coder in ("huffman", "adaptive"):
            size = dcomp_size(args.dcomp, args.weights, args.model, args.dense_float16, coder,
                              os.path.join(tmp, coder + ".dcz"))
            rows.append((f"dcomp pack --coder {coder} (the whole model)", size))
    print(f"| {os.path.basename(args.weights)} ({parameters} parameters) | bytes | x dense float32 |")
    print("|---|---:|---:|")
    print(f"| .pt as saved | {os.path.getsize(args.weights)} | {dense / os.path.getsize(args.weights):.1f} |")
    for label, size in rows:
        print(f"| {label} | {size} | {dense / size:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
