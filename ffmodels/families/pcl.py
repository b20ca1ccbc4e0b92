"""Predictive-coding layers (PROTOCOL section 6, `pcl`): the FF core with one change, each layer
below the top is also pulled towards a top-down prediction of its activity.

    hat h_l = V_l h_{l+1},   e_l = h_l - hat h_l          (l = 1..L-1; the top layer has no V)
    loss of layer l = FF loss(h_l) + pcl_lambda * mean(e_l^2)
    loss of V_l     = mean(e_l^2)

mean(e^2) is the mean over units and over the whole minibatch (positives and negatives), the
"mean" convention of the core's goodness, whatever `goodness` is set to. Gradients stay local:
in the layer's term hat h_l is detached (and h_{l+1} is detached before V_l), so it reaches
W_l only through h_l; in V_l's term h_l and h_{l+1} are detached, so it reaches V_l only.
V_l (no bias, PyTorch's default Linear init, created after the FF layers so that their init is
the core's) has its own Adam optimiser (pred_lr). Prediction and features are the core's (V
is not in the feedforward pass), so the untrained network is a standard FF net.

pcl_lambda = 0.03 in config.yaml: the protocol gives no value; on 10 000 MNIST images, 6 epochs,
lambda 0.01 / 0.03 / 0.1 reach 0.83 / 0.83 / 0.45 validation accuracy (standard FF 0.85), and
0.1 doubles layer 1's dead units.

A non-finite loss is returned as such from train_step: the shared loop marks the run collapsed
and keeps the history up to its last good epoch (e.g. pcl_lambda or lr absurdly large).

Per-epoch diagnostics (epoch_diagnostics), on the first DIAGNOSTIC_IMAGES validation images
with the *true label embedded* (the positive data the network is trained to model, the input
on which the FF prediction of the true class is read), layer i = 1..L:
- dead_frac_l{i}: fraction of units never above DEAD_BOUND on those images;
- saturated_frac_l{i}: fraction of units whose mean activity over those images exceeds
  SATURATION_RATIO times the layer's mean positive activity (the mean of its activities that
  are > 0, over all units and images): runaway units that carry the layer's goodness alone.
  ReLU has no upper bound, so saturation is relative to the layer's own scale;
- mean_abs_error_l{i}: mean |e_i| over units and images, for i < L (layers with a prediction).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ffmodels.families import register
from ffmodels.families.base import adam
from ffmodels.families.ff import FFHParams, FFNet, ff_loss, goodness
from ffmodels.hparams import NonNegativeFloat, PositiveFloat

DEAD_BOUND = 0.01  # a unit never above this on the diagnostic images is dead (PROTOCOL)
SATURATION_RATIO = 10.0  # a unit whose mean activity > this x the layer's mean positive activity
DIAGNOSTIC_IMAGES = 2000  # validation images used for the per-epoch diagnostics


@dataclasses.dataclass(frozen=True)
class PCLHParams(FFHParams):
    pcl_lambda: NonNegativeFloat  # weight of the prediction error in each layer's loss
    pred_lr: PositiveFloat  # Adam lr of the top-down predictors V_l


@register
class PCLFFNet(FFNet):
    family = "pcl"
    HParams = PCLHParams
    ARCH_KEYS = FFNet.ARCH_KEYS  # V is not part of the features
    baseline_family = "ff"  # untrained features are those of a standard FF net

    def __init__(self, hp: PCLHParams, in_dim: int, n_classes: int):
        super().__init__(hp, in_dim, n_classes)  # FF layers first: same init as standard FF
        self.predictors = nn.ModuleList(nn.Linear(b, a, bias=False) for a, b in zip(hp.hidden[:-1], hp.hidden[1:]))
        self.pred_optimizer = adam(self.predictors.parameters(), lr=hp.pred_lr)

    def predictions(self, hs: list[torch.Tensor]) -> list[torch.Tensor]:
        """hat h_l = V_l h_{l+1} for l < L; differentiable in V_l only (h_{l+1} detached)."""
        return [v(hs[l + 1].detach()) for l, v in enumerate(self.predictors)]

    def layer_losses(self, hs, sign, preds=None):
        preds = self.predictions(hs) if preds is None else preds
        losses = []
        for l, h in enumerate(hs):
            loss = ff_loss(goodness(h, self.hp.goodness), sign, self.hp.threshold)
            if l < len(preds):
                loss = loss + self.hp.pcl_lambda * (h - preds[l].detach()).pow(2).mean()
            losses.append(loss)
        return losses

    def prediction_losses(self, hs, preds=None) -> list[torch.Tensor]:
        """V_l's loss: its prediction error with h_l detached."""
        preds = self.predictions(hs) if preds is None else preds
        return [(hs[l].detach() - p).pow(2).mean() for l, p in enumerate(preds)]

    def batch_loss(self, x, y, negatives):
        x_neg, y_neg = negatives
        hs = self.positive_negative_activations(x, y, x_neg, y_neg)
        preds = self.predictions(hs)
        loss = torch.stack(self.layer_losses(hs, self.signs(x, x_neg), preds=preds)).sum()
        return loss, torch.stack(self.prediction_losses(hs, preds)).sum()

    @torch.no_grad()
    def epoch_diagnostics(self, data: dict, batch_size: int) -> dict:
        x = data["val_x"][:DIAGNOSTIC_IMAGES]
        y = data["val_y"][:DIAGNOSTIC_IMAGES]
        n_layers = len(self.layers)
        peak = [None] * n_layers  # per unit: max activity
        unit_sum = [None] * n_layers  # per unit: sum of activity
        pos_sum = [0.0] * n_layers  # sum and count of the positive activities
        pos_count = [0] * n_layers
        err_sum = [0.0] * (n_layers - 1)
        for i in range(0, len(x), batch_size):
            hs = self.activations(self.embed(x[i : i + batch_size], y[i : i + batch_size]))
            for l, h in enumerate(hs):
                m = h.max(dim=0).values
                s = h.sum(dim=0)
                peak[l] = m if peak[l] is None else torch.maximum(peak[l], m)
                unit_sum[l] = s if unit_sum[l] is None else unit_sum[l] + s
                pos = h > 0
                pos_sum[l] += h[pos].sum().item()
                pos_count[l] += int(pos.sum())
            for l, p in enumerate(self.predictions(hs)):
                err_sum[l] += (hs[l] - p).abs().sum().item()
        out = {}
        for l in range(n_layers):
            unit_mean = unit_sum[l] / len(x)
            mean_pos = pos_sum[l] / pos_count[l] if pos_count[l] else 0.0
            out[f"dead_frac_l{l + 1}"] = (peak[l] <= DEAD_BOUND).float().mean().item()
            # With no positive activity there is nothing to saturate: (0 > 0) is False.
            out[f"saturated_frac_l{l + 1}"] = (unit_mean > SATURATION_RATIO * mean_pos).float().mean().item()
        for l in range(n_layers - 1):
            out[f"mean_abs_error_l{l + 1}"] = err_sum[l] / (len(x) * self.layers[l].linear.out_features)
        return out
