"""Plain-PyTorch reference models and checks for dcomp's interoperability tests.

  reference.py run MODEL WEIGHTS.pt INPUT.pt OUT.pt
      torch.load the weights (a state_dict written by dcomp) strictly into the
      reference model, run it in eval mode on INPUT.pt's "x", and torch.save
      {"logits": ...} as an OrderedDict.
  reference.py make MODEL SEED WEIGHTS.pt INPUT.pt LOGITS.pt
      build a seeded reference model, torch.save(model.state_dict()) (an
      OrderedDict with _metadata, as users save them), a random input and
      its logits.
"""
import collections
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride, self.extra = stride, planes - in_planes

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x
        if self.stride != 1 or self.extra:
            shortcut = F.pad(x[:, :, ::self.stride, ::self.stride],
                             (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        planes = [16]

        def stage(p, stride):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(planes[0], p, stride if i == 0 else 1))
                planes[0] = p
            return nn.Sequential(*blocks)

        self.layer1, self.layer2, self.layer3 = stage(16, 1), stage(32, 2), stage(64, 2)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x))))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class LeNet300(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 300), nn.Linear(300, 100), nn.Linear(100, 10)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        self.fc1, self.fc2 = nn.Linear(800, 500), nn.Linear(500, 10)

    def forward(self, x):
        x = F.max_pool2d(self.conv2(F.max_pool2d(self.conv1(x), 2)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


MODELS = {"resnet20": lambda: ResNet(3), "resnet32": lambda: ResNet(5),
          "lenet300": LeNet300, "lenet5": LeNet5}
INPUT_SHAPES = {"resnet20": (4, 3, 32, 32), "resnet32": (4, 3, 32, 32),
                "lenet300": (4, 1, 28, 28), "lenet5": (4, 1, 28, 28)}


def run(name, weights, inputs, out):
    model = MODELS[name]()
    state = torch.load(weights)
    assert isinstance(state, dict), type(state)
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(torch.load(inputs)["x"])
    torch.save(collections.OrderedDict(logits=logits), out)


def make(name, seed, weights, inputs, logits_path):
    torch.manual_seed(int(seed))
    model = MODELS[name]()
    with torch.no_grad():  # non-trivial BN statistics, so that eval mode matters
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    model.eval()
    x = torch.randn(INPUT_SHAPES[name])
    torch.save(model.state_dict(), weights)
    torch.save({"x": x}, inputs)
    with torch.no_grad():
        torch.save({"logits": model(x)}, logits_path)


if __name__ == "__main__":
    {"run": run, "make": make}[sys.argv[1]](*sys.argv[2:])
