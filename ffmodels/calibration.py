"""Calibrated random init: an untrained network whose normalisation statistics are estimated on
the source training images, with no weight changed (families with `has_running_statistics`).

An untrained CwC-FF network evaluates its BatchNorm with the initial running statistics (mean
0, variance 1), so each block passes on un-normalised activity; a trained one has statistics
that its training passes accumulated. The calibrated baseline separates the two: the same
weights, and the statistics a training-mode pass over the source images gives. Each running
statistic is the plain average over the batches (momentum None, PyTorch's cumulative average)
instead of the exponential average of training, so it does not depend on the batch order's
tail; the batches are those of training (the family's batch size, the images in order).
"""

from __future__ import annotations

import torch
from torch import nn


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def calibrate_running_statistics(model, x: torch.Tensor, batch_size: int) -> int:
    """Re-estimate every BatchNorm's running mean and variance of `model` on the images x, by
    training-mode forward passes; weights, biases and BatchNorm's affine parameters are left as
    they are. Returns the number of BatchNorm layers calibrated; the model is left in eval mode."""
    layers = batchnorm_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__}: no BatchNorm layer to calibrate")
    momenta = [bn.momentum for bn in layers]
    for bn in layers:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches
    model.train()
    try:
        for start in range(0, len(x), batch_size):
            model.normalisation_pass(x[start : start + batch_size])
    finally:
        for bn, momentum in zip(layers, momenta):
            bn.momentum = momentum
        model.eval()
    return len(layers)
