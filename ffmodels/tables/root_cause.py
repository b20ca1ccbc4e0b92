"""Root-cause tables (RQ3): the analysis metrics of ffmodels.analysis per variant, at the end of
training with a test of each slide claim (`root_cause`), and over training (`over_training`)."""

from __future__ import annotations

from ffmodels import stats
from ffmodels.lazy import lazy_import
from ffmodels.tables import finish, summary_row, table_kind

pd = lazy_import("pandas")

SYMBOL = {"greater": ">", "less": "<", "two-sided": "≠"}


def analysis_runs(spec, variants) -> dict[str, list[str]]:
    """Each metric of spec['metrics'] (default: all) on the variants it applies to. (Imported
    here: only the workflow asks, and a table job then needs no model code, nor torch.)"""
    from ffmodels.analysis import METRICS

    out = {}
    for name in spec.get("metrics", list(METRICS)):
        runs = [v for v in spec["variants"] if METRICS[name].applies(variants["family_of"][v])]
        if runs:
            out[name] = runs
    return out


def values_by(records: dict, field: str) -> dict[tuple[str, str], pd.DataFrame]:
    """{(variant, quantity): frame of seed, value[, epoch], status} from the analyses' JSON."""
    out: dict[tuple[str, str], list] = {}
    for stage_records in records.values():
        for r in stage_records:
            for name, value in r[field].items():
                rows = (
                    [
                        {"seed": r["seed"], "value": v, "epoch": e, "status": r["status"]}
                        for e, v in zip(r["epochs"], value)
                    ]
                    if field == "curves"
                    else [{"seed": r["seed"], "value": value, "status": r["status"]}]
                )
                out.setdefault((r["variant"], name), []).extend(rows)
    return {k: pd.DataFrame(v) for k, v in out.items()}


@table_kind("root_cause")
class RootCause:
    """Each metric's end-of-training value per variant, mean over seeds; where the config states
    the slides' claim (claims: {quantity: {value, alternative}}), a one-sample t-test of it."""

    plot = "bars"  # its figure (ffmodels.figures)

    runs = staticmethod(analysis_runs)

    @staticmethod
    def build(spec, records, ctx):
        claims = spec.get("claims", {})
        out = []
        for (variant, name), frame in values_by(records, "final").items():
            row = {"variant": variant, "metric": name, **summary_row(frame.value, frame.status)}
            if name in claims:
                claim = claims[name]
                test = stats.one_sample_test(frame.value, claim["value"], claim["alternative"])
                row.update(
                    reference=f"{SYMBOL[claim['alternative']]} {claim['value']}",
                    delta_vs_ref=test["diff"],
                    n_pairs=len(frame),
                    p=test["p"],
                    cohen_d=test["cohen_d"],
                    test=f"one-sample t ({claim['alternative']})",
                )
            out.append(row)
        order = {v: i for i, v in enumerate(spec["variants"])}
        table = pd.DataFrame(out).sort_values(
            ["variant", "metric"], key=lambda c: c.map(order) if c.name == "variant" else c
        )
        table = finish(table.reset_index(drop=True), ctx["stats"]["alpha"])
        table["p_holm"] = holm_with_readings(table, claims)
        table["significant"] = table.p_holm < ctx["stats"]["alpha"]
        primary = [k for k, c in claims.items() if "reading_of" not in c]
        notes = [
            "Values at the last checkpoint (end of training). Claims tested one-sided against the slides' "
            "direction: "
            + "; ".join(f"{k} {SYMBOL[claims[k]['alternative']]} {claims[k]['value']}" for k in primary)
            + "."
        ]
        readings = [k for k, c in claims.items() if "reading_of" in c]
        if readings:
            notes.append(
                "Other readings of those claims, each tested the same way and Holm-corrected as if it stood in "
                "its claim's place (with the other claims' tests): " + ", ".join(readings) + "."
            )
        return table, notes


def holm_with_readings(table: pd.DataFrame, claims: dict) -> list[float]:
    """Holm over the tests of the primary claims (every variant); the tests of a reading
    (`reading_of: <claim>`) over the same family with that claim's tests replaced by its own, so
    that adding a reading never changes a primary claim's correction."""
    p = pd.Series(float("nan"), index=table.index)
    tested = table.p.notna()
    reading_of = {k: c.get("reading_of") for k, c in claims.items()}
    primary = tested & table.metric.map(lambda m: reading_of.get(m, "") is None)
    p[primary] = stats.holm(table.p[primary])
    for name, claim in reading_of.items():
        if claim is None:
            continue
        family = tested & ((primary & (table.metric != claim)) | (table.metric == name))
        mine = family & (table.metric == name)
        p[mine] = pd.Series(stats.holm(table.p[family]), index=table.index[family])[mine]
    return p.tolist()


@table_kind("over_training")
class OverTraining:
    """Each metric at every checkpoint epoch per variant: mean ± sd and 95 % CI over seeds."""

    plot = "curves"  # its figure (ffmodels.figures)

    runs = staticmethod(analysis_runs)

    @staticmethod
    def build(spec, records, ctx):
        out = []
        for (variant, name), frame in values_by(records, "curves").items():
            for epoch, at in frame.groupby("epoch"):
                out.append(
                    {"variant": variant, "metric": name, "epoch": int(epoch), **summary_row(at.value, at.status)}
                )
        order = {v: i for i, v in enumerate(spec["variants"])}
        table = pd.DataFrame(out).sort_values(
            ["variant", "metric", "epoch"], key=lambda c: c.map(order) if c.name == "variant" else c
        )
        return finish(table.reset_index(drop=True), ctx["stats"]["alpha"]), ["Epoch 0 is the untrained network."]
