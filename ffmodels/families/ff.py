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
from ffmodels.negatives import LABEL_FREE_STRATEGIES, STRATEGIES, make_negatives, wrong_labels_once

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
    # Upstream's recipes (docs/protocol.md section 11; config.yaml names the upstream lines).
    # Each has a value under which it changes nothing (CORE_RECIPE_OFF): the protocol's.
    input_mean: float  # inputs (x - mean) / std before layer 1, label pixels included
    input_std: PositiveFloat
    label_value: Literal["image_max", "input_max"]  # the label pixel: the image's max | a white pixel's value
    input_l2: bool  # each layer's input divided by its L2 norm (+ norm_eps)
    layer_norm: bool  # LayerNorm (learnable affine) after each layer's ReLU
    predict_from: Literal["all_layers", "last_layer"]  # whose goodness (summed) picks the label
    negatives_drawn: Literal["per_batch", "once"]  # once: one negative per training image for the whole run
    schedule: Literal["together", "greedy"]  # greedy: layer l trains alone in the l-th equal block of epochs

    def __post_init__(self):
        super().__post_init__()
        if "hybrid" in self.hybrid_components or not self.hybrid_components:
            raise ValueError("hybrid_components: must be a non-empty list of other strategies")
        if self.negatives_drawn == "once" and self.negatives != "random_wrong_label":
            raise ValueError(
                f"negatives_drawn: 'once' is implemented for negatives random_wrong_label only, not {self.negatives!r}"
            )
        if self.schedule == "greedy" and self.epochs % len(self.hidden) != 0:
            raise ValueError(
                f"schedule: 'greedy' gives each of the {len(self.hidden)} layers epochs / layers epochs; "
                f"epochs {self.epochs} is not a multiple of {len(self.hidden)}"
            )
        changed = {k: getattr(self, k) for k, off in CORE_RECIPE_OFF.items() if getattr(self, k) != off}
        if changed and type(self) is not FFHParams:
            raise ValueError(
                f"{next(iter(changed))}: {next(iter(changed.values()))!r} is implemented for family ff only "
                f"(this family changes the FF core's forward pass or step); allowed here: {CORE_RECIPE_OFF}"
            )


# The value of each upstream-recipe key under which the FF core is the protocol's: what a family
# without the keys (label_free_ff) runs with, and the only values the families extending ff allow.
CORE_RECIPE_OFF = {
    "input_mean": 0.0,
    "input_std": 1.0,
    "label_value": "image_max",
    "input_l2": True,
    "layer_norm": False,
    "predict_from": "all_layers",
    "negatives_drawn": "per_batch",
    "schedule": "together",
}


def core_recipe(hp) -> dict:
    """The upstream-recipe keys of hp; the protocol's values for a family that lacks them."""
    return {k: getattr(hp, k, off) for k, off in CORE_RECIPE_OFF.items()}


def embed_label(
    x: torch.Tensor, labels: torch.Tensor, n_classes: int = 10, off: float = 0.0, peak: float | None = None
) -> torch.Tensor:
    """Overwrite the first n_classes pixels with a one-hot label: `off` everywhere, the label's
    pixel at `peak` (None: the image's maximum). An FF net z-scoring its input passes off = its
    input mean and peak = 1.0 (a white pixel), which it then maps to 0 and the z-scored tensor's
    maximum: upstream's overlay on z-scored images (config.yaml families.ff.label_value)."""
    peak = x.amax(dim=1) if peak is None else peak
    out = x.clone()
    out[:, :n_classes] = off
    out[torch.arange(x.shape[0], device=x.device), labels] = peak
    return out


def goodness(h: torch.Tensor, kind: str) -> torch.Tensor:
    sq = h.pow(2)
    return sq.mean(dim=1) if kind == "mean" else sq.sum(dim=1)


def ff_loss(g: torch.Tensor, sign: torch.Tensor, threshold: float) -> torch.Tensor:
    """softplus(-y (G - theta)), y = +1 for positives and -1 for negatives; batch mean."""
    return F.softplus(-sign * (g - threshold)).mean()


