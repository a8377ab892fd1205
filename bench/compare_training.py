"""ResNet-20 training and evaluation throughput: dcomp against plain PyTorch
(Debian's python3-torch), interleaved in one run, several repetitions.

  /usr/bin/python3 bench/compare_training.py --dcomp build/bench/train_throughput [--reps 5] [--threads 1]
      [--python-preload /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4] [--python-channels-last]

dcomp links tcmalloc; plain PyTorch uses glibc malloc unless a library is
preloaded into it with --python-preload. dcomp's ResNet runs its activations
channels-last; --python-channels-last gives plain PyTorch its own
channels-last recipe too.

Prints a Markdown table of the ratio dcomp/PyTorch (min, median, max) and
the raw figures."""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(command, preload=None):
    env = dict(os.environ, LD_PRELOAD=preload) if preload else None
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dcomp", required=True, help="path to the train_throughput benchmark")
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "cifar-10-batches-bin"))
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--fp32", action="store_true")
    p.add_argument("--python-preload", help="library to LD_PRELOAD into Python (an allocator, say)")
    p.add_argument("--python-channels-last", action="store_true", help="PyTorch's model and input in channels-last layout")
    a = p.parse_args()
    common = ["--data", a.data, "--threads", str(a.threads), "--steps", str(a.steps)] + (["--fp32"] if a.fp32 else [])
    python_flags = ["--channels-last"] if a.python_channels_last else []
    rows = {"dcomp": [], "pytorch": []}
    for rep in range(a.reps):
        # Alternate which goes first, so that drift in machine load hits both.
        order = ["dcomp", "pytorch"] if rep % 2 == 0 else ["pytorch", "dcomp"]
        for impl in order:
            cmd = [a.dcomp] + common if impl == "dcomp" else [sys.executable, os.path.join(HERE, "python_train_throughput.py")] + common + python_flags
            rows[impl].append(run(cmd, a.python_preload if impl == "pytorch" else None))
            print(f"rep {rep + 1} {impl}: {rows[impl][-1]}", file=sys.stderr)
    notes = ([os.path.basename(a.python_preload)] if a.python_preload else []) + (["channels-last"] if a.python_channels_last else [])
    python = "PyTorch" + (f" ({', '.join(notes)})" if notes else "")
    print(f"| metric ({a.threads} thread(s), {'fp32' if a.fp32 else 'bf16 autocast'}) | dcomp median | {python} median | ratio min | ratio median | ratio max |")
    print("|---|---|---|---|---|---|")
    for key in ["train_images_per_second", "eval_images_per_second"]:
        ours = [r[key] for r in rows["dcomp"]]
        theirs = [r[key] for r in rows["pytorch"]]
        ratios = [o / t for o, t in zip(ours, theirs)]
        print(f"| {key} | {statistics.median(ours):.0f} | {statistics.median(theirs):.0f} | "
              f"{min(ratios):.2f} | {statistics.median(ratios):.2f} | {max(ratios):.2f} |")


if __name__ == "__main__":
    main()
