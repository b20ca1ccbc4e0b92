"""representation: what the transfer probe's features (model.features under the transfer config:
its layers and label fill) keep of the target images, at every checkpoint. The competing
explanations of a transfer failure that the root-cause hypothesis test holds against the label
metrics (PROTOCOL section 5.1); every family, random inits included.

On the first `analysis.representation_subset` target (Fashion-MNIST) test images:
- `effective_rank`: exp of the entropy of the normalised singular values of the centred features
  (Roy & Vetterli 2007): 1 for features on one line, d for d equally strong directions;
  `effective_rank_standardised`, the same after scaling every feature to unit variance as the
  probe does (constant features stay 0), so that a few loud units do not decide it.
- `pixel_r2`: how much of the pixels' variance a linear map of the features recovers: ridge
  regression on the centred features, fitted on the first `analysis.reconstruction_train` target
  train images, its penalty chosen among `analysis.ridge` (each times the number of those images
  and the features' mean variance) by R^2 on as many validation images as the test subset has,
  then R^2 pooled over pixels on the test subset (1: the features keep every pixel's linear
  information; 0: none; below 0: worse than the train mean). Selected on validation, like the
  probe: with as many features as images an unpenalised fit memorises its training images.
  Not rescaled to unit variance, unlike the probe's features (pixel_r2 says why).
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
from ffmodels.transfer import extract_layer_features


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


def _r2(x: torch.Tensor, fitted: torch.Tensor) -> float:
    total = (x - x.mean(dim=0)).pow(2).sum()
    return float(1.0 - (x - fitted).pow(2).sum() / total) if total > 0 else float("nan")


def pixel_r2(feats: dict, pixels: dict, penalties: list[float]) -> tuple[float, float]:
    """(test R^2, the penalty chosen) of a ridge reconstruction of the pixels from the features:
    feats and pixels {'train', 'val', 'test'}, features centred by the train split's means and not
    rescaled, intercept the train pixel means; each penalty times the train images and the
    features' mean variance (on unit-variance features, the train images alone), the one with the
    best validation R^2 kept. One eigendecomposition serves every penalty.
    Not rescaled because a unit that barely varies on the train images (active on one of them)
    would be blown up by unit-variance scaling, and a test image on which it fires would then sit
    thousands of standard deviations out: that one image's error decided R^2 (down to -4e5 on a
    random init's features). Ridge shrinks such low-variance directions instead."""
    mean = feats["train"].mean(dim=0)
    f = {k: (v - mean).double() for k, v in feats.items()}
    x = {k: v.double() for k, v in pixels.items()}
    mean_x = x["train"].mean(dim=0)
    gram = f["train"].T @ f["train"]
    unit = float(gram.diagonal().mean())  # the train images times the features' mean variance
    if unit == 0:  # no feature varies: the reconstruction is the train mean, whatever the penalty
        return _r2(x["test"], mean_x.expand_as(x["test"])), float("nan")
    evals, evecs = torch.linalg.eigh(gram)
    projected = evecs.T @ (f["train"].T @ (x["train"] - mean_x))
    best = None
    for penalty in penalties:
        w = evecs @ (projected / (evals.clamp_min(0) + penalty * unit).unsqueeze(1))
        val = _r2(x["val"], mean_x + f["val"] @ w)
        if best is None or val > best[0]:
            best = (val, penalty, w)
    _, penalty, w = best
    return _r2(x["test"], mean_x + f["test"] @ w), penalty


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
    analysis_keys = ("representation_subset", "reconstruction_train", "ridge", "dead_threshold")
    # the probe's features (its layers, label fill) and train images (the ridge's fit), not its training
    transfer_keys = ("features", "label_fill", "neutral_value", "train_subset")

    @staticmethod
    def applies(family) -> bool:
        return True

    @staticmethod
    def compute(ctx) -> dict:
        n = ctx.cfg["representation_subset"]
        pixels = {
            "train": fixed_subset(ctx.target, "train", ctx.cfg["reconstruction_train"])[0],
            "val": fixed_subset(ctx.target, "val", n)[0],
            "test": fixed_subset(ctx.target, "test", n)[0],
        }
        curves: dict[str, list[float]] = {}
        for epoch in ctx.epochs:
            model = ctx.model_at(epoch)
            layers = {k: extract_layer_features(model, x, ctx.transfer, ctx.batch_size) for k, x in pixels.items()}
            if ctx.transfer["features"] == "last":
                layers = {k: v[-1:] for k, v in layers.items()}
            feats = {k: torch.cat(v, dim=1) for k, v in layers.items()}
            r2, penalty = pixel_r2(feats, pixels, ctx.cfg["ridge"])
            values = {
                "effective_rank": effective_rank(feats["test"]),
                "effective_rank_standardised": effective_rank(unit_scaled(feats["test"])),
                "pixel_r2": r2,
                "pixel_r2_penalty": penalty,
                **unit_fractions(layers["test"], ctx.cfg["dead_threshold"]),
            }
            for name, value in values.items():
                curves.setdefault(name, []).append(value)
        return {"curves": curves, "final": {k: v[-1] for k, v in curves.items()}}
