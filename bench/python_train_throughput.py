"""The same measurement as bench/train_throughput.cpp in plain PyTorch: the
reference ResNet-20 (tests/python/reference.py), the same batched
augmentation (random crop from 4-pixel zero padding, horizontal flip), SGD
with Nesterov momentum and weight decay, bf16 autocast on the CPU. Prints
one JSON line. --channels-last applies PyTorch's documented channels-last
recipe (model and input converted with memory_format=torch.channels_last).
--trace writes a Chrome trace of a few more steps (bench/profile_summary.py)."""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from cifar10 import load_batch as load, normalize  # noqa: E402
from reference import ResNet  # noqa: E402


def augment(x):
    b = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (b, 1))
    dx = torch.randint(0, 9, (b, 1))
    rows = (dy + torch.arange(32)).view(b, 1, 32, 1).expand(b, 3, 32, 40)
    cols = (dx + torch.arange(32)).view(b, 1, 1, 32).expand(b, 3, 32, 32)
    out = padded.gather(2, rows).gather(3, cols)
    flip = torch.randint(0, 2, (b,), dtype=torch.bool).view(b, 1, 1, 1)
    return torch.where(flip, out.flip(3), out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/cifar-10-batches-bin")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--eval-images", type=int, default=5000)
    p.add_argument("--fp32", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--trace", help="write a Chrome trace of --trace-steps more steps here")
    p.add_argument("--trace-steps", type=int, default=6)
    a = p.parse_args()
    layout = torch.channels_last if a.channels_last else torch.contiguous_format
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    images, labels = load(os.path.join(a.data, "data_batch_1.bin"))
    model = ResNet(3).train().to(memory_format=layout)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    order = torch.randperm(images.shape[0])

    def run_step(step):
        idx = order[step * a.batch_size:(step + 1) * a.batch_size]
        x, y = normalize(augment(images[idx])).contiguous(memory_format=layout), labels[idx]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not a.fp32):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()

    train_seconds = 0.0
    for step in range(a.warmup + a.steps):
        start = time.perf_counter()
        run_step(step)
        if step >= a.warmup:
            train_seconds += time.perf_counter() - start
    if a.trace:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            for step in range(a.warmup + a.steps, a.warmup + a.steps + a.trace_steps):
                run_step(step)
        profile.export_chrome_trace(a.trace)
    model.eval()
    start = time.perf_counter()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=not a.fp32):
        for b in range(0, a.eval_images, 1000):
            model(normalize(images[b:b + 1000]).contiguous(memory_format=layout)).argmax(1)
    eval_seconds = time.perf_counter() - start
    print(json.dumps({"implementation": "pytorch", "threads": a.threads, "bf16": not a.fp32,
                      "channels_last": a.channels_last,
                      "train_images_per_second": a.steps * a.batch_size / train_seconds,
                      "eval_images_per_second": a.eval_images / eval_seconds}))


if __name__ == "__main__":
    main()
