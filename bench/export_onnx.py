"""Exports a network with given weights to ONNX (opset 13, dense float32,
dynamic batch), the peer runtime's input: a built-in network and its
state_dict, or "torchscript" and the user's TorchScript module.
  /usr/bin/python3 bench/export_onnx.py resnet20 results/lab4/net_after_quantization.pt out.onnx
  /usr/bin/python3 bench/export_onnx.py torchscript mobilenetv2.pt out.onnx --input 3,32,32"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))
from reference import INPUT_SHAPES, MODELS  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model", help="a built-in name, or torchscript")
    p.add_argument("weights")
    p.add_argument("out")
    p.add_argument("--input", default="3,32,32", help="C,H,W of a TorchScript module's images")
    a = p.parse_args()
    if a.model == "torchscript":
        model = torch.jit.load(a.weights)
        shape = tuple(int(d) for d in a.input.split(","))
    else:
        model = MODELS[a.model]()
        model.load_state_dict(torch.load(a.weights), strict=True)
        shape = INPUT_SHAPES[a.model][1:]
    model.eval()
    x = torch.zeros((1,) + shape)
    torch.onnx.export(model, x, a.out, opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


if __name__ == "__main__":
    main()
