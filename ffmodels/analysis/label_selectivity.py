"""label_selectivity and label_dependency: how much of each unit's activity the embedded label
explains. Every image of a fixed source test subset is shown with each of the 10 labels, giving
h[i, c, j] (image i, label c, unit j); per unit,

    var_label = mean_i Var_c h[i, c, j]    (image fixed, label varied)
    var_image = mean_c Var_i h[i, c, j]    (label fixed, image varied)
    label share = var_label / (var_label + var_image)

"Label neurons" are the top decile of units by label share (the slides: their activation
variance is about 10x the rest's); label dependency is, per layer, the between-label variance
of the features over their total variance (the crossed image x label design).
"""

from __future__ import annotations

import torch

from ffmodels.analysis import LabelInputMetric, fixed_subset, metric


@torch.no_grad()
def label_crossed_activity(model, x: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """Per layer, activity (images, 10 labels, units) with every label embedded in every image."""
    n, k = len(x), model.n_classes
    out = None
    step = max(1, batch_size // k)
    for i in range(0, n, step):
        xb = x[i:i + step]
        labels = torch.arange(k, device=x.device).repeat(len(xb))
        hs = model.layer_features(model.embed(xb.repeat_interleave(k, dim=0), labels))
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
    return {"var_label": var_label, "var_image": var_image, "share": share, "total": total}


def variance_ratio(share: torch.Tensor, total: torch.Tensor, top_fraction: float) -> float:
    """Mean activation variance of the top `top_fraction` of units by label share over the rest's."""
    k = max(1, int(round(top_fraction * len(share))))
    order = torch.argsort(share, descending=True, stable=True)
    top, rest = total[order[:k]].mean(), total[order[k:]].mean()
    return float(top / rest) if rest > 0 else float("inf")


def between_label_fraction(h: torch.Tensor) -> float:
    """Sum over units of Var_c(mean_i h) over the sum of the total variance."""
    between = h.mean(dim=0).var(dim=0, unbiased=False).sum()
    total = h.reshape(-1, h.shape[-1]).var(dim=0, unbiased=False).sum()
    return float(between / total) if total > 0 else 0.0


def _crossed(ctx, epoch):
    x, _ = fixed_subset(ctx.source, "test", ctx.cfg["subset"])
    return label_crossed_activity(ctx.model_at(epoch), x, ctx.batch_size)


@metric("label_selectivity")
class LabelSelectivity(LabelInputMetric):
    @staticmethod
    def compute(ctx) -> dict:
        top = ctx.cfg["label_neuron_fraction"]
        curves = {"variance_ratio": []}
        for epoch in ctx.epochs:
            stats = [label_share(h) for h in _crossed(ctx, epoch)]
            share, total = torch.cat([s["share"] for s in stats]), torch.cat([s["total"] for s in stats])
            curves["variance_ratio"].append(variance_ratio(share, total, top))
        final = {"variance_ratio": curves["variance_ratio"][-1]}
        for i, s in enumerate(stats, 1):
            final[f"variance_ratio_l{i}"] = variance_ratio(s["share"], s["total"], top)
            final[f"mean_label_share_l{i}"] = float(s["share"].mean())
        # First-layer weights of the most and least label-selective layer-1 units, as pictures.
        n_pic = ctx.cfg["weight_pictures"]
        order = torch.argsort(stats[0]["share"], descending=True, stable=True)
        # Least selective among the units that respond at all (a dead unit's share is 0 by convention).
        alive = stats[0]["total"] > 0
        least = torch.argsort(torch.where(alive, stats[0]["share"], torch.inf), stable=True)
        w = ctx.model_at(ctx.epochs[-1]).layers[0].linear.weight.detach().cpu()
        return {
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
    @staticmethod
    def compute(ctx) -> dict:
        curves: dict[str, list[float]] = {}
        for epoch in ctx.epochs:
            for i, h in enumerate(_crossed(ctx, epoch), 1):
                curves.setdefault(f"label_dependency_l{i}", []).append(between_label_fraction(h))
        return {"curves": curves, "final": {k: v[-1] for k, v in curves.items()}}
