"""CIFAR-10 in its official binary layout, for the Python peers and checks:
one batch file as uint8 images (N, 3, 32, 32) and int64 labels, and the
normalization dcomp applies (its per-channel mean and standard deviation)."""
import numpy as np
import torch

MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def load_batch(path):
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one .bin batch."""
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    return torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(raw[:, 0].astype(np.int64))


def normalize(x):
    """uint8 images -> float, (x / 255 - mean) / std."""
    return (x.float() / 255 - MEAN) / STD
