"""Collaborative goodness (PROTOCOL section 6, `collab`): the FF core with one change, each
layer's loss reads its goodness plus gamma times its neighbours' goodness.

    G_collab^l = G^l + gamma * G^{l-1} + gamma * G^{l+1}

The neighbours' goodness is detached (a layer still gets gradient only from its own activity,
so training stays layer-local) and a missing neighbour (below layer 1, above the top layer) is
omitted. All layers are trained together on every minibatch, as in the core.

Threshold: the protocol's formula is followed literally, the loss is
softplus(-y (G_collab - theta)) with the family's `threshold` unchanged, *not* rescaled by
(1 + gamma * number of neighbours). A rescaled threshold is a different hyperparameter choice,
not part of the definition, and it is still reachable through `threshold` in a family block;
note that without it a layer with neighbours sees its positives' margin shifted up by
gamma * (neighbours' goodness), which is part of what gamma measures.

Prediction is the core's (goodness of each layer summed over layers, label by label): the
collaborative term changes learning only. gamma = 0 is standard FF bit for bit.
"""

from __future__ import annotations

import dataclasses

from ffmodels.families import register
from ffmodels.families.ff import FFHParams, FFNet, ff_loss, goodness
from ffmodels.hparams import NonNegativeFloat


@dataclasses.dataclass(frozen=True)
class CollabHParams(FFHParams):
    gamma: NonNegativeFloat  # weight of each neighbour's (detached) goodness


@register
class CollabFFNet(FFNet):
    family = "collab"
    HParams = CollabHParams
    ARCH_KEYS = FFNet.ARCH_KEYS  # gamma changes learning only
    baseline_family = "ff"  # untrained: exactly a standard FF net (no extra parameters)

    def collab_goodness(self, hs):
        gs = [goodness(h, self.hp.goodness) for h in hs]
        if not self.hp.gamma:
            return gs  # gamma = 0: the plain goodness, no 0 * G terms (0 * inf would be nan)
        out = []
        for l, g in enumerate(gs):
            if l > 0:
                g = g + self.hp.gamma * gs[l - 1].detach()
            if l + 1 < len(gs):
                g = g + self.hp.gamma * gs[l + 1].detach()
            out.append(g)
        return out

    def layer_losses(self, hs, sign):
        return [ff_loss(g, sign, self.hp.threshold) for g in self.collab_goodness(hs)]
