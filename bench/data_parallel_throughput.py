"""ResNet-20 training throughput of dcomp: 2 ranks x 1 thread under torchrun
(c10d, Gloo over loopback) against 1 process x 1 thread and 1 process x 2
threads, interleaved, several repetitions. Each run is one epoch of
`dcomp train` on CIFAR-10 at per-rank batch 64 for the 2 ranks and 128 for
one process (the same global batch); images/s is the epoch's training images
over its training time (metrics.jsonl), evaluation excluded. A fourth setting
runs two independent processes at once, each on half the images at batch 64:
what the two cores give two processes that never communicate.

  /usr/bin/python3 bench/data_parallel_throughput.py --dcomp build/src/cli/dcomp [--reps 3]

Prints a Markdown table of images/s per setting and of the ratios (min,
median, max over the repetitions)."""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def images_per_second(command, runs_dir, env):
    subprocess.run(command + ["--runs-dir", runs_dir, "--name", "bench", "--out", os.path.join(runs_dir, "m.pt")],
                   check=True, capture_output=True, text=True, env=env)
    with open(os.path.join(runs_dir, "bench", "metrics.jsonl")) as f:
        return json.loads(f.readline())["images_per_second"]


def ceiling(command, runs_dir, env):
    """Two processes training at once with no communication, each on half the
    training images at the per-rank batch: the sum of their images/s is what
    these two cores give two processes, the ceiling for 2 ranks."""
    procs = []
    for i in range(2):
        d = os.path.join(runs_dir, str(i))
        procs.append((d, subprocess.Popen(command + ["--runs-dir", d, "--name", "bench", "--out", os.path.join(d, "m.pt")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)))
    total = 0
    for d, proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"{command} failed")
        with open(os.path.join(d, "bench", "metrics.jsonl")) as f:
            total += json.loads(f.readline())["images_per_second"]
    return total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dcomp", required=True)
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "cifar-10-batches-bin"))
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    dcomp = os.path.abspath(a.dcomp)
    train = ["train", "--model", "resnet20", "--data", a.data, "--epochs", "1"]
    settings = {
        "1 process x 1 thread": ([dcomp] + train + ["--batch-size", "128", "--threads", "1"], {}),
        "1 process x 2 threads": ([dcomp] + train + ["--batch-size", "128", "--threads", "2"], {}),
        # Debian's torchrun needs --redirects and --tee set (see docs/data_parallel.md).
        "2 ranks x 1 thread": (["torchrun", "--redirects", "1", "--tee", "1", "--no_python", "--standalone",
                                "--nproc_per_node=2", dcomp] + train + ["--batch-size", "64", "--threads", "1"],
                               {"GLOO_SOCKET_IFNAME": "lo"}),
        # 45,000 training images split in two: 22,500 each (the other 27,500 held out, not timed).
        "2 independent processes x 1 thread": ([dcomp] + train + ["--batch-size", "64", "--threads", "1",
                                                                  "--validation-size", "27500"], {}),
    }
    results = {name: [] for name in settings}
    for rep in range(a.reps):
        for name, (command, extra) in settings.items():  # interleaved
            measure = ceiling if name.startswith("2 independent") else images_per_second
            with tempfile.TemporaryDirectory() as runs_dir:
                ips = measure(command, runs_dir, dict(os.environ, **extra))
            results[name].append(ips)
            print(f"rep {rep + 1}: {name}: {ips:.0f} images/s", flush=True)
    base = results["1 process x 1 thread"]
    print("\n| setting | images/s (median) | ratio to 1 x 1 thread (min / median / max) |")
    print("|---|---|---|")
    for name, values in results.items():
        ratios = [v / b for v, b in zip(values, base)]
        print(f"| {name} | {statistics.median(values):.0f} | "
              f"{min(ratios):.2f} / {statistics.median(ratios):.2f} / {max(ratios):.2f} |")
    two, threads = results["2 ranks x 1 thread"], results["1 process x 2 threads"]
    ratios = [r / t for r, t in zip(two, threads)]
    print(f"\n2 ranks x 1 thread against 1 process x 2 threads: {min(ratios):.2f} / "
          f"{statistics.median(ratios):.2f} / {max(ratios):.2f}")
    ratios = [r / c for r, c in zip(two, results["2 independent processes x 1 thread"])]
    print(f"2 ranks x 1 thread against 2 independent processes (the ceiling): {min(ratios):.2f} / "
          f"{statistics.median(ratios):.2f} / {max(ratios):.2f}")


if __name__ == "__main__":
    main()
