"""Training traces: the per-epoch record of pretraining (metrics.json "history": validation
accuracy and whatever a family's epoch_diagnostics adds), summarised over seeds per epoch, with
each variant's outcome (how many seeds collapsed, at which epoch). For post-mortems such as
PCL's collapse (PROTOCOL 6)."""

from __future__ import annotations

from ffmodels.lazy import lazy_import
from ffmodels.tables import finish, summary_row, table_kind

pd = lazy_import("pandas")


@table_kind("training_trace")
class TrainingTrace:
    """Rows per (variant, quantity, epoch): mean ± sd over the seeds that reached the epoch (n
    says how many); spec `metrics` picks history keys (default: all but the epoch). Then per
    variant the last good epoch over seeds, with the status of the runs."""

    plot = "curves"  # its figure (ffmodels.figures)

    @staticmethod
    def runs(spec, variants):
        return {"pretrain": list(spec["variants"])}

    @staticmethod
    def build(spec, records, ctx):
        out = []
        for variant in spec["variants"]:
            runs = [m for m in records["pretrain"] if m["variant"] == variant]
            trace = pd.DataFrame(
                [{**entry, "seed": m["seed"], "status": m["status"]} for m in runs for entry in m["history"]]
            )
            keys = spec.get("metrics") or [k for k in trace.columns if k not in ("epoch", "seed", "status")]
            for key in keys:
                for epoch, at in trace.groupby("epoch"):
                    values = at[key].dropna()
                    out.append(
                        {
                            "variant": variant,
                            "metric": key,
                            "epoch": int(epoch),
                            **summary_row(values, at.status[values.index]),
                        }
                    )
            statuses = [m["status"] for m in runs]
            collapsed = sum(s == "collapsed" for s in statuses)
            out.append(
                {
                    "variant": variant,
                    "metric": "last_good_epoch",
                    **summary_row(pd.Series([m["last_good_epoch"] for m in runs], dtype=float), statuses),
                    "status": f"collapsed ({collapsed}/{len(runs)})" if collapsed else "ok",
                }
            )
        table = finish(pd.DataFrame(out), ctx["stats"]["alpha"])
        table["status"] = table["status"].fillna("")
        notes = [
            "Per epoch: mean over the seeds whose run reached that epoch (n); a collapsed run stops at its "
            "last finite epoch. last_good_epoch: the epoch each run was rolled back to (its last)."
        ]
        return table, notes
