"""label_selectivity and label_dependency: how much of each unit's activity the embedded label
explains. Every image of a fixed source test subset is shown with each of the 10 labels, giving
h[i, c, j] (image i, label c, unit j); per unit,

    var_label = mean_i Var_c h[i, c, j]    (image fixed, label varied)
    var_image = mean_c Var_i h[i, c, j]    (label fixed, image varied)
    label share = var_label / (var_label + var_image)

"Label neurons" are the top decile of units by label share (the slides: their activation
variance is about 10x the rest's); label dependency is, per layer, the between-label variance
of the features over their total variance (the crossed image x label design).

The slides do not say how "10x" was read, so three readings, pooled over layers and per layer:
`variance_ratio`, the mean variance of the label neurons over the mean of the rest;
`variance_ratio_responsive`, the same with the units that never fire on the crossed subset
(never above analysis.dead_threshold) left out of the rest, since their zero variance inflates
the ratio without saying anything about label neurons; `variance_ratio_median`, medians of the
two groups instead of means, since a few high-variance units can carry a mean ratio alone.
`label_dependency` also pooled over every unit of every layer (networks of different depth
compare on it).

Both also read a model without a label input (`reads_label_blind`, for the root-cause
hypothesis test): the same one-hot (ffmodels.families.ff.embed_label) is written into the same
10 pixels, which that model saw as ordinary image pixels (black on MNIST's top row); what its
units then vary with is the label-blind floor of these metrics.
"""

from __future__ import annotations

import torch

from ffmodels.analysis import LabelInputMetric, fixed_subset, metric
from ffmodels.families.ff import embed_label


