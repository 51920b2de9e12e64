"""lightly's reference SimCLR loop, timed; run by bench/throughput.py in bench/.venv-peer.

    bench/.venv-peer/bin/python bench/peer_simclr.py --data bench/out/cifar10/train

The loop of lightly's SimCLR example (torchvision ImageFolder + ``SimCLRTransform`` in
DataLoader workers, ``SimCLRProjectionHead``, ``NTXentLoss``, SGD with momentum, float32),
with the CIFAR 3x3 stem and the CIFAR augmentation strengths the engine uses (colour
jitter strength 0.5, no blur). Prints one JSON line: images/s over the timed steps.
"""

from __future__ import annotations

import argparse
import json

import torch
import torchvision
from common import StepClock  # bench/ is the script's folder, so it is importable
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from lightly.transforms import SimCLRTransform
from torch import nn
from torch.utils.data import DataLoader


class SimCLR(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        resnet = torchvision.models.resnet18()
        resnet.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        resnet.maxpool = nn.Identity()
        self.backbone = nn.Sequential(*list(resnet.children())[:-1])
        self.projection_head = SimCLRProjectionHead(512, 512, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.backbone(x).flatten(start_dim=1)  # (B, 512)
        return self.projection_head(h)  # (B, 128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="class-folder dataset (ImageFolder)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps after warm-up")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    torch.manual_seed(0)
    transform = SimCLRTransform(input_size=args.image_size, cj_strength=0.5, gaussian_blur=0.0)
    dataset = torchvision.datasets.ImageFolder(args.data, transform=transform)
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=args.workers > 0,
    )
    model = SimCLR().to(device)
    criterion = NTXentLoss(temperature=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.06, momentum=0.9, weight_decay=5e-4)

    clock = StepClock(args.warmup)
    total = args.warmup + args.steps
    while clock.steps < total:
        for (x0, x1), _ in loader:
            x0, x1 = x0.to(device), x1.to(device)
            loss = criterion(model(x0), model(x1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()  # waits for the device, like the engine's finite-loss check
            clock.tick()
            if clock.steps == total:
                break
    rates = {
        "images_per_sec": clock.images_per_sec(args.batch_size),
        "images_per_cpu_sec": clock.images_per_cpu_sec(args.batch_size),
    }
    print(json.dumps(rates))


if __name__ == "__main__":
    main()
