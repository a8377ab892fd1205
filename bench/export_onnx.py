"""Exports a built-in network with given weights to ONNX (opset 13, dense
float32, dynamic batch), the peer runtime's input.
  /usr/bin/python3 bench/export_onnx.py resnet20 results/lab4/net_after_quantization.pt out.onnx"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from reference import INPUT_SHAPES, MODELS  # noqa: E402


def main(name, weights, out):
    model = MODELS[name]()
    model.load_state_dict(torch.load(weights), strict=True)
    model.eval()
    x = torch.zeros((1,) + INPUT_SHAPES[name][1:])
    torch.onnx.export(model, x, out, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


if __name__ == "__main__":
    main(*sys.argv[1:4])