@torch.no_grad()
def label_crossed_activity(model, x: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Per layer, activity (images, 10 labels, units) with every label embedded in every image (a
    model without a label input: the one-hot written into the same pixels, module doc)."""
    n, k = len(x), model.n_classes
    embed = model.embed if model.uses_label_input else (lambda xb, labels: embed_label(xb, labels, k))
    out = None
    step = max(1, batch_size // k)
    for i in range(0, n, step):
        xb = x[i : i + step]
        labels = torch.arange(k, device=x.device).repeat(len(xb))
        hs = model.layer_features(embed(xb.repeat_interleave(k, dim=0), labels))
        hs = [h.view(len(xb), k, -1) for h in hs]
        out = hs if out is None else [torch.cat([o, h]) for o, h in zip(out, hs)]
    return out


def label_share(h: torch.Tensor) -> dict[str, torch.Tensor]:
    """h: (images, labels, units) -> per-unit var_label, var_image, share and total variance."""
    var_label = h.var(dim=1, unbiased=False).mean(dim=0)
    var_image = h.var(dim=0, unbiased=False).mean(dim=0)
    denom = var_label + var_image
    share = torch.where(denom > 0, var_label / denom.clamp_min(1e-30), torch.zeros_like(denom))
    total = h.reshape(-1, h.shape[-1]).var(dim=0, unbiased=False)
    peak = h.reshape(-1, h.shape[-1]).amax(dim=0)  # a unit never above dead_threshold never responds
    return {"var_label": var_label, "var_image": var_image, "share": share, "total": total, "peak": peak}


def median(t: torch.Tensor) -> torch.Tensor:
    """The median, the mean of the two middle values for an even count (torch.median takes the lower)."""
    return torch.quantile(t.double(), 0.5) if len(t) else t.new_tensor(float("nan"))


def variance_ratio(
    share: torch.Tensor,
    total: torch.Tensor,
    top_fraction: float,
    responsive: torch.Tensor | None = None,
    reduce: str = "mean",
) -> float:
    """Activation variance of the top `top_fraction` of units by label share (taken over all
    units) over the rest's, each group reduced by its mean or median; with `responsive` (a mask),
    the non-responsive units are left out of the rest."""
    k = max(1, int(round(top_fraction * len(share))))
    order = torch.argsort(share, descending=True, stable=True)
    others = order[k:]
    if responsive is not None:
        others = others[responsive[others]]
    agg = (lambda t: t.mean()) if reduce == "mean" else median
    top, rest = agg(total[order[:k]]), agg(total[others])
    return float(top / rest) if rest > 0 else float("inf")


def variance_ratios(stats: list[dict], top_fraction: float, threshold: float, suffix: str = "") -> dict[str, float]:
    """The three readings of the label neurons' variance ratio over the units of `stats`' layers, pooled."""
    share, total = torch.cat([s["share"] for s in stats]), torch.cat([s["total"] for s in stats])
    responsive = torch.cat([s["peak"] > threshold for s in stats])
    return {
        f"variance_ratio{suffix}": variance_ratio(share, total, top_fraction),
        f"variance_ratio_responsive{suffix}": variance_ratio(share, total, top_fraction, responsive),
        f"variance_ratio_median{suffix}": variance_ratio(share, total, top_fraction, reduce="median"),
    }


def between_label_fraction(*hs: torch.Tensor) -> float:
    """Sum over units (of every layer given) of Var_c(mean_i h) over the sum of the total variance."""
    between = sum(h.mean(dim=0).var(dim=0, unbiased=False).sum() for h in hs)
    total = sum(h.reshape(-1, h.shape[-1]).var(dim=0, unbiased=False).sum() for h in hs)
    return float(between / total) if total > 0 else 0.0


def first_layer_weight(model) -> torch.Tensor | None:
    """Layer 1's weights, a row per unit over the input pixels (an FF layer's `linear`, or a
    plain Linear layer); None for a network whose first layer is not fully connected."""
    layer = model.layers[0] if hasattr(model, "layers") else None
    layer = getattr(layer, "linear", layer)
    return layer.weight.detach().cpu() if isinstance(layer, torch.nn.Linear) else None


def read_epochs(ctx) -> list[int]:
    """The checkpoints a label metric reads: all of them for a label-input model; for the
    label-blind floor only the last (the hypothesis test reads the end of training; a CNN's pass
    over every image with every label costs about half a minute per checkpoint)."""
    return ctx.epochs if ctx.model_at(ctx.epochs[-1]).uses_label_input else ctx.epochs[-1:]


def _crossed(ctx, epoch):
    x, _ = fixed_subset(ctx.source, "test", ctx.cfg["subset"])
    return label_crossed_activity(ctx.model_at(epoch), x, ctx.batch_size)


@metric("label_selectivity")
class LabelSelectivity(LabelInputMetric):
    reads_label_blind = True
    analysis_keys = ("subset", "label_neuron_fraction", "dead_threshold", "weight_pictures")

    @staticmethod
    def compute(ctx) -> dict:
        top, threshold = ctx.cfg["label_neuron_fraction"], ctx.cfg["dead_threshold"]
        curves: dict[str, list[float]] = {}
        epochs = read_epochs(ctx)
        for epoch in epochs:
            stats = [label_share(h) for h in _crossed(ctx, epoch)]
            for name, value in variance_ratios(stats, top, threshold).items():
                curves.setdefault(name, []).append(value)
        final = {name: values[-1] for name, values in curves.items()}
        for i, s in enumerate(stats, 1):
            final.update(variance_ratios([s], top, threshold, suffix=f"_l{i}"))
            final[f"mean_label_share_l{i}"] = float(s["share"].mean())
        # First-layer weights of the most and least label-selective layer-1 units, as pictures.
        n_pic = ctx.cfg["weight_pictures"]
        order = torch.argsort(stats[0]["share"], descending=True, stable=True)
        # Least selective among the units that respond at all (a dead unit's share is 0 by convention).
        alive = stats[0]["total"] > 0
        least = torch.argsort(torch.where(alive, stats[0]["share"], torch.inf), stable=True)
        w = first_layer_weight(ctx.model_at(epochs[-1]))
        if w is None:  # a convolutional first layer has no picture per unit
            order = least = order[:0]
            w = torch.zeros(0, 0)
        return {
            "epochs": epochs,
            "curves": curves,
            "final": final,
            "label_share": [s["share"].cpu().tolist() for s in stats],  # the distribution, per layer
            "weights_most_selective": w[order[:n_pic]].tolist(),
            "weights_least_selective": w[least[:n_pic]].tolist(),
            "share_most_selective": stats[0]["share"][order[:n_pic]].tolist(),
            "share_least_selective": stats[0]["share"][least[:n_pic]].tolist(),
        }


@metric("label_dependency")
class LabelDependency(LabelInputMetric):
    reads_label_blind = True
    analysis_keys = ("subset",)

    @staticmethod
    def compute(ctx) -> dict:
        curves: dict[str, list[float]] = {}
        epochs = read_epochs(ctx)
        for epoch in epochs:
            hs = _crossed(ctx, epoch)
            for i, h in enumerate(hs, 1):
                curves.setdefault(f"label_dependency_l{i}", []).append(between_label_fraction(h))
            curves.setdefault("label_dependency", []).append(between_label_fraction(*hs))
        return {"epochs": epochs, "curves": curves, "final": {k: v[-1] for k, v in curves.items()}}
