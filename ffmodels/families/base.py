"""The interface every family implements; training, transfer and analysis use only this."""

from __future__ import annotations

import torch
from torch import nn


class PretrainModel(nn.Module):
    family: str = ""
    HParams: type = object
    ARCH_KEYS: tuple[str, ...] = ()  # keys that define the architecture (random-init baseline)
    uses_label_input: bool = False  # True: the label is written into the input pixels

    def __init__(self, hp, in_dim: int, n_classes: int):
        super().__init__()
        self.hp = hp
        self.in_dim = in_dim
        self.n_classes = n_classes

    def train_step(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> float:
        """One optimiser step on a minibatch; returns the loss (may be nan/inf on divergence)."""
        raise NotImplementedError

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class predictions for a batch of plain images."""
        raise NotImplementedError

    def features(self, x: torch.Tensor, layers: str) -> torch.Tensor:
        """Frozen features for the transfer probe: 'all' hidden layers concatenated, or 'last'.
        For label-input models the caller has already filled the label pixels."""
        raise NotImplementedError
