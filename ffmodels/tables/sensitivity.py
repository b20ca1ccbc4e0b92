"""Protocol sensitivity (PROTOCOL section 4): how each headline gap (a model's transfer minus its
random init's) moves when one knob of the transfer protocol changes. Reads the protocol's own
transfers and the sensitivity jobs (one per model and seed, every setting of config
`sensitivity`)."""

from __future__ import annotations

from ffmodels.lazy import lazy_import
from ffmodels.tables import finish, paired_or_welch, summary_row, table_kind
from ffmodels.tables.compare import with_random_inits
from ffmodels.names import is_random_init

pd = lazy_import("pandas")

PROTOCOL = "protocol"  # the setting name of the unchanged protocol


def setting_records(records: dict) -> pd.DataFrame:
    """variant, seed, setting, value (test accuracy %), status."""

    def record(m: dict, setting: str, test_acc: float) -> dict:
        return {
            "variant": m["variant"],
            "seed": m["seed"],
            "setting": setting,
            "value": 100.0 * test_acc,
            "status": m["status"],
        }

    rows = [record(m, PROTOCOL, m["test_acc"]) for m in records["transfer"]]
    rows += [record(m, name, r["test_acc"]) for m in records["sensitivity"] for name, r in m["settings"].items()]
    return pd.DataFrame(rows, columns=["variant", "seed", "setting", "value", "status"])


@table_kind("sensitivity")
class Sensitivity:
    """Per setting: every model's transfer accuracy (random inits included), each model's gap
    to its random init (paired by seed), and how far that gap moved from the protocol's
    (gap_shift, paired by seed)."""

    plot = "sensitivity"  # its figure (ffmodels.figures)

    @staticmethod
    def runs(spec, variants):
        runs = with_random_inits(spec["variants"], variants["random_init_of"])
        return {"transfer": runs, "sensitivity": runs}

    @staticmethod
    def build(spec, records, ctx):
        data = setting_records(records)
        method = ctx["stats"]["paired_test"]
        settings = list(dict.fromkeys(data.setting))
        runs = with_random_inits(spec["variants"], ctx["random_init_of"])

        def values(run, setting):
            rows = data[(data.variant == run) & (data.setting == setting)].set_index("seed")
            return rows.value, rows.status

        def gaps(v, setting):
            (mine, _), (init, _) = values(v, setting), values(ctx["random_init_of"][v], setting)
            seeds = mine.index.intersection(init.index)
            return mine[seeds] - init[seeds]

        def unchanged(run, setting):
            """The knob does not touch this model (e.g. label fill, a model without label input): every
            seed's value as under the protocol. Its rows would repeat the protocol's tests in the family."""
            mine, base = values(run, setting)[0], values(run, PROTOCOL)[0]
            return setting != PROTOCOL and mine.sort_index().equals(base.sort_index())

        def repeated(setting) -> set[str]:
            """The runs whose rows under this setting would repeat the protocol's: a model the knob
            leaves unchanged with its random init, and a random init every such model's only."""
            models = {
                v for v in spec["variants"] if unchanged(v, setting) and unchanged(ctx["random_init_of"][v], setting)
            }
            needed = {ctx["random_init_of"][v] for v in spec["variants"] if v not in models}
            return models | {r for r in runs if is_random_init(r) and r not in needed and unchanged(r, setting)}

        out = []
        for setting in settings:
            skip = repeated(setting)
            for run in runs:
                if run in skip:
                    continue
                mine, status = values(run, setting)
                row = {"variant": run, "setting": setting, "metric": "transfer_acc", **summary_row(mine, status)}
                if not is_random_init(run):
                    init = ctx["random_init_of"][run]
                    row.update(reference=init, **paired_or_welch(mine, values(init, setting)[0], method))
                out.append(row)
            if setting == PROTOCOL:
                continue
            for v in spec["variants"]:
                if v in skip:
                    continue
                shift, base = gaps(v, setting), gaps(v, PROTOCOL)
                out.append(
                    {
                        "variant": v,
                        "setting": setting,
                        "metric": "gap_shift",
                        **summary_row((shift - base).dropna()),
                        "reference": f"gap under {PROTOCOL}",
                        **paired_or_welch(shift, base, method),
                    }
                )
        table = finish(pd.DataFrame(out), ctx["stats"]["alpha"])
        return table, [
            "transfer_acc rows: Δ vs ref is the gap to the variant's random init under the same setting, "
            "paired by seed.",
            "gap_shift rows: that gap minus the gap under the protocol (config transfer), paired by seed: how much "
            "of a headline gap the knob moves.",
            "A setting that leaves a model's probe unchanged on every seed (label fill for a model without label "
            "input) has no rows for it: they would repeat the protocol's tests in this table's Holm family.",
            f"settings: {PROTOCOL} (config transfer) and, each with one knob of it changed, "
            + ", ".join(s for s in settings if s != PROTOCOL)
            + " (config sensitivity).",
        ]
