"""gradient_share: the share of layer 1's squared training gradient that falls on the 10 label
input columns, divided by 10/784 (its share if the gradient were spread evenly over the inputs).
Over a fixed batch: the first `gradient_batch` source training images as positives and the
variant's own negatives drawn with a fixed generator, at every checkpoint. Above 1: the label
dimensions take more than their share of the learning signal.

The gradient is the one the variant's own train_step computes (its loss, negatives and any
modulation), taken from a throw-away copy of the checkpoint, so any FF family is measured by
its own objective without this module knowing it.

The slides do not say which gradient "dominates", so four readings of the same step:
`gradient_share`, of the batch gradient, in which a positive and its negative of the same image
partly cancel; `gradient_share_per_sample`, of the per-sample gradients, each row of layer 1's
input one sample, what each sample pushes before they cancel (hooks on layer 1's linear module
capture its input x_i and output gradient delta_i; the per-sample squared gradient of column j
is ||delta_i||^2 x_ij^2); and both `_input_cols`, with the even share counted over the input
columns that carry any non-zero value in the batch (MNIST's always-black border pixels can
take no gradient, so 10/784 understates the label columns' fair share).
"""

from __future__ import annotations

import torch

from ffmodels.analysis import LabelInputMetric, fixed_subset, metric
from ffmodels.names import N_LABEL_PIXELS

READINGS = (
    "gradient_share",
    "gradient_share_per_sample",
    "gradient_share_input_cols",
    "gradient_share_per_sample_input_cols",
)
# The captured per-sample gradients must add up to the batch gradient (to float rounding);
# if they do not, something reached layer 1's weight past its module and the per-sample
# readings are nan rather than wrong.
RECONSTRUCTION_RTOL = 1e-3


class FirstLayerCapture:
    """Input and output gradient of every forward call of `linear` whose output needs a gradient:
    the forward hook registers a tensor hook on that output, so each call is paired with its own
    backward, and the no-grad calls some negative strategies make to pick negatives are skipped."""

    def __init__(self, linear: torch.nn.Module):
        self.calls: list[dict] = []
        self.handle = linear.register_forward_hook(self._forward)

    def _forward(self, module, inputs, output):
        if not output.requires_grad:
            return
        call = {"x": inputs[0].detach(), "delta": None}
        self.calls.append(call)

        def keep(grad):
            call["delta"] = grad.detach()

        output.register_hook(keep)

    def remove(self):
        self.handle.remove()

    def rows(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(x, delta) per call that got a gradient, each as (samples, features) in float64."""
        out = []
        for c in self.calls:
            if c["delta"] is not None:
                x, d = c["x"], c["delta"]
                out.append((x.reshape(-1, x.shape[-1]).double(), d.reshape(-1, d.shape[-1]).double()))
        return out


def label_column_share(sq: torch.Tensor, n_even: int) -> float:
    """The label columns' share of the per-column squared gradient `sq`, over the even share
    10 / n_even; 0.0 for no gradient, nan for a non-finite one or no column to share it."""
    total = sq.sum()
    if not torch.isfinite(total):
        return float("nan")
    if total == 0:
        return 0.0
    if n_even == 0:
        return float("nan")
    return float(sq[:N_LABEL_PIXELS].sum() / total) / (N_LABEL_PIXELS / n_even)


def without_fused_paths(model) -> None:
    """Turn off a model's fused computation of layer 1 (the FF core's shared-image fast path,
    which uses the weight without calling the module, so the hooks would see nothing). The
    plain path is the same computation up to float rounding; only a throw-away copy is changed."""
    if callable(getattr(model, "core_forward", None)):
        model.core_forward = lambda: False


def first_layer_gradient_shares(model, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> dict[str, float]:
    """The four readings (READINGS) of layer 1's label-column gradient share after one training
    step on (x, y), all from the same train_step call. Steps `model`: pass a copy."""
    without_fused_paths(model)
    capture = FirstLayerCapture(model.layers[0].linear)
    try:
        model.train_step(x, y, gen)
    finally:
        capture.remove()
    grad = model.layers[0].linear.weight.grad
    batch_sq = grad.pow(2).sum(dim=0)  # per input column
    rows = capture.rows()
    per_sample_sq = torch.zeros_like(batch_sq, dtype=torch.float64)
    rebuilt = torch.zeros_like(grad, dtype=torch.float64)
    carrying = torch.zeros(grad.shape[1], dtype=torch.bool, device=grad.device)
    for xi, di in rows:
        per_sample_sq += di.pow(2).sum(dim=1) @ xi.pow(2)  # sum_i ||delta_i||^2 x_ij^2
        rebuilt += di.t() @ xi
        carrying |= (xi != 0).any(dim=0)
    n_all, n_carrying = grad.shape[1], int(carrying.sum())
    err = (rebuilt - grad.double()).norm()
    if not (err <= RECONSTRUCTION_RTOL * grad.double().norm()):  # the capture missed part of the gradient
        per_sample_sq, n_carrying = torch.full_like(per_sample_sq, float("nan")), 0
    return {
        "gradient_share": label_column_share(batch_sq, n_all),
        "gradient_share_per_sample": label_column_share(per_sample_sq, n_all),
        "gradient_share_input_cols": label_column_share(batch_sq, n_carrying),
        "gradient_share_per_sample_input_cols": label_column_share(per_sample_sq, n_carrying),
    }


def first_layer_label_share(model, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> float:
    """The normalised label-column share of the squared gradient of layer 1's weights after one
    training step on (x, y). Steps `model`: pass a copy."""
    return first_layer_gradient_shares(model, x, y, gen)["gradient_share"]


@metric("gradient_share")
class GradientShare(LabelInputMetric):
    analysis_keys = ("gradient_batch",)

    @staticmethod
    def compute(ctx) -> dict:
        x, y = fixed_subset(ctx.source, "train", ctx.cfg["gradient_batch"])
        curves: dict[str, list[float]] = {name: [] for name in READINGS}
        for epoch in ctx.epochs:
            model = ctx.model_at(epoch)  # a fresh model per call: stepping it changes no checkpoint
            gen = torch.Generator(device=x.device).manual_seed(ctx.seed)
            for name, value in first_layer_gradient_shares(model, x, y, gen).items():
                curves[name].append(value)
        return {"curves": curves, "final": {name: values[-1] for name, values in curves.items()}}
