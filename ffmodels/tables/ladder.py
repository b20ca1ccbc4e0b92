"""Gap ladders (PROTOCOL section 11): from our protocol to an upstream recipe, one key at a time,
each rung a row, so that the gap between our number and the slides' is cut into the steps each
key contributes.

A table of kind gap_ladder lists its rungs in order (config `tables.<name>.rungs`); each rung is a
run (a variant, or with `init: true` the variant's random init) and, for the probe's keys, a
setting of config `sensitivity` (the probe re-run on the same models; none: the protocol's probe).
Rungs are cumulative: each changes one key of the rung before. Every rung runs on the same seeds,
so each step (a rung minus the one before) is paired by seed: the same models where only the
probe changed, the same seed's init and data order where the model changed. The last rung is
upstream's recipe as rerun here; a last row sets it beside the slides' number (`slides`), whose
status says whether upstream printed it, typed it, derived it from other slide numbers or no
upstream file has it (docs/upstream-check.md).
"""

from __future__ import annotations

from ffmodels import stats
from ffmodels.lazy import lazy_import
from ffmodels.tables import finish, paired_or_welch, summary_row, table_kind
from ffmodels.tables.compare import STAGE_METRIC
from ffmodels.tables.sensitivity import PROTOCOL

pd = lazy_import("pandas")

SLIDES_STATUS = ("printed", "typed", "derived", "not found")  # docs/upstream-check.md
METRIC_STAGE = {metric: stage for stage, metric in STAGE_METRIC.items() if stage in ("pretrain", "transfer")}
SLIDES_ROW = "slides"  # the variant name of the row that holds the slides' number
TEST_SELECTED = "test-selected"  # a rung whose probe picked its epoch on the test split
MOVES = "moves"  # the status of a step whose Holm-corrected test is significant


def rung_run(rung: dict, random_init_of: dict[str, str]) -> str:
    return random_init_of[rung["run"]] if rung.get("init") else rung["run"]


def rung_stage(rung: dict, metric: str) -> str:
    return "sensitivity" if rung.get("setting") else METRIC_STAGE[metric]


def check_ladder(name: str, spec: dict, variant_names: list[str], settings: dict) -> str | None:
    """Why a gap_ladder table cannot run (None when it can), naming the key."""
    where = f"tables.{name}"
    if spec.get("metric") not in METRIC_STAGE:
        return f"{where}.metric: {spec.get('metric')!r} is not one of {sorted(METRIC_STAGE)}"
    if not spec.get("rungs"):
        return f"{where}.rungs: a gap_ladder needs at least two rungs (our protocol, then upstream's recipe)"
    if spec.get("slides_status") not in SLIDES_STATUS:
        return f"{where}.slides_status: {spec.get('slides_status')!r} is not one of {list(SLIDES_STATUS)}"
    for i, rung in enumerate(spec["rungs"]):
        if rung.get("run") not in variant_names:
            return f"{where}.rungs[{i}].run: '{rung.get('run')}' is not defined under variants (nor a family)"
        setting = rung.get("setting")
        if setting is not None and setting not in settings:
            return (
                f"{where}.rungs[{i}].setting: '{setting}' is not a setting of config sensitivity ({sorted(settings)})"
            )
        if setting is not None and spec["metric"] != "transfer_acc":
            return f"{where}.rungs[{i}].setting: a probe setting moves transfer_acc only, not {spec['metric']}"
    return None


def rung_label(rung: dict, run: str) -> str:
    return f"{run} / {rung['setting']}" if rung.get("setting") else run


def rung_values(records: dict, rung: dict, run: str, metric: str) -> tuple[pd.Series, pd.Series, bool]:
    """(value % by seed, status by seed, whether the probe picked its epoch on test) of one rung."""
    rows, on_test = [], False
    for m in records[rung_stage(rung, metric)]:
        if m["variant"] != run:
            continue
        result = m["settings"][rung["setting"]] if rung.get("setting") else m
        on_test |= result.get("selected_on") == "test"
        rows.append({"seed": m["seed"], "value": 100.0 * result["test_acc"], "status": m["status"]})
    frame = pd.DataFrame(rows, columns=["seed", "value", "status"]).set_index("seed").sort_index()
    return frame.value, frame.status, on_test


