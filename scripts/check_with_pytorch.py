"""Re-checks frontier points with plain PyTorch: loads each run's
net_after_quantization.pt (a state_dict) strictly into the reference
ResNet-20 (tests/python/reference.py), evaluates it on the whole CIFAR-10
test set and on the validation split (the last 5,000 training images), and
prints both beside the top-1 that the run's summary.json records for the
model as its file holds it.

  /usr/bin/python3 scripts/check_with_pytorch.py [--data DIR] RUN_DIR...

The pipeline's net_after_quantization.pt is the model before packing (BN and
biases in float32); the file keeps them in float16 when dense_float16 is set,
so the two may differ by a few hundredths of a point. Points whose runs
predate the artifact keep `dcomp unpack RUN/resnet20.dcz`, the file's model.
Exits non-zero if a run differs from its record by more than --tolerance."""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from cifar10 import load_batch as load_images, normalize  # noqa: E402
from reference import MODELS  # noqa: E402


def load_batch(path):
    x, y = load_images(path)
    return normalize(x), y


def top1(model, x, y, batch=500):
    with torch.no_grad():
        right = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(y), batch))
    return right / len(y)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+")
    p.add_argument("--data", default="../shared/data/cifar-10-batches-bin")
    p.add_argument("--tolerance", type=float, default=0.1, help="points")
    a = p.parse_args()
    torch.set_num_threads(1)
    test = load_batch(os.path.join(a.data, "test_batch.bin"))
    last = load_batch(os.path.join(a.data, "data_batch_5.bin"))
    validation = (last[0][5000:], last[1][5000:])  # training images 45,000-49,999
    worst = 0.0
    print("| run | test, PyTorch | test, recorded | validation, PyTorch | validation, recorded |")
    print("|---|---|---|---|---|")
    for run in a.runs:
        summary = json.load(open(os.path.join(run, "summary.json")))
        model = MODELS[summary["model"]]()
        model.load_state_dict(torch.load(os.path.join(run, "net_after_quantization.pt")), strict=True)
        model.eval()
        t, v = top1(model, *test), top1(model, *validation)
        rt, rv = summary["final_top1"], summary.get("final_validation_top1")
        worst = max(worst, abs(t - rt) * 100, abs(v - rv) * 100 if rv is not None else 0)
        print(f"| {run} | {t:.2%} | {rt:.2%} | {v:.2%} | {'-' if rv is None else f'{rv:.2%}'} |", flush=True)
    if worst > a.tolerance:
        sys.exit(f"a run differs from its record by {worst:.2f} points (more than {a.tolerance})")


if __name__ == "__main__":
    main()
