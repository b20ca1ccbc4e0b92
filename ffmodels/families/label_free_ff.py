"""Label-free FF: what the slides describe as the label-decoupled fix (PROTOCOL section 7).

The FF core of section 3 (MLP, per-layer input normalisation, goodness, softplus loss, Adam,
layer-local updates) with no label anywhere: the input is the whole image (no label slot),
positives are real images and negatives are Hinton's hybrid images (2022, section 3.2; the
`hybrid_image` strategy of ffmodels.negatives): two images mixed through a blurred random mask,
so the network learns to tell real images from corrupted ones. It has no classifier: its source
accuracy is that of the common linear probe on its frozen features (ffmodels.train).

Its untrained network is the FF MLP seeing the full image, not FF's input with a label slot, so
it has its own random-init baseline (random_init_label_free_ff), not FF's.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import torch

from ffmodels.families import register
from ffmodels.families.ff import FFNet
from ffmodels.hparams import Checked, Domain, LayerSizes, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from ffmodels.negatives import LABEL_FREE_STRATEGIES


@dataclasses.dataclass(frozen=True)
class LabelFreeFFHParams(Checked):
    hidden: LayerSizes
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat
    goodness: Literal["mean", "sum"]
    threshold: NonNegativeFloat
    norm_eps: PositiveFloat
    negatives: Literal[LABEL_FREE_STRATEGIES]  # strategies whose images never depend on labels
    blur_passes: NonNegativeInt  # hybrid_image: blur passes ([1/4, 1/2, 1/4], each direction)
    # hybrid_image: the blurred bit image is thresholded here; at 0 or 1 the mask is constant
    mask_threshold: Annotated[float, Domain(0, 1, low_open=True, high_open=True)]


@register
class LabelFreeFFNet(FFNet):
    """FFNet's layers, loss and optimiser; identity embedding; labels never read in training."""

    family = "label_free_ff"
    HParams = LabelFreeFFHParams
    ARCH_KEYS = ("hidden", "norm_eps")
    uses_label_input = False
    has_classifier = False
    baseline_family = None  # its own random init: the MLP sees the whole image, no label slot

    def embed(self, x, labels):
        return x

    # The labels are never read: a constant stands in for them, so the negatives and the update
    # cannot depend on them (FFNet's step with the identity embedding: positives x, negatives
    # the strategy's images, the same per-layer FF losses and Adam step).
    def negatives(self, x, y, gen, scorer=None):
        return super().negatives(x, torch.zeros_like(y), gen, scorer)

    def batch_loss(self, x, y, negatives):
        return super().batch_loss(x, torch.zeros_like(y), negatives)

    def label_goodness(self, x):
        raise NotImplementedError("label_free_ff has no label input; its source accuracy is the linear probe's")

    def predict(self, x):
        raise NotImplementedError("label_free_ff has no classifier; its source accuracy is the linear probe's")
