#!/usr/bin/env python3
"""PyTorch peer for `deno task bench:infer`: eval-mode inference of the same ProjectionNet (torch_reference.py's
ResNet18 + SSPCAB) plus the Mahalanobis score as a whitened norm, on the CPU, at the given size and batch sizes.
Decoding is not included (this peer has no image decoder). Prints one JSON object."""
import argparse, json, os, statistics, sys, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import ProjectionNet  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batches", default="1,32")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--runs", default="5,2", help="timed runs per batch size (after one warm-up)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = ProjectionNet().eval()
    mean = torch.randn(512) * 0.01
    whiten = torch.randn(512, 512) / 512 ** 0.5
    batches = [int(b) for b in a.batches.split(",")]
    runs = [int(r) for r in a.runs.split(",")]
    out = {}
    with torch.inference_mode():
        for b, r in zip(batches, runs):
            x = torch.rand(b, a.size, a.size, 3) * 255  # raw NHWC RGB, as the other engines get it
            mu = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
            sd = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
            times = []
            for i in range(r + 1):
                t = time.perf_counter()
                xn = (x.permute(0, 3, 1, 2) / 255 - mu) / sd
                e, _ = net.embed(xn)
                e = e / e.norm(dim=1, keepdim=True).clamp_min(1e-12)
                score = ((e - mean) @ whiten).norm(dim=1)
                _ = score.numpy()
                if i:
                    times.append(time.perf_counter() - t)
            out[str(b)] = statistics.median(times)
    print(json.dumps({"peer": f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads",
                      "seconds_per_batch": out}))


if __name__ == "__main__":
    main()
