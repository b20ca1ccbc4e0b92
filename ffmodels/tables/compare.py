"""Accuracy tables: source (pretraining) and transfer accuracy per variant, against a reference
row and against the random init of each variant's family, paired by seed."""

from __future__ import annotations

from ffmodels.lazy import lazy_import
from ffmodels.tables import (
    add_control_delta,
    collapse_note,
    comparison_table,
    control_row,
    control_runs,
    finish,
    paired_or_welch,
    summary_row,
    table_kind,
)

pd = lazy_import("pandas")

# The accuracy each stage reports (its metrics.json "test_acc"), as named in the tables.
STAGE_METRIC = {"pretrain": "source_acc", "transfer": "transfer_acc", "ceiling": "ceiling_acc"}


def accuracy_records(metrics: list[dict]) -> pd.DataFrame:
    """variant, seed, value (test accuracy in %), status from metrics.json files."""
    return pd.DataFrame(
        [
            {"variant": m["variant"], "seed": m["seed"], "value": 100.0 * m["test_acc"], "status": m["status"]}
            for m in metrics
        ],
        columns=["variant", "seed", "value", "status"],
    )


def with_random_inits(variants: list[str], random_init_of: dict[str, str]) -> list[str]:
    return list(variants) + sorted({random_init_of[v] for v in variants})


def calibrated_inits(variants: list[str], calibrated_init_of: dict[str, str | None]) -> list[str]:
    return sorted({calibrated_init_of[v] for v in variants if calibrated_init_of.get(v)})


def best_test_records(metrics: list[dict]) -> pd.DataFrame:
    """variant, seed, best and final test accuracy (%) over the per-epoch test diagnostic, for the
    runs that recorded it (pretrain.test_every_epoch)."""
    rows = []
    for m in metrics:
        tests = [e["diagnostic_test_acc"] for e in m.get("history", []) if "diagnostic_test_acc" in e]
        if tests:
            rows.append(
                {
                    "variant": m["variant"],
                    "seed": m["seed"],
                    "best": 100.0 * max(tests),
                    "final": 100.0 * m["test_acc"],
                    "status": m["status"],
                }
            )
    return pd.DataFrame(rows, columns=["variant", "seed", "best", "final", "status"])


@table_kind("compare")
class Compare:
    """One stage's accuracy per variant. reference: a variant (each row minus it), or
    `random_init` (each row minus the random init of its family; those rows are added). On the
    transfer stage the transfer control (config transfer_control) is a row too, without a test,
    and each row's mean is also shown minus the control's."""

    plot = "bars"  # its figure (ffmodels.figures)

    @staticmethod
    def runs(spec, variants):
        rows = spec["variants"]
        if spec["reference"] == "random_init":
            rows = with_random_inits(rows, variants["random_init_of"])
        if spec["stage"] == "transfer":
            rows = list(rows) + control_runs(variants)
        return {spec["stage"]: rows}

    @staticmethod
    def build(spec, records, ctx):
        rows = Compare.runs(spec, ctx)[spec["stage"]]
        controls = control_runs(ctx) if spec["stage"] == "transfer" else []
        if spec["reference"] == "random_init":
            reference_of = {r: ctx["random_init_of"].get(r) for r in rows}
            note = "Δ vs ref: each model minus the random init of its own family under the same probe, paired by seed."
        else:
            reference_of = {r: None if r == spec["reference"] else spec["reference"] for r in rows}
            note = f"Δ vs ref: each variant minus {spec['reference']}, paired by seed."
        reference_of.update({c: None for c in controls})  # a control is shown, never tested
        table = comparison_table(
            accuracy_records(records[spec["stage"]]),
            rows,
            reference_of,
            ctx["stats"]["paired_test"],
            ctx["stats"]["alpha"],
        )
        table["metric"] = STAGE_METRIC[spec["stage"]]
        notes = [note]
        for control in controls:
            notes += add_control_delta(table, control)
        return table, notes + collapse_note(table, STAGE_METRIC[spec["stage"]])


def status_of(row: dict) -> str:
    """improves / no significant change / worse, from the row's test (PROTOCOL 8), with the
    share of its runs that collapsed (ffmodels.collapse); 'collapsed (n/n)' when every run did.
    A row without a test: '' or its collapsed runs."""
    n, k = row["n"], row["n_collapsed"]
    if n and k == n:
        return f"collapsed ({k}/{n})"
    if not isinstance(row["reference"], str):
        return f"{k}/{n} collapsed" if k else ""
    if not row["significant"]:
        word = "no significant change"
    else:
        word = "improves" if row["delta_vs_ref"] > 0 else "worse"
    return word + (f" ({k}/{n} collapsed)" if k else "")


