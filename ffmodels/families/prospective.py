"""Prospective FF (PROTOCOL section 6, `prospective`): the FF core with one change, activities
settle for T iterations under top-down input before goodness is read.

    h_l(t) = ReLU(W_l n(h_{l-1}(t)) + B_l h_{l+1}(t-1) + b_l),   t = 1..T,
    h_0(t) = x,  h_{l+1}(0) = 0,  the top layer has no B.

Within an iteration layers are updated bottom-up, each with the activity of the layer above
from the previous iteration. Goodness, the FF loss, prediction and the transfer features all
read the last iteration h(T). Learning stays local:

- W_l, b_l get the FF loss of layer l at t = T only, through its own pre-activation: the input
  from below is detached (as in the core), the top-down term B_l h_{l+1}(T-1) is detached, and
  iterations 1..T-1 run without autograd, so no gradient crosses a layer or reaches B_l.
- B_l (no bias, PyTorch's default Linear init, created after the FF layers so that the FF
  layers' init is the core's) is trained by its own Adam optimiser (feedback_lr) on its own
  loss, mean squared error of B_l h_{l+1}(T) against h_l(T), both detached, over the whole
  minibatch (positives and negatives: B acts on every input the network settles on).

T = 1 is standard FF bit for bit (h_{l+1}(0) = 0, so B never enters the forward pass).

Scale (why feedback_lr is small, 1e-5 in config.yaml): the bottom-up drive sees the *normalised*
activity of the layer below (norm 1), the top-down drive the raw activity of the layer above
(norm ~ sqrt(d · theta), about 30 at 500 units); the formula is followed as written, without a
normalisation of h_{l+1}. Adam's first steps move all of B_l's weights together, so at
feedback_lr 1e-3 the top-down term dominates layer 1 within a few minibatches, the FF loss
then drives every unit of layer 1 off (dead, goodness 0) and accuracy stays at chance; at 1e-4
learning is poor; at 1e-5 (10 000 MNIST images, T = 3 and 5, 15 epochs) accuracy follows
standard FF while B_l learns (its prediction explains ~45% of h_1's variance after 6 epochs,
top-down rms about half the bottom-up rms).

Family and variants. The settled features depend on B and T even untrained, so there is no
`baseline_family` and `iterations` is an architecture key: each T (a variant, e.g.
prospective_t3 with iterations 3) gets its own random-init baseline (ffmodels.variants keys
random inits by family and architecture). For T = 1 the settled pass *is* the core's forward
pass, so activations is FFNet's (with the core's shared-image fast path for labelled batches):
it trains bit for bit like standard FF; its B_l is never used, so not trained.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from ffmodels.families import register
from ffmodels.families.base import adam
from ffmodels.families.ff import FFHParams, FFNet
from ffmodels.hparams import PositiveFloat, PositiveInt


@dataclasses.dataclass(frozen=True)
class ProspectiveHParams(FFHParams):
    iterations: PositiveInt  # T settling iterations; 1 = standard FF
    feedback_lr: PositiveFloat  # Adam lr of the top-down weights B_l


@register
class ProspectiveFFNet(FFNet):
    family = "prospective"
    HParams = ProspectiveHParams
    ARCH_KEYS = (*FFNet.ARCH_KEYS, "iterations")  # settled features depend on T (and on B)

    def __init__(self, hp: ProspectiveHParams, in_dim: int, n_classes: int):
        super().__init__(hp, in_dim, n_classes)  # FF layers first: same init as standard FF
        # B_l maps h_{l+1} to layer l, for every layer but the top one; outside self.optimizer.
        self.feedback = nn.ModuleList(nn.Linear(b, a, bias=False) for a, b in zip(hp.hidden[:-1], hp.hidden[1:]))
        self.feedback_optimizer = adam(self.feedback.parameters(), lr=hp.feedback_lr)

    def core_forward(self) -> bool:
        return self.hp.iterations == 1 and self.core_embed_and_layers()  # h(1) with h(0) = 0

    def activations(self, x: torch.Tensor, detach: bool = True) -> list[torch.Tensor]:
        """Settled activities h_l(T); autograd only through the last iteration's own weights."""
        if self.hp.iterations == 1:
            return super().activations(x, detach)  # the core's pass: bit for bit standard FF
        grad = torch.is_grad_enabled()
        prev = None  # h(t-1); None at t = 1, i.e. h(0) = 0 and no top-down term
        for t in range(1, self.hp.iterations + 1):
            with torch.set_grad_enabled(grad and t == self.hp.iterations):
                hs, h = [], x
                for l, layer in enumerate(self.layers):
                    inp = h.detach() if detach else h
                    if prev is None or l == len(self.layers) - 1:
                        h = layer(inp)
                    else:
                        top_down = self.feedback[l](prev[l + 1]).detach()  # no FF gradient into B_l
                        pre = layer.linear(inp / (inp.norm(dim=1, keepdim=True) + layer.eps))
                        h = F.relu(pre + top_down)
                    hs.append(h)
            prev = [h.detach() for h in hs]
        return hs

    def feedback_losses(self, hs: list[torch.Tensor]) -> list[torch.Tensor]:
        """B_l's local loss: predict detached h_l from detached h_{l+1}."""
        return [F.mse_loss(b(hs[l + 1].detach()), hs[l].detach()) for l, b in enumerate(self.feedback)]

    def batch_loss(self, x, y, negatives):
        x_neg, y_neg = negatives
        hs = self.positive_negative_activations(x, y, x_neg, y_neg)
        loss = torch.stack(self.layer_losses(hs, self.signs(x, x_neg))).sum()
        # T = 1 never uses B (h(0) = 0): it is not trained, which saves ~30% of the step.
        fb = self.feedback_losses(hs) if self.hp.iterations > 1 else []
        return loss, torch.stack(fb).sum() if fb else loss.new_zeros(())
