"""Users' own CNNs, written in plain PyTorch, for dcomp's TorchScript tests.

  user_models.py save DIR
      torch.jit.script (and, where it works, torch.jit.trace in eval mode)
      each model below into DIR/<name>_scripted.pt and DIR/<name>_traced.pt;
      DIR/input.pt holds a fixed input {"x": (4, 3, 32, 32)}; DIR/bad_*.pt are
      TorchScript files dcomp must refuse.
  user_models.py init NAME OUT.pt [WIDTH [CLASSES]]
      one scripted model, seeded, for training from scratch.
  user_models.py logits INPUT.pt OUT.pt MODEL.pt...
      torch.jit.load each model, run it in eval mode on INPUT's "x", and
      torch.save {"0": logits, "1": ...} in the order given.
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

import reference


def resnet20(width=16, classes=10):
    """ResNet-20 with option-A shortcuts: the reference model of reference.py,
    whose names are also the built-in network's."""
    if (width, classes) != (16, 10):
        raise SystemExit("resnet20 comes in one size")
    return reference.ResNet(3)


class VGGish(nn.Module):
    """Max-pooling, dropout and a two-layer classifier."""

    def __init__(self, width=16, classes=10):
        super().__init__()

        def conv(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.features = nn.Sequential(*conv(3, width), *conv(width, width), nn.MaxPool2d(2),
                                      *conv(width, 2 * width), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * width * 8 * 8, 64), nn.ReLU(inplace=True),
                                        nn.Dropout(0.3), nn.Linear(64, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class InvertedResidual(nn.Module):
    """MobileNetV2: 1x1 expansion, depthwise 3x3, 1x1 linear projection."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   nn.ReLU6(inplace=True), nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        if self.residual:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2ish(nn.Module):
    def __init__(self, width=16, classes=10):
        super().__init__()
        w = width
        # (expansion, channels, blocks, first stride), MobileNetV2's table scaled to 32x32 inputs.
        settings = [(1, w, 1, 1), (6, 3 * w // 2, 2, 1), (6, 2 * w, 3, 2), (6, 4 * w, 2, 2), (6, 6 * w, 1, 1)]
        layers = [nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU6(inplace=True)]
        cin = w
        for t, c, n, s in settings:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers += [nn.Conv2d(cin, 8 * w, 1, bias=False), nn.BatchNorm2d(8 * w), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(8 * w, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


class Fire(nn.Module):
    """Squeeze 1x1, then 1x1 and 3x3 expansions concatenated (with BN on the
    squeeze, without which this small net barely trains from scratch)."""

    def __init__(self, cin, squeeze, expand):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.squeeze_bn = nn.BatchNorm2d(squeeze)
        self.expand1x1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze_bn(self.squeeze(x)))
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], 1)


class SqueezeNetish(nn.Module):
    """Fire modules concatenate; the classifier is a 1x1 convolution (without
    SqueezeNet's ReLU after it, which leaves most logits at zero)."""

    def __init__(self, width=16, classes=10):
        super().__init__()
        w = width
        self.features = nn.Sequential(nn.Conv2d(3, 2 * w, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, ceil_mode=True), Fire(2 * w, w // 2, w), Fire(2 * w, w // 2, w),
                                      nn.MaxPool2d(3, 2, ceil_mode=True), Fire(2 * w, w, 2 * w))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(4 * w, classes, 1), nn.AdaptiveAvgPool2d(1))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class ProjectionBlock(nn.Module):
    """torchvision's BasicBlock: the shortcut is a strided 1x1 convolution with BN."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return F.relu(out + identity)


class ResNetProjection(nn.Module):
    def __init__(self, width=16, classes=10):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        self.layers = nn.Sequential(ProjectionBlock(w, w, 1), ProjectionBlock(w, 2 * w, 2), ProjectionBlock(2 * w, 4 * w, 2))
        self.fc = nn.Linear(4 * w, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


MODELS = {"resnet20": resnet20, "vgg": VGGish, "mobilenetv2": MobileNetV2ish, "squeezenet": SqueezeNetish,
          "resnet_projection": ResNetProjection}


def randomize_bn(model):
    # Statistics far from their initial 0/1, so that a wrong BN mode shows in the logits.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)


class FlatOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1)).flatten()  # (batch * 10): not (batch, classes)


class GeluNet(nn.Module):
    """GELU: trains, but the runtime does not run it, so packing refuses it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(F.gelu(self.conv(x)), 1), 1))


def save_all(out_dir):
    torch.manual_seed(0)
    x = torch.randn(4, 3, 32, 32)
    torch.save({"x": x}, f"{out_dir}/input.pt")
    for name, cls in MODELS.items():
        torch.manual_seed(1)
        model = cls()
        with torch.no_grad():
            randomize_bn(model)
        model.eval()
        torch.jit.script(model).save(f"{out_dir}/{name}_scripted.pt")
        torch.jit.trace(model, x).save(f"{out_dir}/{name}_traced.pt")
    torch.jit.script(FlatOutput()).save(f"{out_dir}/bad_flat_output.pt")
    torch.jit.script(GeluNet()).save(f"{out_dir}/bad_gelu.pt")
    frozen = torch.jit.freeze(torch.jit.script(ResNetProjection().eval()))
    frozen.save(f"{out_dir}/bad_frozen.pt")


def main(argv):
    if argv[1] == "save":
        save_all(argv[2])
    elif argv[1] == "init":
        torch.manual_seed(0)
        width = int(argv[4]) if len(argv) > 4 else 16
        classes = int(argv[5]) if len(argv) > 5 else 10
        torch.jit.script(MODELS[argv[2]](width, classes)).save(argv[3])
    elif argv[1] == "logits":
        x = torch.load(argv[2])["x"]
        out = {}
        with torch.no_grad():
            for i, path in enumerate(argv[4:]):
                out[str(i)] = torch.jit.load(path).eval()(x)
        torch.save(out, argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
