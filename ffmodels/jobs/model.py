"""Device set-up and seeded model building, for the jobs that run a network."""

from __future__ import annotations

import torch

from ffmodels.families import build
from ffmodels.runtime import resolve_device


def setup(device_name: str, threads: int) -> torch.device:
    torch.set_num_threads(threads)
    return resolve_device(device_name)


def new_model(hp: dict, seed: int, in_dim: int, device: torch.device):
    torch.manual_seed(seed)  # on the CPU generator: the same seed gives the same init on any device
    return build(hp, in_dim=in_dim, n_classes=10).to(device)
