"""Forward-Forward, the common core of PROTOCOL section 3 (Hinton 2022)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ffmodels.families import register
from ffmodels.families.base import PretrainModel, adam
from ffmodels.hparams import Checked, Domain, LayerSizes, NonNegativeFloat, PositiveFloat, PositiveInt, UnitInterval
from ffmodels.negatives import LABEL_FREE_STRATEGIES, STRATEGIES, make_negatives

# The strategies of the FF core; the label-free ones need keys FFHParams lacks.
NegativeName = Literal[tuple(n for n in STRATEGIES if n not in LABEL_FREE_STRATEGIES)]


@dataclasses.dataclass(frozen=True)
class FFHParams(Checked):
    hidden: LayerSizes
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    goodness: Literal["mean", "sum"]
    threshold: NonNegativeFloat  # goodness is a mean or sum of squares, never below 0
    norm_eps: PositiveFloat  # keeps an all-zero input finite
    negatives: NegativeName
    hard_mode: Literal["argmax", "softmax"]
    noise_sigma: NonNegativeFloat
    mask_keep: Annotated[float, Domain(0, 1, low_open=True)]  # 0 would blank every negative
    mix_weight: UnitInterval
    hybrid_components: list[NegativeName]

    def __post_init__(self):
        super().__post_init__()
        if "hybrid" in self.hybrid_components or not self.hybrid_components:
            raise ValueError("hybrid_components: must be a non-empty list of other strategies")


def embed_label(x: torch.Tensor, labels: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """Overwrite the first n_classes pixels with a one-hot label scaled to the image's maximum."""
    peak = x.amax(dim=1)
    out = x.clone()
    out[:, :n_classes] = 0.0
    out[torch.arange(x.shape[0], device=x.device), labels] = peak
    return out


def goodness(h: torch.Tensor, kind: str) -> torch.Tensor:
    sq = h.pow(2)
    return sq.mean(dim=1) if kind == "mean" else sq.sum(dim=1)


def ff_loss(g: torch.Tensor, sign: torch.Tensor, threshold: float) -> torch.Tensor:
    """softplus(-y (G - theta)), y = +1 for positives and -1 for negatives; batch mean."""
    return F.softplus(-sign * (g - threshold)).mean()


class FFLayer(nn.Module):
    def __init__(self, d_in: int, d_out: int, eps: float):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Only the direction of the layer below reaches this layer, not its goodness.
        return F.relu(self.linear(x / (x.norm(dim=1, keepdim=True) + self.eps)))


class _SharedImageLinear(torch.autograd.Function):
    """Layer 1's pre-activation for K labellings of the same B images, the image part done once.

    Row k*B + i is W @ (img[i] + lab[k*B + i]) + b, where img holds the images with their label
    pixels zeroed and lab the label pixels alone (both already divided by the input norm): the
    (B, D) matmul runs once, not K times, in the forward and in the weight gradient.
    """

    generate_vmap_rule = True  # seeds in lockstep (ffmodels.lockstep) run it under torch.vmap

    @staticmethod
    def forward(img, lab, weight, bias):
        n = lab.shape[1]
        k = lab.shape[0] // img.shape[0]
        return torch.addmm(torch.addmm(bias, img, weight.t()).repeat(k, 1), lab, weight[:, :n].t())

    @staticmethod
    def setup_context(ctx, inputs, output):
        img, lab, _, _ = inputs
        ctx.save_for_backward(img, lab)

    @staticmethod
    def backward(ctx, grad):
        img, lab = ctx.saved_tensors
        n = lab.shape[1]
        grad_weight = grad.view(-1, len(img), grad.shape[1]).sum(0).t() @ img  # summed over labellings
        grad_weight[:, :n] += (lab.t() @ grad).t()  # 4x faster than an addmm_ into the strided slice
        return None, None, grad_weight, grad.sum(0)


