"""transfer_over_training: the common transfer probe (PROTOCOL section 4) on the model at every
checkpoint, and Spearman's rho between epoch and transfer accuracy (the slides: "more training
-> worse transfer", i.e. rho < 0). Epoch 0 is the untrained network: the random-init level.
`spearman_rho` counts it; `spearman_rho_trained` leaves it out, since a random network that
transfers better than every trained one makes rho negative whatever training then does."""

from __future__ import annotations

from ffmodels.analysis import metric
from ffmodels.lazy import lazy_import
from ffmodels.transfer import transfer

stats = lazy_import("scipy.stats")


def spearman_rho(epochs: list[int], acc: list[float]) -> float:
    """Spearman's rho of accuracy against epoch; 0.0 with fewer than 2 epochs or 2 distinct values."""
    if len(epochs) < 2 or len(set(acc)) < 2:
        return 0.0
    return float(stats.spearmanr(epochs, acc).statistic)


@metric("transfer_over_training")
class TransferOverTraining:
    analysis_keys = ()
    transfer_keys = ("features", "label_fill", "neutral_value", "standardise", "train_subset", "probe")  # the probe

    @staticmethod
    def applies(family) -> bool:
        return True

    @staticmethod
    def compute(ctx) -> dict:
        acc = [
            100.0 * transfer(ctx.model_at(e), ctx.target, ctx.transfer, ctx.seed, ctx.batch_size)["test_acc"]
            for e in ctx.epochs
        ]
        trained = [(e, a) for e, a in zip(ctx.epochs, acc) if e > 0]
        return {
            "curves": {"transfer_acc": acc},
            "final": {
                "spearman_rho": spearman_rho(ctx.epochs, acc),
                "spearman_rho_trained": spearman_rho([e for e, _ in trained], [a for _, a in trained]),
                "transfer_acc_end_minus_start": acc[-1] - acc[0],
            },
        }
