"""transfer_over_training: the common transfer probe (PROTOCOL section 4) on the model at every
checkpoint, and Spearman's rho between epoch and transfer accuracy (the slides: "more training
-> worse transfer", i.e. rho < 0). Epoch 0 is the untrained network: the random-init level."""

from __future__ import annotations

from scipy import stats

from ffmodels.analysis import metric
from ffmodels.transfer import transfer


@metric("transfer_over_training")
class TransferOverTraining:
    uses_transfer_config = True

    @staticmethod
    def applies(family) -> bool:
        return True

    @staticmethod
    def compute(ctx) -> dict:
        acc = [100.0 * transfer(ctx.model_at(e), ctx.target, ctx.transfer, ctx.seed, ctx.batch_size)["test_acc"]
               for e in ctx.epochs]
        rho = stats.spearmanr(ctx.epochs, acc).statistic if len(set(acc)) > 1 else 0.0
        return {"curves": {"transfer_acc": acc},
                "final": {"spearman_rho": float(rho), "transfer_acc_end_minus_start": acc[-1] - acc[0]}}
