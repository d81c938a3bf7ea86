#!/usr/bin/env python3
"""PyTorch peer for `deno task bench`: the same ProjectionNet (torchvision ResNet18 + SSPCAB after layer3,
MLP head, 3 classes) timed on the CPU for one training step (forward + backward + SGD) and one eval-mode
embedding pass. Prints one JSON object. Needs Debian's python3-torch (torchvision optional)."""
import argparse, json, resource, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SSPCAB(nn.Module):
    def __init__(self, c=256, k=1, d=1, r=8):
        super().__init__()
        self.pad, self.border = k + d, k + 2 * d + 1
        self.convs = nn.ModuleList(nn.Conv2d(c, c, k) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(c, c // r), nn.Linear(c // r, c)

    def forward(self, x):
        b = self.border
        x = F.pad(x, (self.pad,) * 4)
        y = (self.convs[0](x[:, :, :-b, :-b]) + self.convs[1](x[:, :, b:, :-b])
             + self.convs[2](x[:, :, :-b, b:]) + self.convs[3](x[:, :, b:, b:]))
        y = F.relu(y)
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(y.mean(dim=(2, 3))))))
        return y * w[:, :, None, None]


def resnet18():
    try:
        from torchvision.models import resnet18 as tv
        return tv()
    except ImportError:  # a compact torchvision-layout ResNet18
        def block(i, o, s):
            down = nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o)) if s != 1 or i != o else None
            class B(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.c1, self.b1 = nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o)
                    self.c2, self.b2 = nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o)
                    self.down = down
                def forward(self, x):
                    y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
                    return F.relu(y + (self.down(x) if self.down is not None else x))
            return B()
        m = nn.Module()
        m.conv1, m.bn1, m.relu = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU()
        m.maxpool, m.avgpool = nn.MaxPool2d(3, 2, 1), nn.AdaptiveAvgPool2d(1)
        widths, inc = [64, 128, 256, 512], 64
        for li, w in enumerate(widths):
            setattr(m, f"layer{li + 1}", nn.Sequential(block(inc, w, 1 if li == 0 else 2), block(w, w, 1)))
            inc = w
        return m


class ProjectionNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.resnet18 = resnet18()
        self.head = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(),
                                  nn.Linear(512, 128), nn.BatchNorm1d(128), nn.ReLU())
        self.out = nn.Linear(128, 3)
        self.sspcab = SSPCAB()

    def embed(self, x):
        m = self.resnet18
        f = m.layer3(m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x)))))))
        s = self.sspcab(f)
        return torch.flatten(m.avgpool(m.layer4(s)), 1), F.mse_loss(s, f)

    def forward(self, x):
        e, mse = self.embed(x)
        return self.out(self.head(e)), mse


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=8, help="items; the step sees 3x as many images")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = ProjectionNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.03, momentum=0.9, weight_decay=3e-5)
    n = 3 * a.batch
    x = torch.randn(n, 3, a.size, a.size)
    y = torch.arange(3).repeat_interleave(a.batch)
    train = []
    net.train()
    for i in range(a.steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        logits, mse = net(x)
        loss = F.cross_entropy(logits, y) + 0.01 * mse
        loss.backward()
        opt.step()
        if i:
            train.append(time.perf_counter() - t)
    net.eval()
    fwd = []
    xe = torch.randn(a.batch, 3, a.size, a.size)
    with torch.no_grad():
        for i in range(a.steps + 1):
            t = time.perf_counter()
            net.embed(xe)
            if i:
                fwd.append(time.perf_counter() - t)
    print(json.dumps({
        "peer": f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads",
        "train_step_s": statistics.median(train), "forward_s": statistics.median(fwd),
        "train_images": n, "forward_images": a.batch,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