@register
class FFNet(PretrainModel):
    family = "ff"
    HParams = FFHParams
    ARCH_KEYS = ("hidden", "norm_eps")
    uses_label_input = True
    lockstep = True

    def __init__(self, hp: FFHParams, in_dim: int, n_classes: int):
        super().__init__(hp, in_dim, n_classes)
        dims = [in_dim, *hp.hidden]
        self.layers = nn.ModuleList(FFLayer(a, b, hp.norm_eps) for a, b in zip(dims[:-1], dims[1:]))
        self.optimizer = adam(self.parameters(), lr=hp.lr)

    def embed(self, x, labels):
        return embed_label(x, labels, self.n_classes)

    def core_forward(self) -> bool:
        """Whether embed and activations are the core's own (embed_label, then FFLayer after
        FFLayer): the condition of labelled_activations' shared-image fast path. A subclass
        whose activations reduce to the core's in some settings says so by overriding this."""
        return type(self).activations is FFNet.activations and self.core_embed_and_layers()

    def core_embed_and_layers(self) -> bool:
        return type(self).embed is FFNet.embed and type(self.layers[0]).forward is FFLayer.forward

    def activations(self, x: torch.Tensor, detach: bool = True) -> list[torch.Tensor]:
        """Hidden activities; with detach, no gradient crosses from one layer to the one below."""
        hs, h = [], x
        for layer in self.layers:
            h = layer(h.detach() if detach else h)
            hs.append(h)
        return hs

    def layer_losses(self, hs: list[torch.Tensor], sign: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer FF losses; a variant that changes the objective overrides this."""
        return [ff_loss(goodness(h, self.hp.goodness), sign, self.hp.threshold) for h in hs]

    def labelled_activations(self, x: torch.Tensor, labels: list[torch.Tensor]) -> list[torch.Tensor]:
        """self.activations(torch.cat([self.embed(x, y) for y in labels])): the same images, each
        embedded with several labels. The embedded rows of an image differ only in the label
        pixels, and their norm is the same for every label, so layer 1 computes the image part
        once for all labellings (_SharedImageLinear); equal to the plain computation up to float
        rounding. Taken only where core_forward() holds; otherwise (e.g. a subclass that
        overrides activations) this is the plain computation."""
        first = self.layers[0]
        if not self.core_forward():
            return self.activations(torch.cat([self.embed(x, y) for y in labels]))
        n = self.n_classes
        peak = x.amax(dim=1)  # the label pixel's value (embed_label)
        img = x.clone()
        img[:, :n] = 0.0
        scale = 1.0 / ((img.pow(2).sum(dim=1) + peak.pow(2)).sqrt() + first.eps)  # 1 / (||embed(x, y)|| + eps)
        lab = x.new_zeros(len(labels) * len(x), n)  # out-of-place scatter: x may carry a vmapped seed dimension
        lab = lab.scatter(1, torch.cat(labels)[:, None], (peak * scale).repeat(len(labels))[:, None])
        h = F.relu(_SharedImageLinear.apply(img * scale[:, None], lab, first.linear.weight, first.linear.bias))
        hs = [h]
        for layer in self.layers[1:]:
            h = layer(h.detach())
            hs.append(h)
        return hs

    def positive_negative_activations(self, x, y, x_neg, y_neg) -> list[torch.Tensor]:
        """Activities of the embedded positives, then the negatives, as one batch. Negatives that
        are the same images with other labels (random_wrong_label, hard) go through
        labelled_activations, which shares layer 1's image part between the two."""
        if x_neg is x:
            return self.labelled_activations(x, [y, y_neg])
        return self.activations(torch.cat([self.embed(x, y), self.embed(x_neg, y_neg)]))

    def negatives(self, x, y, gen, scorer=None):
        return make_negatives(self if scorer is None else scorer, x, y, self.hp, gen)

    def batch_loss(self, x, y, negatives):
        x_neg, y_neg = negatives
        hs = self.positive_negative_activations(x, y, x_neg, y_neg)
        # Summing layer losses over detached inputs gives each layer exactly its own gradient:
        # the same update as separate per-layer optimisers (Adam is per parameter).
        loss = torch.stack(self.layer_losses(hs, self.signs(x, x_neg))).sum()
        return loss, loss.new_zeros(())

    @staticmethod
    def signs(x, x_neg) -> torch.Tensor:
        """+1 for each positive, -1 for each negative, in the order of positive_negative_activations."""
        return torch.cat([torch.ones(len(x), device=x.device), -torch.ones(len(x_neg), device=x.device)])

    @torch.no_grad()
    def label_goodness(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_classes): goodness summed over layers with each label embedded; one pass, the
        image part of layer 1 computed once for all labels (labelled_activations)."""
        b = x.shape[0]
        labels = [torch.full((b,), k, dtype=torch.long, device=x.device) for k in range(self.n_classes)]
        total = sum(goodness(h, self.hp.goodness) for h in self.labelled_activations(x, labels))
        return total.view(self.n_classes, b).t()  # rows of labelled_activations: label-major

    @torch.no_grad()
    def predict(self, x):
        return self.label_goodness(x).argmax(dim=1)
