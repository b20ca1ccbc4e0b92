"""gradient_share: the share of layer 1's squared training gradient that falls on the 10 label
input columns, divided by 10/784 (its share if the gradient were spread evenly over the inputs).
Over a fixed batch: the first `gradient_batch` source training images as positives and the
variant's own negatives drawn with a fixed generator, at every checkpoint. Above 1: the label
dimensions take more than their share of the learning signal.

The gradient is the one the variant's own train_step computes (its loss, negatives and any
modulation), taken from a throw-away copy of the checkpoint, so any FF family is measured by
its own objective without this module knowing it.
"""

from __future__ import annotations

import torch

from ffmodels.analysis import LabelInputMetric, fixed_subset, metric
from ffmodels.names import N_LABEL_PIXELS


def first_layer_label_share(model, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> float:
    """The normalised label-column share of the squared gradient of layer 1's weights after one
    training step on (x, y). Steps `model`: pass a copy."""
    model.train_step(x, y, gen)
    grad = model.layers[0].linear.weight.grad
    sq = grad.pow(2).sum(dim=0)  # per input column
    total = sq.sum()
    if not torch.isfinite(total) or total == 0:
        return float("nan") if not torch.isfinite(total) else 0.0
    return float(sq[:N_LABEL_PIXELS].sum() / total) / (N_LABEL_PIXELS / grad.shape[1])


@metric("gradient_share")
class GradientShare(LabelInputMetric):
    @staticmethod
    def compute(ctx) -> dict:
        x, y = fixed_subset(ctx.source, "train", ctx.cfg["gradient_batch"])
        values = []
        for epoch in ctx.epochs:
            model = ctx.model_at(epoch)  # a fresh model per call: stepping it changes no checkpoint
            gen = torch.Generator(device=x.device).manual_seed(ctx.seed)
            values.append(first_layer_label_share(model, x, y, gen))
        return {"curves": {"gradient_share": values}, "final": {"gradient_share": values[-1]}}
