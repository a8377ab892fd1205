"""Ideal code lengths of context models for a weight-shared model's positions
and indices: how the adaptive coder's contexts were chosen (docs/coding.md).

  /usr/bin/python3 bench/context_models.py results/lab4/net_after_quantization.pt

Every model is the coder's two-rate estimator (15-bit probabilities, rates
2^-5 and 2^-8, fresh per tensor) and a bit costs -log2 p; no coder overhead.
Positions: one significance bit per weight, in row-major order, with the
tensor read as kernels of K = numel / (out * in) weights. Indices: the
codebook index (sorted codebook, as dcomp stores it) as a binary tree of
bits. Prints bits per nonzero for each variant. Pure Python: a minute or so.
"""
import math
import sys
from collections import defaultdict

import numpy as np
import torch

ONE = 1 << 15


class Model:
    __slots__ = ("fast", "slow")

    def __init__(self, p0=ONE // 2):
        self.fast = self.slow = p0

    def cost(self, bit):
        p0 = (self.fast + self.slow) >> 1
        c = -math.log2((ONE - p0 if bit else p0) / ONE)
        if bit:
            self.fast -= self.fast >> 5
            self.slow -= self.slow >> 8
        else:
            self.fast += (ONE - self.fast) >> 5
            self.slow += (ONE - self.slow) >> 8
        return c


def layers(path):
    """(mask, index, codebook) of every weight-shared conv or fc weight, as (out, in, K)."""
    for name, w in torch.load(path, map_location="cpu").items():
        if not (name.endswith("weight") and w.dim() in (2, 4)):
            continue
        a = w.float().numpy()
        a = a.reshape(a.shape[0], a.shape[1], -1)
        mask = a != 0
        codebook = np.unique(a[mask])
        yield mask, np.searchsorted(codebook, a) * mask, codebook


def position_bits(tensors, context, init_density=False):
    total = 0.0
    for mask, _, _ in tensors:
        density = mask.mean()
        p0 = max(1, min(ONE - 1, round(ONE * (1 - density)))) if init_density else ONE // 2
        models = defaultdict(lambda: Model(p0))
        out, inp, k = mask.shape
        column = np.zeros(inp)  # nonzeros of each input channel in the output channels before
        for o in range(out):
            seen_channel = nonzero_channel = 0
            previous = 0
            for i in range(inp):
                count = 0
                for j in range(k):
                    s = {
                        "j": j, "count": count, "previous": previous, "k": k,
                        "previous_kernel": int(mask[o, i - 1, j]) if i > 0 else 2,
                        "above": int(mask[o - 1, i, j]) if o > 0 else 2,
                        "channel": (0 if seen_channel < k else
                                    min(2, int(3 * nonzero_channel / seen_channel / max(density, 1e-9) / 2))),
                        "input_channel": (3 if o == 0 else
                                          min(2, int(3 * column[i] / (o * k) / max(density, 1e-9) / 2))),
                    }
                    bit = int(mask[o, i, j])
                    total += models[context(s)].cost(bit)
                    count += bit
                    previous = bit
                    seen_channel += 1
                    nonzero_channel += bit
            column += mask[o].sum(axis=1)
    return total


def tree_bits(models, tree, value, bits):
    cost, node = 0.0, 1
    for b in range(bits - 1, -1, -1):
        bit = (value >> b) & 1
        cost += models[(tree, node)].cost(bit)
        node = node * 2 + bit
    return cost


def index_bits(tensors, context):
    total = 0.0
    for mask, index, codebook in tensors:
        bits = max(1, math.ceil(math.log2(len(codebook))))
        models = defaultdict(Model)
        out, inp, k = mask.shape
        previous = None
        magnitudes = np.abs(codebook)[index] * mask
        column_sum, column_count = np.zeros(inp), np.zeros(inp)  # over the output channels before
        for o in range(out):
            magnitude_sum, count_channel = 0.0, 0
            for i in range(inp):
                kernel_previous = None
                for j in range(k):
                    if not mask[o, i, j]:
                        continue
                    v = int(index[o, i, j])
                    s = {"previous": previous, "kernel_previous": kernel_previous, "codebook": codebook,
                         "channel_magnitude": magnitude_sum / count_channel if count_channel else None,
                         "input_magnitude": column_sum[i] / column_count[i] if column_count[i] else None}
                    total += tree_bits(models, context(s), v, bits)
                    previous = kernel_previous = v
                    magnitude_sum += abs(codebook[v])
                    count_channel += 1
            column_sum += magnitudes[o].sum(axis=1)
            column_count += mask[o].sum(axis=1)
    return total


def sign(s, key):
    v = s[key]
    return 2 if v is None else int(s["codebook"][v] > 0)


def main():
    tensors = list(layers(sys.argv[1]))
    nonzeros = sum(int(m.sum()) for m, _, _ in tensors)
    print(f"{sys.argv[1]}: {len(tensors)} weight-shared tensors, {nonzeros} nonzeros\n")
    print("| positions: contexts for the significance bit | bits / nonzero |\n|---|---|")
    kernel = lambda s: (s["j"] == 0, min(s["count"], 2))
    for label, context, init in [
        ("previous element only", lambda s: s["previous"], False),
        ("+ initial probability from the tensor's density", lambda s: s["previous"], True),
        ("same place in the previous kernel", lambda s: s["previous_kernel"], False),
        ("previous element and the kernel above", lambda s: (s["previous"], s["above"]), False),
        ("previous element, previous kernel, kernel above",
         lambda s: (s["previous"], s["previous_kernel"], s["above"]), False),
        ("place in kernel, count, previous kernel, kernel above, previous",
         lambda s: (s["j"], min(s["count"], 3), s["previous_kernel"], s["above"], s["previous"]), False),
        ("opens kernel / nonzeros so far in kernel (0, 1, 2+), density initialization", kernel, True),
        ("the same, and the previous element (the coder's)", lambda s: (kernel(s), s["previous"]), True),
        ("the same, and the output channel's density so far (3 buckets)",
         lambda s: (kernel(s), s["previous"], s["channel"]), True),
        ("the coder's, and the input channel's density in the output channels before (3 buckets)",
         lambda s: (kernel(s), s["previous"], s["input_channel"]), True),
    ]:
        print(f"| {label} | {position_bits(tensors, context, init) / nonzeros:.3f} |", flush=True)
    print("\n| indices: contexts for the index tree | bits / nonzero |\n|---|---|")
    for label, context in [
        ("one tree (adaptive order 0)", lambda s: 0),
        ("by the previous nonzero's sign (any kernel)", lambda s: sign(s, "previous")),
        ("by the previous nonzero's sign in the same kernel (the coder's)", lambda s: sign(s, "kernel_previous")),
        ("by the output channel's mean magnitude so far (4 buckets)",
         lambda s: 4 if s["channel_magnitude"] is None else
         min(3, int(4 * s["channel_magnitude"] / max(abs(s["codebook"]).max(), 1e-12)))),
        ("the coder's, and the input channel's mean magnitude in the output channels before (2 buckets)",
         lambda s: (sign(s, "kernel_previous"), 2 if s["input_magnitude"] is None else
                    min(1, int(3 * s["input_magnitude"] / max(abs(s["codebook"]).max(), 1e-12))))),
    ]:
        print(f"| {label} | {index_bits(tensors, context) / nonzeros:.3f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
