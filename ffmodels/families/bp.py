"""Backprop baseline: the same MLP with a linear head, cross-entropy (PROTOCOL section 3)."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from ffmodels.families import register
from ffmodels.families.base import PretrainModel, adam
from ffmodels.hparams import Checked, LayerSizes, PositiveFloat, PositiveInt


@dataclasses.dataclass(frozen=True)
class BPHParams(Checked):
    hidden: LayerSizes
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    input_mean: float  # inputs (x - mean) / std before layer 1 (upstream's R2 z-scores them)
    input_std: PositiveFloat


@register
class BPNet(PretrainModel):
    family = "bp"
    HParams = BPHParams
    ARCH_KEYS = ("hidden", "input_mean", "input_std")
    uses_label_input = False
    lockstep = True

    def __init__(self, hp: BPHParams, in_dim: int, n_classes: int):
        super().__init__(hp, in_dim, n_classes)
        dims = [in_dim, *hp.hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.head = nn.Linear(dims[-1], n_classes)
        self.optimizer = adam(self.parameters(), lr=hp.lr)

    def activations(self, x):
        mean, std = self.hp.input_mean, self.hp.input_std
        hs, h = [], x if (mean, std) == (0.0, 1.0) else (x - mean) / std
        for layer in self.layers:
            h = F.relu(layer(h))
            hs.append(h)
        return hs

    def batch_loss(self, x, y, negatives):
        loss = F.cross_entropy(self.head(self.activations(x)[-1]), y)
        return loss, loss.new_zeros(())

    @torch.no_grad()
    def predict(self, x):
        return self.head(self.activations(x)[-1]).argmax(dim=1)
