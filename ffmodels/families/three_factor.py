"""Three-factor FF (PROTOCOL section 6, `three_factor`): the FF core with one change, each
sample's update of each layer is scaled by a neuromodulator.

The rule is  dW_l ∝ M · post ⊗ pre  with a per-sample modulator  M = M_ff · (1 + kappa · m),
where M_ff is the FF error signal of the sample (the derivative of softplus(-y (G - theta))
with respect to G) and m in [-1, 1]. We implement it as autograd of the per-sample FF loss
weighted by the *detached* factor (1 + kappa · m): the gradient of w · softplus(-y (G - theta))
with w constant is w · M_ff · dG/dW, and dG/dW = (2/n) · h · relu' ⊗ n(input), i.e. exactly
M · post ⊗ pre. kappa = 0 gives w = 1.0 exactly, so the update is the core's bit for bit.

The neuromodulator m (no gradient ever flows through it):

- bottom_up: agreement of the layer below, the sign-correct goodness margin of layer l-1,
  squashed: m_l = tanh(y · (G_{l-1} - theta)) (positive when layer l-1 already puts the sample
  on the right side of the threshold). Layer 1 has no FF layer below it: its bottom-up
  modulator is omitted, i.e. m_1 = 0 and layer 1 learns as plain FF. (The raw input has no
  goodness relative to theta, and using layer 1's own margin would make the layer modulate
  itself, which is not "the layer below".)
- top_down: reward prediction error from a linear readout on the top layer:
  m = y · (2 · p(embedded label | h_top) − 1), the same m for every layer. For a positive the
  embedded label is the true class, so m = 2 p(true class) − 1 as the protocol states; for a
  negative the embedded label is wrong, and the sign-correct version 1 − 2 p(wrong label) is
  high when the top layer does *not* endorse it (this needs no knowledge of a negative image's
  own class, which some negative strategies do not keep). The readout is trained alongside,
  on detached top-layer activity of the positives only, with cross-entropy on the true label,
  by its own Adam optimiser (readout_lr); it never sends gradient into the FF layers and the FF
  loss never reaches it. m is computed with the readout as it is before this step's update.
- bidirectional: the mean of the modulators available to the layer (both for layers >= 2;
  top-down alone for layer 1, where the bottom-up one is omitted as above).

kappa is restricted to [0, 1] so that 1 + kappa·m >= 0: the modulator scales the FF update but
never reverses it. Prediction and features are the core's; the readout only makes m.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ffmodels.families import register
from ffmodels.families.base import adam
from ffmodels.families.ff import FFHParams, FFNet, goodness
from ffmodels.hparams import PositiveFloat, UnitInterval


@dataclasses.dataclass(frozen=True)
class ThreeFactorHParams(FFHParams):
    modulation: Literal["bottom_up", "top_down", "bidirectional"]
    kappa: UnitInterval  # M = M_ff (1 + kappa m); 0 = standard FF; <= 1 keeps 1 + kappa m >= 0
    readout_lr: PositiveFloat  # Adam lr of the top-layer readout (top_down, bidirectional)


@register
class ThreeFactorFFNet(FFNet):
    family = "three_factor"
    HParams = ThreeFactorHParams
    ARCH_KEYS = FFNet.ARCH_KEYS  # the readout is not part of the features
    baseline_family = "ff"  # untrained features are those of a standard FF net

    def __init__(self, hp: ThreeFactorHParams, in_dim: int, n_classes: int):
        super().__init__(hp, in_dim, n_classes)  # FF layers first: same init as standard FF
        # Created after the FF layers and outside self.optimizer: the FF layers' init and
        # Adam state are exactly the core's. Every modulation has one, so that checkpoints of
        # all three configs share one state_dict layout.
        self.readout = nn.Linear(hp.hidden[-1], n_classes)
        self.readout_optimizer = adam(self.readout.parameters(), lr=hp.readout_lr)

    def _uses(self, kind: str) -> bool:
        return self.hp.modulation in (kind, "bidirectional")

    @torch.no_grad()
    def modulators(self, hs: list[torch.Tensor], sign: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
        """m for every layer, each (B,) in [-1, 1]; labels are the labels embedded in the batch."""
        gs = [goodness(h, self.hp.goodness) for h in hs]
        top_down = None
        if self._uses("top_down"):
            p = torch.softmax(self.readout(hs[-1]), dim=1).gather(1, labels[:, None]).squeeze(1)
            top_down = sign * (2.0 * p - 1.0)
        ms = []
        for l in range(len(hs)):
            parts = []
            if self._uses("bottom_up") and l > 0:
                parts.append(torch.tanh(sign * (gs[l - 1] - self.hp.threshold)))
            if top_down is not None:
                parts.append(top_down)
            ms.append(torch.stack(parts).mean(dim=0) if parts else torch.zeros_like(sign))
        return ms

    def layer_losses(self, hs, sign, labels=None):
        """Per-layer FF losses with each sample weighted by the detached 1 + kappa m."""
        if labels is None and self._uses("top_down"):
            raise ValueError("three_factor top-down modulation needs the embedded labels")
        if labels is None:
            labels = torch.zeros_like(sign, dtype=torch.long)  # unused by bottom_up
        ms = self.modulators(hs, sign, labels)
        losses = []
        for h, m in zip(hs, ms):
            per_sample = F.softplus(-sign * (goodness(h, self.hp.goodness) - self.hp.threshold))
            losses.append((per_sample * (1.0 + self.hp.kappa * m)).mean())
        return losses

    def readout_loss(self, hs, labels, n_pos: int) -> torch.Tensor:
        """Cross-entropy of the readout on the detached top activity of the positives."""
        return F.cross_entropy(self.readout(hs[-1][:n_pos].detach()), labels[:n_pos])

    def batch_loss(self, x, y, negatives):
        x_neg, y_neg = negatives
        hs = self.positive_negative_activations(x, y, x_neg, y_neg)
        labels = torch.cat([y, y_neg])
        loss = torch.stack(self.layer_losses(hs, self.signs(x, x_neg), labels)).sum()
        # The two losses share no parameter: one backward gives each its own gradient.
        return loss, self.readout_loss(hs, labels, len(x))
