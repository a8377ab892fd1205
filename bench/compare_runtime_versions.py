#!/usr/bin/env python3
"""The runtime of an earlier commit against this checkout's, side by side.

Builds bench/runtime_inference of OLD in a git worktree, then runs both
binaries on the built-in models' committed files (each side its own commit's
files, since the format may differ), interleaved: ROUNDS rounds, the order
alternating, one thread each. Prints, per model and batch, the median runtime
time and the min / median / max speed-up against dense LibTorch of each side.

  bench/compare_runtime_versions.py aee2ea8 --rounds 3

Commits whose kernels used a fixed 16-float vector (before the width followed
the target's vector unit) are given the same width as this checkout, so that
the comparison is of the rest of the runtime, not of that fix.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

MODELS = [
    ("ResNet-20", "results/lab4/resnet20.dcz", "models/resnet20_cifar10_baseline.pt"),
    ("LeNet-300-100", "results/lenet300/lenet300.dcz", "models/lenet300_fmnist_baseline.pt"),
    ("LeNet-5", "results/lenet5/lenet5.dcz", "models/lenet5_fmnist_baseline.pt"),
]
FIXED_WIDTH = "constexpr int64_t kVecFloats = 16;"
TARGET_WIDTH = """#if defined(__AVX512F__)
constexpr int64_t kVecFloats = 16;
#elif defined(__AVX__)
constexpr int64_t kVecFloats = 8;
#else
constexpr int64_t kVecFloats = 4;
#endif"""


def run(*command, **kwargs):
    return subprocess.run(command, check=True, text=True, **kwargs)


def build_old(commit, root, work):
    tree = os.path.join(work, "old")
    run("git", "-C", root, "worktree", "add", "--detach", "-q", tree, commit)
    header = os.path.join(tree, "src/runtime/sparse_layers.h")
    source = open(header).read()
    if FIXED_WIDTH in source and "__AVX512F__" not in source:
        open(header, "w").write(source.replace(FIXED_WIDTH, TARGET_WIDTH))
        kernels = os.path.join(tree, "src/runtime/sparse_layers.cpp")
        text = open(kernels).read().replace(
            "constexpr int kBlockVecs = 4;", "constexpr int kBlockVecs = int(std::min<int64_t>(8, 64 / kVecFloats));")
        open(kernels, "w").write(text)
        print(f"{commit}: kernel vector width set to the target's", file=sys.stderr)
    run("cmake", "-S", tree, "-B", os.path.join(tree, "build"), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
        "-DDCOMP_BUILD_TESTS=OFF", stdout=subprocess.DEVNULL)
    run("cmake", "--build", os.path.join(tree, "build"), "--target", "runtime_inference", stdout=subprocess.DEVNULL)
    return tree


def measure(tree, build, file, baseline, reps, calls):
    out = run(os.path.join(build, "bench/runtime_inference"), "--file", os.path.join(tree, file), "--baseline",
              os.path.join(tree, baseline), "--reps", str(reps), "--calls", str(calls), capture_output=True).stdout
    return [json.loads(line) for line in out.splitlines() if '"rep"' in line]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the earlier commit")
    parser.add_argument("--build", default="build", help="this checkout's build folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    root = run("git", "rev-parse", "--show-toplevel", capture_output=True).stdout.strip()
    with tempfile.TemporaryDirectory() as work:
        old = build_old(args.old, root, work)
        try:
            sides = {"old": (old, os.path.join(old, "build")), "new": (root, os.path.join(root, args.build))}
            lines = {(side, name): [] for side in sides for name, _, _ in MODELS}
            for round_ in range(args.rounds):
                order = ["old", "new"] if round_ % 2 == 0 else ["new", "old"]
                for name, file, baseline in MODELS:
                    for side in order:
                        lines[side, name] += measure(*sides[side], file, baseline, args.reps, args.calls)
                print(f"round {round_ + 1} of {args.rounds} done", file=sys.stderr)
        finally:
            run("git", "-C", root, "worktree", "remove", "--force", old)
    print("| model | batch | old runtime ms | new runtime ms | new / old time | old speed-up vs dense "
          "(min / med / max) | new speed-up vs dense (min / med / max) |")
    print("|---|---|---|---|---|---|---|")
    for name, _, _ in MODELS:
        for batch in ("batch1", "batch128"):
            ms = {s: statistics.median(l[batch]["runtime_ms"] for l in lines[s, name]) for s in sides}
            up = {s: sorted(l[batch]["speedup_vs_dense"] for l in lines[s, name]) for s in sides}
            cell = {s: f"{up[s][0]:.2f} / {statistics.median(up[s]):.2f} / {up[s][-1]:.2f}x" for s in sides}
            print(f"| {name} | {batch[5:]} | {ms['old']:.3f} | {ms['new']:.3f} | {ms['new'] / ms['old']:.2f} "
                  f"| {cell['old']} | {cell['new']} |")


if __name__ == "__main__":
    main()
