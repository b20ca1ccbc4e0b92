"""Plots of an analysis's per-seed JSON (ffmodels.analysis.label_selectivity): the distribution
of label share per unit, and first-layer weights as 28x28 pictures."""

from __future__ import annotations

import math

import numpy as np

from ffmodels.figures import plot
from ffmodels.lazy import lazy_import
from ffmodels.names import N_LABEL_PIXELS

plt = lazy_import("matplotlib.pyplot")
patches = lazy_import("matplotlib.patches")


@plot("label_share")
def label_share(inputs: dict, title: str, preset: str, spec: dict):
    """Histogram of each unit's label share, per layer, pooled over seeds, one colour per variant."""
    runs = inputs["analysis"]
    n_layers = max(len(r["label_share"]) for r in runs)
    fig, axes = plt.subplots(1, n_layers, figsize=(4.2 * n_layers, 3.4), squeeze=False, layout="constrained")
    bins = np.linspace(0, 1, 41)
    for i, variant in enumerate(dict.fromkeys(r["variant"] for r in runs)):
        mine = [r for r in runs if r["variant"] == variant]
        for layer, ax in enumerate(axes[0]):
            values = np.concatenate([r["label_share"][layer] for r in mine])
            ax.hist(values, bins=bins, histtype="step", color=f"C{i}", label=f"{variant} (n = {len(mine)} seeds)")
            ax.set_title(f"layer {layer + 1}", fontsize=9)
            ax.set_xlabel("label share = var over labels / (var over labels + var over images)", fontsize=7)
    axes[0][0].set_ylabel("units", fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{title}\npreset {preset}; last checkpoint", fontsize=9)
    return fig


@plot("weights")
def weights(inputs: dict, title: str, preset: str, spec: dict):
    """Layer-1 weight vectors as 28x28 pictures: the most (top row) and least (bottom row)
    label-selective units of the first run; the label slot (first 10 pixels) outlined in red."""
    run = inputs["analysis"][0]
    rows = [
        ("most", run["weights_most_selective"], run["share_most_selective"]),
        ("least", run["weights_least_selective"], run["share_least_selective"]),
    ]
    n = len(rows[0][1])
    side = int(math.isqrt(len(rows[0][1][0])))
    fig, axes = plt.subplots(2, n, figsize=(0.9 * n, 2.6), squeeze=False)
    for r, (which, ws, shares) in enumerate(rows):
        for c, (w, share) in enumerate(zip(ws, shares)):
            ax = axes[r][c]
            img = np.asarray(w).reshape(side, side)
            bound = np.abs(img).max() or 1.0
            ax.imshow(img, cmap="RdBu_r", vmin=-bound, vmax=bound)
            ax.add_patch(patches.Rectangle((-0.5, -0.5), N_LABEL_PIXELS, 1, fill=False, ec="red", lw=0.8))
            ax.set_title(f"{share:.2f}", fontsize=6)
            ax.axis("off")
        axes[r][0].text(-4, side / 2, which, rotation=90, va="center", ha="right", fontsize=7)
    fig.suptitle(
        f"{title}\n{run['variant']} seed {run['seed']}, preset {preset}; number: the unit's label share", fontsize=8
    )
    return fig
