"""representation: what the transfer probe's features (model.features under the transfer config:
its layers and label fill) keep of the target images, at every checkpoint. The competing
explanations of a transfer failure that the root-cause hypothesis test holds against the label
metrics (PROTOCOL section 5.1); every family, random inits included.

On the first `analysis.representation_subset` target (Fashion-MNIST) test images:
- `effective_rank`: exp of the entropy of the normalised singular values of the centred features
  (Roy & Vetterli 2007): 1 for features on one line, d for d equally strong directions;
  `effective_rank_standardised`, the same after scaling every feature to unit variance as the
  probe does (constant features stay 0), so that a few loud units do not decide it.
- `pixel_r2`: how much of the pixels' variance a linear map of the standardised features
  recovers: ridge regression (penalty `analysis.ridge`) fitted on the first
  `analysis.reconstruction_train` target train images, R^2 pooled over pixels on the test subset
  (1: the features keep every pixel's linear information; 0: none; below 0: worse than the
  train mean).
- `dead_target`: the share of the probe's features never above `analysis.dead_threshold` on the
  subset (pooled over layers; per layer in the dead_units metric).
- `saturated_target`: the share of features whose mean exceeds SATURATION_RATIO times their
  layer's mean positive activity (PCL's definition, ffmodels.families.pcl: ReLU has no upper
  bound, so saturation is relative to the layer's own scale), pooled over layers.
The test images select nothing here: no number of this module chooses a model or a setting.
"""

from __future__ import annotations

import torch

from ffmodels.analysis import fixed_subset, metric
from ffmodels.families.pcl import SATURATION_RATIO
from ffmodels.transfer import extract_layer_features, standardise


def effective_rank(feats: torch.Tensor) -> float:
    """exp(entropy of the singular values of the centred features, normalised to sum 1); 0.0
    for features without any variance."""
    s = torch.linalg.svdvals((feats - feats.mean(dim=0)).double())
    if s.sum() <= 0:
        return 0.0
    p = s / s.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def unit_scaled(feats: torch.Tensor) -> torch.Tensor:
    """Centred, every feature scaled to unit variance (a constant one stays 0)."""
    std = feats.std(dim=0)
    return (feats - feats.mean(dim=0)) / torch.where(std > 0, std, torch.ones_like(std))


def pixel_r2(train_f: torch.Tensor, train_x: torch.Tensor, test_f: torch.Tensor, test_x: torch.Tensor, ridge: float):
    """R^2 on the test images of a ridge reconstruction of the pixels from the features (both
    splits standardised by the train split's statistics; intercept = the train pixel means)."""
    train_f, test_f = (t.double() for t in standardise(train_f, test_f))
    train_x, test_x = train_x.double(), test_x.double()
    mean_x = train_x.mean(dim=0)
    gram = train_f.T @ train_f + ridge * torch.eye(train_f.shape[1], dtype=torch.float64, device=train_f.device)
    w = torch.linalg.solve(gram, train_f.T @ (train_x - mean_x))
    residual = (test_x - mean_x - test_f @ w).pow(2).sum()
    total = (test_x - test_x.mean(dim=0)).pow(2).sum()
    return float(1.0 - residual / total) if total > 0 else float("nan")


def unit_fractions(layers: list[torch.Tensor], dead_threshold: float) -> dict[str, float]:
    """Dead and saturated shares of the features, pooled over layers (each unit counts once)."""
    dead = saturated = units = 0
    for h in layers:
        positive = h[h > 0]
        mean_pos = positive.mean() if len(positive) else h.new_tensor(0.0)
        dead += int((h.amax(dim=0) <= dead_threshold).sum())
        # With no positive activity there is nothing to saturate: (0 > 0) is False.
        saturated += int((h.mean(dim=0) > SATURATION_RATIO * mean_pos).sum())
        units += h.shape[1]
    return {"dead_target": dead / units, "saturated_target": saturated / units}


@metric("representation")
class Representation:
    uses_transfer_config = True  # the probe's layers and label fill

    @staticmethod
    def applies(family) -> bool:
        return True

    @staticmethod
    def compute(ctx) -> dict:
        test_x, _ = fixed_subset(ctx.target, "test", ctx.cfg["representation_subset"])
        train_x, _ = fixed_subset(ctx.target, "train", ctx.cfg["reconstruction_train"])
        curves: dict[str, list[float]] = {}
        for epoch in ctx.epochs:
            model = ctx.model_at(epoch)
            test_layers = extract_layer_features(model, test_x, ctx.transfer, ctx.batch_size)
            train_layers = extract_layer_features(model, train_x, ctx.transfer, ctx.batch_size)
            if ctx.transfer["features"] == "last":
                test_layers, train_layers = test_layers[-1:], train_layers[-1:]
            test_f, train_f = torch.cat(test_layers, dim=1), torch.cat(train_layers, dim=1)
            values = {
                "effective_rank": effective_rank(test_f),
                "effective_rank_standardised": effective_rank(unit_scaled(test_f)),
                "pixel_r2": pixel_r2(train_f, train_x, test_f, test_x, ctx.cfg["ridge"]),
                **unit_fractions(test_layers, ctx.cfg["dead_threshold"]),
            }
            for name, value in values.items():
                curves.setdefault(name, []).append(value)
        return {"curves": curves, "final": {k: v[-1] for k, v in curves.items()}}
