"""Fine-tuning (PROTOCOL section 4, secondary protocol): each pretrained model trained further on
the target task with its own rule, against the same variant trained there from scratch (its
ceiling run: same budget, same seed), paired by seed."""

from __future__ import annotations

from ffmodels.lazy import lazy_import
from ffmodels.tables import finish, paired_or_welch, summary_row, table_kind
from ffmodels.tables.compare import accuracy_records

pd = lazy_import("pandas")


@table_kind("finetune")
class Finetune:
    plot = "bars"  # its figure (ffmodels.figures)

    @staticmethod
    def runs(spec, variants):
        return {"finetune": list(spec["variants"]), "ceiling": list(spec["variants"])}

    @staticmethod
    def build(spec, records, ctx):
        tuned = accuracy_records(records["finetune"]).set_index("seed")
        scratch = accuracy_records(records["ceiling"]).set_index("seed")
        out = []
        for v in spec["variants"]:
            base, mine = scratch[scratch.variant == v], tuned[tuned.variant == v]
            out.append(
                {"variant": v, "metric": "scratch_acc", **summary_row(base.value, base.status), "reference": None}
            )
            out.append(
                {
                    "variant": v,
                    "metric": "finetune_acc",
                    **summary_row(mine.value, mine.status),
                    "reference": "scratch",
                    **paired_or_welch(mine.value, base.value, ctx["stats"]["paired_test"]),
                }
            )
        return finish(pd.DataFrame(out), ctx["stats"]["alpha"]), [
            "finetune_acc: the pretrained model trained on the target task with its own rule; scratch_acc: the same "
            "variant trained there from its random init with the same budget (its ceiling run). Δ vs ref: "
            "fine-tuned minus scratch, paired by seed."
        ]