class FFLayer(nn.Module):
    def __init__(self, d_in: int, d_out: int, eps: float, input_l2: bool = True, layer_norm: bool = False):
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.eps = eps
        self.input_l2 = input_l2
        # nn.LayerNorm's learnable affine, as upstream's R1: without it mean(LN(h)^2) is 1 for
        # every input and the goodness carries nothing. Absent by default (no state_dict entry).
        self.norm = nn.LayerNorm(d_out) if layer_norm else None

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        # Only the direction of the layer below reaches this layer, not its goodness.
        return x / (x.norm(dim=1, keepdim=True) + self.eps) if self.input_l2 else x

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        h = F.relu(pre)
        return h if self.norm is None else self.norm(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.linear(self.scaled(x)))


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
    # What shapes the untrained network's features (its random-init baseline); the recipe keys
    # beyond norm_eps are at the protocol's values in every protocol variant, so its random init
    # keeps its name (ffmodels.variants.random_init_of).
    ARCH_KEYS = ("hidden", "norm_eps", "input_mean", "input_std", "label_value", "input_l2", "layer_norm")
    uses_label_input = True
    lockstep = True

    def __init__(self, hp: FFHParams, in_dim: int, n_classes: int):
        super().__init__(hp, in_dim, n_classes)
        self.recipe = core_recipe(hp)
        dims = [in_dim, *hp.hidden]
        self.layers = nn.ModuleList(
            FFLayer(a, b, hp.norm_eps, self.recipe["input_l2"], self.recipe["layer_norm"])
            for a, b in zip(dims[:-1], dims[1:])
        )
        self.optimizer = adam(self.parameters(), lr=hp.lr)
        self.training_layers = range(len(self.layers))  # every layer, unless schedule greedy
        if self.recipe["negatives_drawn"] == "once":
            # Drawn after the layers from the seeded global generator: the same key for a seed,
            # and the layers' init is the protocol's. A buffer, so checkpoints carry it.
            self.register_buffer("negative_key", torch.randint(0, 2**31 - 1, (in_dim,), dtype=torch.int64))

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """The input as layer 1 sees it: z-scored by input_mean / input_std (R1, R2), else as given."""
        mean, std = self.recipe["input_mean"], self.recipe["input_std"]
        return x if (mean, std) == (0.0, 1.0) else (x - mean) / std

    def embed(self, x, labels):
        # The label pixels are written in [0, 1] units so that, after normalise, they are 0 and the
        # label value: the image's maximum, or a white pixel's value (the z-scored data's maximum).
        peak = None if self.recipe["label_value"] == "image_max" else 1.0
        return embed_label(x, labels, self.n_classes, off=self.recipe["input_mean"], peak=peak)

    def label_peak(self, xn: torch.Tensor) -> torch.Tensor:
        """The label pixel's value after normalise (what embed writes there), per image of xn."""
        if self.recipe["label_value"] == "image_max":
            return xn.amax(dim=1)
        return xn.new_full((len(xn),), (1.0 - self.recipe["input_mean"]) / self.recipe["input_std"])

    def on_epoch_start(self, epoch: int) -> None:
        """schedule greedy: layer l (0-based) trains in epochs l*k+1 .. (l+1)*k, k = epochs / layers."""
        if self.recipe["schedule"] == "greedy":
            per_layer = self.hp.epochs // len(self.layers)
            self.training_layers = range((epoch - 1) // per_layer, (epoch - 1) // per_layer + 1)

    def core_forward(self) -> bool:
        """Whether embed and activations are the core's own (embed_label, then FFLayer after
        FFLayer): the condition of labelled_activations' shared-image fast path. A subclass
        whose activations reduce to the core's in some settings says so by overriding this."""
        return type(self).activations is FFNet.activations and self.core_embed_and_layers()

    def core_embed_and_layers(self) -> bool:
        return type(self).embed is FFNet.embed and type(self.layers[0]).forward is FFLayer.forward

    def activations(self, x: torch.Tensor, detach: bool = True) -> list[torch.Tensor]:
        """Hidden activities; with detach, no gradient crosses from one layer to the one below."""
        hs, h = [], self.normalise(x)
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
        xn = self.normalise(x)
        peak = self.label_peak(xn)  # the label pixel's value (embed, then normalise)
        img = xn.clone()
        img[:, :n] = 0.0
        if first.input_l2:
            scale = 1.0 / ((img.pow(2).sum(dim=1) + peak.pow(2)).sqrt() + first.eps)  # 1 / (||embed(x, y)|| + eps)
        else:
            scale = torch.ones_like(peak)
        lab = x.new_zeros(len(labels) * len(x), n)  # out-of-place scatter: x may carry a vmapped seed dimension
        lab = lab.scatter(1, torch.cat(labels)[:, None], (peak * scale).repeat(len(labels))[:, None])
        h = first.activate(_SharedImageLinear.apply(img * scale[:, None], lab, first.linear.weight, first.linear.bias))
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
        if self.recipe["negatives_drawn"] == "once":
            return x, wrong_labels_once(x, y, self.negative_key)
        return make_negatives(self if scorer is None else scorer, x, y, self.hp, gen)

    def batch_loss(self, x, y, negatives):
        x_neg, y_neg = negatives
        hs = self.positive_negative_activations(x, y, x_neg, y_neg)
        # Summing layer losses over detached inputs gives each layer exactly its own gradient:
        # the same update as separate per-layer optimisers (Adam is per parameter). A layer
        # outside training_layers (schedule greedy) gets no gradient, so Adam leaves it alone.
        losses = self.layer_losses(hs, self.signs(x, x_neg))
        loss = torch.stack([losses[i] for i in self.training_layers]).sum()
        return loss, loss.new_zeros(())

    @staticmethod
    def signs(x, x_neg) -> torch.Tensor:
        """+1 for each positive, -1 for each negative, in the order of positive_negative_activations."""
        return torch.cat([torch.ones(len(x), device=x.device), -torch.ones(len(x_neg), device=x.device)])

    @torch.no_grad()
    def label_goodness(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_classes): goodness summed over layers (predict_from last_layer: the last layer's)
        with each label embedded; one pass, the image part of layer 1 computed once for all
        labels (labelled_activations)."""
        b = x.shape[0]
        labels = [torch.full((b,), k, dtype=torch.long, device=x.device) for k in range(self.n_classes)]
        hs = self.labelled_activations(x, labels)
        if self.recipe["predict_from"] == "last_layer":
            hs = hs[-1:]
        total = sum(goodness(h, self.hp.goodness) for h in hs)
        return total.view(self.n_classes, b).t()  # rows of labelled_activations: label-major

    @torch.no_grad()
    def predict(self, x):
        return self.label_goodness(x).argmax(dim=1)