@table_kind("gap_ladder")
class GapLadder:
    """Per rung its value (mean, 95 % CI) and its step: the rung minus the rung before, paired by
    seed, Holm over the table's steps; status `moves` marks a step whose Holm-corrected test says
    it moves the number. A last row: upstream's recipe minus the slides' number (one-sample), with
    whether the recipe reaches it (the slides' number within the recipe's 95 % CI widened by the
    tolerance of config stats.tolerance.pp)."""

    plot = "waterfall"  # its figure (ffmodels.figures)
    check = staticmethod(check_ladder)  # ffmodels.config.resolve, before any job runs

    @staticmethod
    def runs(spec, variants):
        out: dict[str, list[str]] = {}
        for rung in spec["rungs"]:
            runs = out.setdefault(rung_stage(rung, spec["metric"]), [])
            run = rung_run(rung, variants["random_init_of"])
            if run not in runs:
                runs.append(run)
        return out

    @staticmethod
    def settings(spec) -> list[str]:
        """The settings of config `sensitivity` its rungs read (a sensitivity job computes no other
        for a run only ladders read: workflow/rules/common.smk sensitivity_settings)."""
        return [rung["setting"] for rung in spec["rungs"] if rung.get("setting")]

    @staticmethod
    def build(spec, records, ctx):
        metric, method = spec["metric"], ctx["stats"]["paired_test"]
        out, previous = [], None
        for i, rung in enumerate(spec["rungs"]):
            run = rung_run(rung, ctx["random_init_of"])
            values, status, on_test = rung_values(records, rung, run, metric)
            row = {
                "variant": run,
                "setting": rung.get("setting") or PROTOCOL,
                "step": rung["step"] + (f" ({TEST_SELECTED})" if on_test else ""),
                "rung": i,
                "metric": metric,
                **summary_row(values, status),
            }
            if previous is not None:
                row.update(reference=previous[0], **paired_or_welch(values, previous[1], method))
            out.append(row)
            previous = (rung_label(rung, run), values)
        table = finish(pd.DataFrame(out), ctx["stats"]["alpha"])  # Holm over the steps only
        verdict = table.significant.map({True: MOVES, False: "within noise"})
        verdict = verdict.where(table.p_holm.notna(), "untested")  # too few seeds, or no spread
        table["status"] = verdict.where(table.reference.notna(), "")
        last, slides = previous[1], float(spec["slides"])
        tolerance = ctx["stats"]["tolerance"]["pp"]["tolerance"]
        versus = stats.one_sample_test(last, slides)
        spread = stats.summarise(last - slides)
        reaches = spread["ci_low"] - tolerance <= 0 <= spread["ci_high"] + tolerance
        final = {
            "variant": SLIDES_ROW,
            "setting": "",
            "step": f"the slides' {slides:g} ({spec['slides_status']})",
            "rung": len(spec["rungs"]),
            "metric": metric,
            "n": 0,
            "mean": slides,
            "reference": previous[0],
            "delta_vs_ref": versus["diff"],
            "delta_ci_low": spread["ci_low"],
            "delta_ci_high": spread["ci_high"],
            "n_pairs": len(last),
            "test": "one-sample t",
            "p": versus["p"],
            "cohen_d": versus["cohen_d"],
            "status": "reached" if reaches else "not reached",
            "slides_status": spec["slides_status"],
        }
        table = pd.concat([table, pd.DataFrame([final])], ignore_index=True)
        table["n_collapsed"] = table.n_collapsed.fillna(0).astype(int)
        moved = table[table.status == MOVES].step.tolist()
        return table, [
            "Rungs are cumulative: each changes one key of the rung above it (step). Δ vs ref: the rung minus "
            "the rung above, paired by seed (the same models where only the probe changed); status moves: that "
            "step's Holm-corrected test is significant (Holm over the steps of this table).",
            f"Last row: the last rung (upstream's recipe as rerun here) against the slides' {slides:g}, whose "
            f"status is '{spec['slides_status']}' (printed by an upstream script, typed, derived from other slide "
            "numbers, or found in no upstream file: docs/upstream-check.md); Δ: mean minus the slides' number, "
            f"one-sample t; reached: the slides' number lies within the recipe's 95 % CI ± {tolerance:g} pp "
            "(config stats.tolerance.pp).",
            "steps that move the number: " + (", ".join(moved) if moved else "none"),
        ] + (
            [
                f"{TEST_SELECTED}: the rung's probe reports its epoch with the best test accuracy, as upstream did "
                "(transfer.probe.select_on test): optimistic, the test split chose it."
            ]
            if table.step.str.contains(TEST_SELECTED, regex=False).any()
            else []
        )


def recipe_rung(table: pd.DataFrame) -> pd.Series:
    """A ladder's last rung: upstream's recipe as rerun here."""
    return table[table.variant != SLIDES_ROW].iloc[-1]


def is_test_selected(rung: pd.Series) -> bool:
    """Whether the rung's number was picked on the test split (its step says so)."""
    return TEST_SELECTED in rung.step


def explained_by(table: pd.DataFrame) -> str:
    """What a ladder table says of the gap to the slides' number (the ledger's "explained by"):
    the slides' number marked typed / derived / not found, which upstream code cannot have
    printed; else "unexplained" where upstream's recipe as rerun here does not reach it; else the
    steps that move the number (Holm-corrected), each with its size, and what the other steps add
    up to, or that none moves it alone. Where the slides' number stays unexplained, the steps that
    move ours to upstream's recipe follow: the ladder still says why upstream's code printed
    another number than ours. A recipe number picked on the test split says so wherever it decides."""
    slides = table[table.variant == SLIDES_ROW].iloc[0]
    last = recipe_rung(table)
    on_test = f" ({TEST_SELECTED})" if is_test_selected(last) else ""
    steps = table[table.status == MOVES]
    moved = [f"{row.step} {row.delta_vs_ref:+.2f} pp" for row in steps.itertuples()]
    recipe = f"upstream's recipe here: {last['mean']:.2f}{on_test}"
    recipe += f", moved from ours by: {'; '.join(moved)}" if moved else ""
    if slides.slides_status != "printed":
        return f"the slides' number is {slides.slides_status} ({recipe})"
    if slides.status != "reached":
        return f"unexplained ({recipe})"
    # the steps within noise may still add up: their sum shows where the rest of the way went
    rest = last["mean"] - table["mean"].iloc[0] - steps.delta_vs_ref.sum()
    others = f"; the other steps together {rest:+.2f} pp" if moved and round(rest, 2) else ""
    reached = f"; the recipe's number is {TEST_SELECTED}" if on_test else ""
    return ("; ".join(moved) + others if moved else "no single step moves it") + reached