@table_kind("source_transfer")
class SourceTransfer:
    """Source and transfer accuracy per variant: both against the reference variant, transfer
    also against the random init of the variant's family; a status from the transfer test.
    `ceilings`: variants also trained on the target task, their target test accuracy as the
    level the transfer aims at (no test). The transfer control (config transfer_control) is a
    transfer row without a test, and every transfer row's mean is also shown minus its mean."""

    plot = "bars"  # its figure (ffmodels.figures)

    @staticmethod
    def runs(spec, variants):
        runs = {
            "pretrain": list(spec["variants"]),
            "transfer": with_random_inits(spec["variants"], variants["random_init_of"])
            + calibrated_inits(spec["variants"], variants["calibrated_init_of"])
            + control_runs(variants),
        }
        if spec.get("ceilings"):
            runs["ceiling"] = list(spec["ceilings"])
        return runs

    @staticmethod
    def build(spec, records, ctx):
        method = ctx["stats"]["paired_test"]
        source = accuracy_records(records["pretrain"]).set_index("seed")
        transfer = accuracy_records(records["transfer"]).set_index("seed")
        ref = spec["reference"]
        out = []
        for metric, recs in (("source_acc", source), ("transfer_acc", transfer)):
            for v in spec["variants"]:
                mine = recs[recs.variant == v]
                # Collapse is a property of the pretraining run; both stages carry it.
                base = {"variant": v, "metric": metric, **summary_row(mine.value, mine.status)}
                if v == ref:
                    out.append({**base, "reference": None})
                    continue
                out.append(
                    {**base, "reference": ref, **paired_or_welch(mine.value, recs[recs.variant == ref].value, method)}
                )
        # each variant against its random init, then against the calibrated one where its family has
        # running statistics (a second baseline)
        calibrated = {v: ctx["calibrated_init_of"].get(v) for v in spec["variants"]}
        baselines = [(v, ctx["random_init_of"][v]) for v in spec["variants"]] + [
            (v, c) for v, c in calibrated.items() if c
        ]
        for v, init in baselines:
            mine = transfer[transfer.variant == v]
            out.append(
                {
                    "variant": v,
                    "metric": "transfer_acc",
                    **summary_row(mine.value, mine.status),
                    "reference": init,
                    **paired_or_welch(mine.value, transfer[transfer.variant == init].value, method),
                }
            )
        inits = sorted({ctx["random_init_of"][v] for v in spec["variants"]}) + calibrated_inits(
            spec["variants"], calibrated
        )
        for init in inits:
            mine = transfer[transfer.variant == init]
            out.append(
                {"variant": init, "metric": "transfer_acc", **summary_row(mine.value, mine.status), "reference": None}
            )
        controls = control_runs(ctx)
        out += [control_row(transfer.reset_index(), c) for c in controls]
        best = best_test_records(records["pretrain"])
        for v in spec["variants"]:  # test-selection optimism: what picking the best test epoch would report
            mine = best[best.variant == v]
            if len(mine):
                out.append(
                    {
                        "variant": v,
                        "metric": "source_acc_best_test",
                        **summary_row(mine.best, mine.status),
                        "reference": None,
                    }
                )
                out.append(
                    {
                        "variant": v,
                        "metric": "best_test_minus_final",
                        **summary_row(mine.best - mine.final, mine.status),
                        "reference": None,
                    }
                )
        ceiling = accuracy_records(records.get("ceiling", []))
        for v in spec.get("ceilings", []):
            mine = ceiling[ceiling.variant == v]
            out.append(
                {"variant": v, "metric": "ceiling_acc", **summary_row(mine.value, mine.status), "reference": None}
            )
        table = finish(pd.DataFrame(out, columns=None), ctx["stats"]["alpha"])
        table["status"] = [status_of(r) for r in table.to_dict("records")]
        notes = [
            f"Δ vs ref: source and transfer accuracy minus {ref}'s, and transfer minus the random init of the "
            "variant's family under the same probe; all paired by seed.",
            "status: from the row's Holm-corrected test (improves / no significant change / worse), with how many "
            "of its runs collapsed; 'collapsed (n/n)' when every run did (its loss went non-finite, or its "
            "validation predictions were one class or at chance: config stats.collapse). A transfer row carries "
            "the collapse of its pretraining run.",
        ]
        for control in controls:
            notes += add_control_delta(table, control)
        notes += collapse_note(table, "source_acc")
        if any(calibrated.values()):
            notes.append(
                "random_init_<name>_calibrated: the same untrained network with its BatchNorm statistics "
                "estimated on the source training images (no weight changed, ffmodels/calibration.py); the "
                "verdicts use random_init_<name> (BatchNorm's initial statistics), the ledger shows the "
                "calibrated one as a reading."
            )
        if len(best):
            notes.append(
                "source_acc_best_test: the highest test accuracy over the epochs (a diagnostic recorded after "
                "every epoch, pretrain.test_every_epoch), as a number selected on the test split would be; "
                "source_acc is the last epoch's, selected without the test split; best_test_minus_final: the "
                "difference per seed (the optimism of test selection, pp)."
            )
        if spec.get("ceilings"):
            notes.append(
                "ceiling_acc: the variant trained directly on the target task with its own rule and the same "
                "budget, target test accuracy (the level a transfer aims at)."
            )
        return table, notes
