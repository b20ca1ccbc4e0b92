"""dead_units: per layer, the fraction of units never above `dead_threshold` on the source and on
the target test images (label slot filled as for transfer), at every checkpoint. A feature that
never fires on the target cannot help the probe. Measured on the test images; selects nothing."""

from __future__ import annotations

import torch

from ffmodels.analysis import metric
from ffmodels.transfer import fill_label_slot


@torch.no_grad()
def never_active_fraction(model, x: torch.Tensor, threshold: float, batch_size: int) -> list[float]:
    peak = None
    for i in range(0, len(x), batch_size):
        hs = [h.amax(dim=0) for h in model.layer_features(x[i : i + batch_size])]
        peak = hs if peak is None else [torch.maximum(p, h) for p, h in zip(peak, hs)]
    return [float((p <= threshold).float().mean()) for p in peak]


@metric("dead_units")
class DeadUnits:
    analysis_keys = ("dead_threshold",)
    transfer_keys = ("label_fill", "neutral_value")  # the label slot as the probe fills it

    @staticmethod
    def applies(family) -> bool:
        return True

    @staticmethod
    def compute(ctx) -> dict:
        curves: dict[str, list[float]] = {}
        for epoch in ctx.epochs:
            model = ctx.model_at(epoch)
            for task, split in (("source", ctx.source), ("target", ctx.target)):
                x = split["test_x"]
                if model.uses_label_input:
                    x = fill_label_slot(x, ctx.transfer["label_fill"], ctx.transfer["neutral_value"], model)
                for i, frac in enumerate(never_active_fraction(model, x, ctx.cfg["dead_threshold"], ctx.batch_size), 1):
                    curves.setdefault(f"dead_{task}_l{i}", []).append(frac)
        return {"curves": curves, "final": {k: v[-1] for k, v in curves.items()}}
