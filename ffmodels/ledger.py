"""The claims ledger (PROTOCOL section 8): every numeric or directional claim of the slides, the
pipeline's value from the table cell that answers it, and a verdict by a declared rule.

Claims are data (claims.yaml): each names its table cell (table, variant, metric and, where a
table has them, reference, setting, epoch) and a rule. A claim is added without code. Each rule
judges at a declared tolerance: the smallest difference that matters in the cell's unit (config
`stats.tolerance`, by metric; a claim may set its own `tolerance`). Rules:

- level       a plain level ("94.5 % on MNIST"): the claimed value inside our 95 % CI of the
              mean and the CI's half-width at most the tolerance: `reproduced`; inside, but the
              CI wider than that: `inconclusive` (a wide CI holds anything); outside:
              `not reproduced`, with our value higher or lower by how much. Beside the verdict,
              an equivalence reading: two one-sided t-tests (TOST, ffmodels.stats.tost) of
              |mean - value| < tolerance at alpha, from the row's mean, sd and n.
- direction   a directional claim on a tested row ("FF < random init", "10x variance" as > 1):
              the row's Holm-corrected test decides. Significant in the claimed direction:
              `reproduced`, or `direction only` when a claimed `value` lies outside our CI of
              the mean; significant the other way: `contradicted`; not significant:
              `inconclusive` when our 95 % CI (of the difference to the reference row, or of the
              mean for a test against a constant) still holds the claimed effect (the claimed
              `value`, or without one an effect of at least the tolerance in the claimed
              direction): it then holds no effect too, or excludes it only before Holm's
              correction; else `not reproduced`. A row whose test has no p (n < 2):
              `inconclusive`.
- difference  as direction, for a claimed difference to the row's reference ("4.7 pp gap to
              BP"): the sign of `value` is the direction, and the magnitude is checked against
              the 95 % CI of the difference.
- ordering    the claimed order of `variants` by mean (highest first): `reproduced` when our
              means are in that order, else `not reproduced` with our order.
- none_improve  "variants X don't help": the rows of a table (metric, reference) tested against
              the reference; none significantly above it: `reproduced`; any: `contradicted`.
- status      a claimed status of a row (e.g. "collapsed"): `reproduced` when ours is it.

A claim whose table is not built, or whose cell is not in it (or, for direction / difference,
whose row the table does not test), is `not run`.

Readings: a claim may list `readings`, each a `name` and overrides of its cell (table, variant,
metric, reference, setting, epoch; null removes a key) and optionally its own `value` or
`tolerance`: another metric, setting or variant of a table that answers the same claim (PROTOCOL
section 5, "Readings"). Each is judged by the claim's rule; the `robustness` column says whether
every reading that ran gives the primary verdict ("robust") or which do not ("depends: ...").
Readings not run are listed and do not count.
"""

from __future__ import annotations

import fnmatch
import math
from pathlib import Path

import pandas as pd

from ffmodels import stats
from ffmodels.tables import reduced_banner

VERDICTS = ("reproduced", "direction only", "inconclusive", "not reproduced", "contradicted", "not run")
CELL_KEYS = ("variant", "metric", "reference", "setting", "epoch")
CLAIM_KEYS = ("id", "slide", "claim", "slide_value", "rule", "value", "direction", "cell", "variants", "tolerance",
              "readings")
READING_KEYS = ("name", "value", "tolerance", "table", *CELL_KEYS)
TOLERANCE_RULES = ("level", "direction", "difference")  # the rules that judge at a tolerance

LEDGER_COLUMNS = ["id", "slide", "claim", "slide_value", "ours", "n", "test", "rule", "verdict", "detail",
                  "equivalence", "robustness", "readings", "tolerance", "table", "variant", "metric"]

SINGLE = "single reading"  # the robustness of a claim without readings


class ClaimError(ValueError):
    """A claim that names no single table cell, an unknown rule or key, a malformed reading, or a
    metric without a tolerance."""


def _num(x, digits=2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _finite(*xs) -> bool:
    return all(x is not None and not pd.isna(x) for x in xs)


# --- tolerances ---------------------------------------------------------------------------------

def tolerance_for(metric: str, tolerances: dict | None) -> tuple[str, float] | None:
    """(unit, tolerance) of a metric from config stats.tolerance, {unit: {tolerance: t, metrics:
    [names or fnmatch patterns]}}: the unit naming the metric exactly, else the one unit whose
    pattern matches it; None when no unit does. A metric matched by several units is an error."""
    exact, matched = [], []
    for unit, spec in (tolerances or {}).items():
        if not (isinstance(spec, dict) and isinstance(spec.get("tolerance"), (int, float)) and spec["tolerance"] > 0
                and isinstance(spec.get("metrics"), list)):
            raise ClaimError(f"stats.tolerance.{unit}: needs {{tolerance: <positive number>, metrics: [names]}}")
        names = spec["metrics"]
        if metric in names:
            exact.append(unit)
        elif any(fnmatch.fnmatchcase(metric, pattern) for pattern in names):
            matched.append(unit)
    units = exact or matched
    if len(units) > 1:
        raise ClaimError(f"stats.tolerance: metric '{metric}' is in several units {units}; list it in one")
    return (units[0], float(tolerances[units[0]]["tolerance"])) if units else None


def claim_tolerance(claim: dict, tolerances: dict | None, label: str | None = None) -> tuple[float, str]:
    """(tolerance, unit) a claim is judged at: its own `tolerance`, else its cell metric's unit."""
    label = label or claim.get("id", "?")
    metric = claim["cell"].get("metric")
    found = tolerance_for(metric, tolerances) if metric else None
    unit = found[0] if found else ""
    if "tolerance" in claim:
        return float(claim["tolerance"]), unit
    if found is None:
        raise ClaimError(f"claims: '{label}': metric '{metric}' has no tolerance; add it to a unit of config "
                         f"stats.tolerance (units: {sorted(tolerances or {})}) or give the claim a 'tolerance'")
    return found[1], unit


def _tol_text(tol, unit) -> str:
    return "–" if tol is None else f"±{tol:g}" + (f" {unit}" if unit else "")


# --- cells and readings -------------------------------------------------------------------------

def find_cell(tables: dict[str, pd.DataFrame], cell: dict, claim_id: str) -> pd.Series | None:
    """The one row of cell["table"] that matches the cell's keys (epoch: last = the highest
    epoch); None when the table is not built or has no such row."""
    table = tables.get(cell["table"])
    if table is None:
        return None
    rows = table
    for key in CELL_KEYS:
        if key not in cell:
            continue
        if key not in rows:
            raise ClaimError(f"claims: '{claim_id}': table {cell['table']} has no column '{key}'")
        if key == "epoch" and cell[key] == "last":
            rows = rows[rows.epoch == rows.epoch.max()]
        else:
            rows = rows[rows[key].astype(str) == str(cell[key])]
    if len(rows) > 1:
        raise ClaimError(f"claims: '{claim_id}' matches {len(rows)} rows of {cell['table']}; "
                         f"add one of {[k for k in CELL_KEYS if k not in cell]} to its cell")
    return rows.iloc[0] if len(rows) else None


def reading_claim(claim: dict, reading: dict) -> dict:
    """The claim as one of its readings states it: the cell with the reading's overrides (a null
    removes the key), the reading's own value and tolerance where it gives them."""
    cell = {**claim["cell"], **{k: reading[k] for k in ("table", *CELL_KEYS) if k in reading}}
    out = {k: v for k, v in claim.items() if k != "readings"}
    out["cell"] = {k: v for k, v in cell.items() if v is not None}
    out.update({k: reading[k] for k in ("value", "tolerance") if k in reading})
    return out


# --- rules ----------------------------------------------------------------------------------------

def _level(row, claim, alpha, tol):
    value, lo, hi = claim["value"], row.ci_low, row.ci_high
    if not _finite(lo, hi):
        return "inconclusive", f"no CI (n = {int(row.n)})"
    if lo <= value <= hi:
        half = (hi - lo) / 2
        if half > tol:
            return "inconclusive", (f"{value:g} inside our 95 % CI, but its half-width {half:.2f} exceeds the "
                                    f"tolerance ±{tol:g}")
        return "reproduced", f"{value:g} inside our 95 % CI (half-width {half:.2f} ≤ tolerance ±{tol:g})"
    word = "higher" if row["mean"] > value else "lower"
    return "not reproduced", f"ours {word} by {abs(row['mean'] - value):.2f}"


def _no_effect_interval(row, claim, scale):
    """(lo, hi, null, claimed) where a non-significant effect is judged: the 95 % CI of the
    difference to the reference row (null 0), or, for a row tested against a constant (no CI of
    a difference), the CI of the mean (null: that constant). claimed: the claimed value on that
    scale, or None without one."""
    value = claim.get("value")
    if scale == "delta":
        return row.delta_ci_low, row.delta_ci_high, 0.0, value
    const = row["mean"] - row.delta_vs_ref  # the reference level: a constant, or the reference row's mean
    if _finite(row.get("delta_ci_low"), row.get("delta_ci_high")):
        return row.delta_ci_low, row.delta_ci_high, 0.0, None if value is None else value - const
    return row.ci_low, row.ci_high, const, value


def _effect(row, claim, alpha, tol, magnitude: str):
    """direction / difference: significance and sign from the row's test; magnitude checked
    against the CI of the mean (direction) or of the difference (difference); a non-significant
    test inconclusive where the CI still holds the claimed effect."""
    claimed_sign = 1 if claim.get("direction", "greater" if claim.get("value", 0) >= 0 else "less") == "greater" else -1
    p, delta = row.p_holm, row.delta_vs_ref
    if pd.isna(p):
        return "inconclusive", "no test (too few seeds)"
    if p >= alpha:
        lo, hi, null, claimed = _no_effect_interval(row, claim, magnitude)
        ns = f"not significant (p_holm = {p:.2g})"
        if not _finite(lo, hi):
            return "not reproduced", ns
        if claimed is None:
            target = null + claimed_sign * tol
            holds_claim = hi >= target if claimed_sign > 0 else lo <= target
            what = f"an effect of {'+' if claimed_sign > 0 else '−'}{tol:g} or more"
        else:
            holds_claim, what = lo <= claimed <= hi, f"the claimed {claimed:g}"
        ci = f"our 95 % CI [{_num(lo)}, {_num(hi)}]"
        if not holds_claim:
            return "not reproduced", f"{ns}; {ci} excludes {what}"
        if lo <= null <= hi:
            return "inconclusive", f"{ns}; {ci} holds both no effect ({null:g}) and {what}"
        # the (unadjusted) CI excludes no effect, the Holm-corrected test does not: still cannot tell
        return "inconclusive", f"{ns} after Holm's correction; {ci} holds {what} and excludes no effect ({null:g})"
    if (delta > 0) != (claimed_sign > 0):
        return "contradicted", f"significant the other way (Δ = {delta:.2f}, p_holm = {p:.2g})"
    if "value" not in claim:
        return "reproduced", f"significant in the claimed direction (p_holm = {p:.2g})"
    lo, hi = (row.ci_low, row.ci_high) if magnitude == "mean" else (row.delta_ci_low, row.delta_ci_high)
    if lo <= claim["value"] <= hi:
        return "reproduced", f"significant, and {claim['value']:g} inside our 95 % CI"
    return "direction only", f"significant, but {claim['value']:g} outside our 95 % CI [{_num(lo)}, {_num(hi)}]"


def _status(row, claim, alpha, tol):
    ours = str(row.get("status", ""))
    if ours.startswith(claim["value"]):
        return "reproduced", f"status {ours}"
    return "not reproduced", f"status {ours or 'ok'}"


def _equivalence(row, claim, alpha, tol, tol_text) -> str:
    """TOST of |mean - slide value| < tolerance from the row's summary (sd, else its CI, and n)."""
    se = stats.standard_error(row.n, row.get("sd"), row.ci_low, row.ci_high)
    out = stats.tost(float(row["mean"]), se, int(row.n) - 1, float(claim["value"]), tol)
    if pd.isna(out["p"]):
        return f"no test (n = {int(row.n)})"
    word = "equivalent" if out["p"] < alpha else "not shown equivalent"
    return f"{word} within {tol_text} (p = {out['p']:.2g})"


def _ours(row, rule) -> tuple[str, int | None, str]:
    """(value text, n, test text) of a row: the mean and its CI; for a tested difference to
    another row, the difference and its CI; for a status claim, the status."""
    ours = f"{_num(row['mean'])} [{_num(row.ci_low)}, {_num(row.ci_high)}]"
    if rule in ("direction", "difference") and not pd.isna(row.get("delta_ci_low")):
        ours = f"Δ {_num(row.delta_vs_ref)} [{_num(row.delta_ci_low)}, {_num(row.delta_ci_high)}] vs {row.reference}"
    if rule == "status":
        ours = str(row.get("status") or "ok")
    test = "–"
    if isinstance(row.get("test"), str) and rule in ("direction", "difference"):
        test = f"{row.test} vs {row.reference}, p_holm = {row.p_holm:.2g}"
    return ours, int(row.n), test


def _ordering(tables, claim, alpha, label):
    rows = [find_cell(tables, {**claim["cell"], "variant": v}, label) for v in claim["variants"]]
    if any(r is None for r in rows):
        return None
    mean = {v: r["mean"] for v, r in zip(claim["variants"], rows)}
    ours = sorted(claim["variants"], key=lambda v: -mean[v])
    # our means highest first, so that every ">" shown holds (the claimed order is the slides' column)
    text = " > ".join(f"{v} {_num(mean[v])}" for v in ours)
    n = min(int(r.n) for r in rows)
    if ours == list(claim["variants"]):
        return text, n, "order of means", "reproduced", "our means are in the claimed order"
    return text, n, "order of means", "not reproduced", "our order: " + " > ".join(ours)


def _none_improve(tables, claim, alpha, label):
    table = tables.get(claim["cell"]["table"])
    if table is None:
        return None
    rows = table[(table.metric == claim["cell"]["metric"]) & (table.reference == claim["cell"]["reference"])]
    if not len(rows):
        return None
    better = rows[rows.significant.astype(bool) & (rows.delta_vs_ref > 0)]
    worse = rows[rows.significant.astype(bool) & (rows.delta_vs_ref < 0)]
    text = ", ".join(f"{r.variant} {_num(r.delta_vs_ref)}" for r in rows.itertuples())
    n = int(rows.n.min())
    detail = f"{len(better)} of {len(rows)} significantly better, {len(worse)} significantly worse"
    test = f"each vs {claim['cell']['reference']}, Holm"
    if len(better):
        return text, n, test, "contradicted", detail + ": " + ", ".join(better.variant)
    return text, n, test, "reproduced", detail


ROW_RULES = {"level": _level, "direction": lambda r, c, a, t: _effect(r, c, a, t, "mean"),
             "difference": lambda r, c, a, t: _effect(r, c, a, t, "delta"), "status": _status}
TABLE_RULES = {"ordering": _ordering, "none_improve": _none_improve}


# --- checking -------------------------------------------------------------------------------------

def _check_readings(cid: str, readings) -> None:
    if not isinstance(readings, list):
        raise ClaimError(f"claims: '{cid}': readings must be a list of {{name, ...}}")
    names = set()
    for i, reading in enumerate(readings, 1):
        if not isinstance(reading, dict) or not isinstance(reading.get("name"), str) or not reading["name"]:
            raise ClaimError(f"claims: '{cid}': reading {i} lacks a 'name'")
        name = reading["name"]
        unknown = sorted(set(reading) - set(READING_KEYS))
        if unknown:
            raise ClaimError(f"claims: '{cid}': reading '{name}' has unknown key(s) {unknown}; "
                             f"known: {list(READING_KEYS)}")
        if name in names:
            raise ClaimError(f"claims: '{cid}': duplicate reading name '{name}'")
        if set(reading) == {"name"}:
            raise ClaimError(f"claims: '{cid}': reading '{name}' changes nothing of the claim")
        names.add(name)


def check_claims(claims: list[dict], tolerances: dict | None) -> None:
    """Raise ClaimError naming the first malformed claim: a missing or unknown key, an unknown
    rule, a missing value, a duplicate id, a malformed reading, or (for the rules that judge at a
    tolerance) a metric of its cell or of a reading's cell with no tolerance."""
    seen = set()
    for claim in claims:
        cid = claim.get("id", "?")
        for key in ("id", "slide", "claim", "slide_value", "rule", "cell"):
            if key not in claim:
                raise ClaimError(f"claims: '{cid}' lacks '{key}'")
        unknown = sorted(set(claim) - set(CLAIM_KEYS))
        if unknown:
            raise ClaimError(f"claims: '{cid}': unknown key(s) {unknown}; known: {list(CLAIM_KEYS)}")
        if claim["rule"] not in ROW_RULES and claim["rule"] not in TABLE_RULES:
            raise ClaimError(f"claims: '{cid}': unknown rule '{claim['rule']}'; known: {sorted({**ROW_RULES, **TABLE_RULES})}")
        if claim["rule"] in ("level", "difference", "status") and "value" not in claim:
            raise ClaimError(f"claims: '{cid}': rule {claim['rule']} needs a 'value'")
        if cid in seen:
            raise ClaimError(f"claims: duplicate id '{cid}'")
        seen.add(cid)
        _check_readings(cid, claim.get("readings", []))
        for source in (claim, *(r for r in claim.get("readings", []) if "tolerance" in r)):
            tol = source.get("tolerance", 1.0)
            if isinstance(tol, bool) or not (isinstance(tol, (int, float)) and tol > 0):
                raise ClaimError(f"claims: '{cid}': tolerance must be a positive number, not {source['tolerance']!r}")
        if claim["rule"] in TOLERANCE_RULES:
            claim_tolerance(claim, tolerances)
            for reading in claim.get("readings", []):
                claim_tolerance(reading_claim(claim, reading), tolerances, f"{cid} / {reading['name']}")


# --- verdicts -------------------------------------------------------------------------------------

def judge(tables: dict[str, pd.DataFrame], claim: dict, alpha: float, tolerances: dict | None,
          label: str | None = None) -> dict:
    """ours, n, test, verdict, detail, equivalence and tolerance of one claim (or reading)."""
    label = label or claim["id"]
    rule = claim["rule"]
    tol, unit = claim_tolerance(claim, tolerances, label) if rule in TOLERANCE_RULES else (None, "")
    tol_text = _tol_text(tol, unit)
    not_run = {"ours": "–", "n": None, "test": "–", "verdict": "not run", "equivalence": "–",
               "tolerance": tol_text,
               "detail": f"table {claim['cell']['table']} not built, or this row not in it"}
    if rule in TABLE_RULES:
        got = TABLE_RULES[rule](tables, claim, alpha, label)
        if got is None:
            return not_run
        ours, n, test, word, detail = got
        return {"ours": ours, "n": n, "test": test, "verdict": word, "detail": detail, "equivalence": "–",
                "tolerance": tol_text}
    row = find_cell(tables, claim["cell"], label)
    if row is None:
        return not_run
    if rule in ("direction", "difference") and not isinstance(row.get("test"), str):
        return {**not_run, "untested": True,
                "detail": f"{claim['cell'].get('metric')} is in {claim['cell']['table']} but not tested there"}
    ours, n, test = _ours(row, rule)
    word, detail = ROW_RULES[rule](row, claim, alpha, tol)
    equivalence = _equivalence(row, claim, alpha, tol, tol_text) if rule == "level" else "–"
    return {"ours": ours, "n": n, "test": test, "verdict": word, "detail": detail, "equivalence": equivalence,
            "tolerance": tol_text}


def robustness(primary: str, readings: list[tuple[str, dict]]) -> str:
    """'robust' when every reading that ran gives the primary verdict, else 'depends' with the
    readings that differ (verdict and value); readings not run are listed and do not count."""
    if not readings:
        return SINGLE
    ran = [(name, r) for name, r in readings if r["verdict"] != "not run"]
    missing = [name for name, r in readings if r["verdict"] == "not run" and not r.get("untested")]
    untested = [name for name, r in readings if r.get("untested")]
    tail = "".join(f"; {word}: {', '.join(names)}"
                   for word, names in (("not run", missing), ("row not tested", untested)) if names)
    if not ran:
        return "no reading run (" + tail[2:] + ")"
    if primary == "not run":
        return "primary not run; " + "; ".join(f"{name} → {r['verdict']} ({r['ours']})" for name, r in ran) + tail
    differ = [(name, r) for name, r in ran if r["verdict"] != primary]
    if not differ:
        return f"robust ({len(ran)} reading{'s agree' if len(ran) > 1 else ' agrees'})" + tail
    agree = [name for name, r in ran if r["verdict"] == primary]
    return ("depends: " + "; ".join(f"{name} → {r['verdict']} ({r['ours']})" for name, r in differ)
            + (f"; agree: {', '.join(agree)}" if agree else "") + tail)


def verdict(tables: dict[str, pd.DataFrame], claim: dict, alpha: float, tolerances: dict | None) -> dict:
    """One ledger row for one claim: its primary cell's verdict, and the robustness of that
    verdict across the claim's readings."""
    entry = {k: claim.get(k) for k in ("id", "slide", "claim", "slide_value", "rule")}
    entry.update(table=claim["cell"]["table"], variant=claim["cell"].get("variant", ""),
                 metric=claim["cell"].get("metric", ""))
    primary = judge(tables, claim, alpha, tolerances)
    readings = [(r["name"], judge(tables, reading_claim(claim, r), alpha, tolerances, f"{claim['id']} / {r['name']}"))
                for r in claim.get("readings", [])]
    primary.pop("untested", None)
    listed = "; ".join(f"{name}: " + ("not run, row not tested" if r.get("untested") else
                                      r["verdict"] if r["verdict"] == "not run" else f"{r['verdict']} ({r['ours']})")
                       for name, r in readings) or "–"
    return {**entry, **primary, "robustness": robustness(primary["verdict"], readings), "readings": listed}


def build_ledger(tables: dict[str, pd.DataFrame], claims: list[dict], alpha: float,
                 tolerances: dict | None) -> pd.DataFrame:
    check_claims(claims, tolerances)
    ledger = pd.DataFrame([verdict(tables, c, alpha, tolerances) for c in claims], columns=LEDGER_COLUMNS)
    ledger["n"] = ledger["n"].astype("Int64")  # 5, not 5.0; empty where not run
    return ledger


# --- output ---------------------------------------------------------------------------------------

def _n(r: dict) -> str:
    return "–" if pd.isna(r["n"]) else str(int(r["n"]))


def verdict_counts(verdicts) -> str:
    """'reproduced 4, direction only 2, …': how many claims have each verdict, in VERDICTS order."""
    verdicts = list(verdicts)
    return ", ".join(f"{v} {verdicts.count(v)}" for v in VERDICTS)


def _summary(ledger: pd.DataFrame) -> str:
    return "Verdicts: " + verdict_counts(ledger.verdict)


ROBUSTNESS = ("robust", "depends", "no reading run", "primary not run", SINGLE)


def _robust_summary(ledger: pd.DataFrame) -> str:
    kinds = [next((k for k in ROBUSTNESS if str(s).startswith(k)), "") for s in ledger.robustness]
    return "Robustness across readings: " + ", ".join(f"{k} {kinds.count(k)}" for k in ROBUSTNESS)


def tolerance_text(tolerances: dict | None) -> str:
    return ", ".join(f"{unit} ±{spec['tolerance']:g}" for unit, spec in (tolerances or {}).items()) or "none declared"


RULES_TEXT = (
    "level: the slide's value inside our 95 % CI and the CI's half-width at most the tolerance = reproduced; "
    "inside but wider = inconclusive; outside = not reproduced (ours higher or lower by how much); beside it, "
    "equivalence = two one-sided t-tests (TOST) of |mean − slide value| < tolerance at alpha. direction / "
    "difference: the row's Holm-corrected test significant in the claimed direction = reproduced (direction only "
    "when a claimed size lies outside our 95 % CI); significant the other way = contradicted; not significant = "
    "inconclusive when our 95 % CI (of the difference, or of the mean for a test against a constant) still holds "
    "the claimed effect (the claimed value, else an effect of at least the tolerance in the claimed direction), "
    "i.e. holds both it and no effect (or excludes no effect only before Holm's correction); else not reproduced. "
    "Robustness: every reading of a claim (another metric, setting or variant that answers it) judged by the same "
    "rule; robust when each reading run gives the primary verdict, else depends, naming those that differ; "
    "readings not run do not count.")


def to_rst(ledger: pd.DataFrame, preset: str) -> str:
    """The ledger as a reStructuredText list-table, for the front page of the Snakemake report."""
    quick = reduced_banner(preset).replace(" — ", " (", 1) + (")" if reduced_banner(preset) else "")
    head = ["slide", "claim", "slide value", "ours (mean [95 % CI])", "n", "verdict", "why", "equivalence",
            "robustness"]
    lines = ["Claims ledger", "-------------", "",
             f"Preset {preset}{quick}. {_summary(ledger)}. {_robust_summary(ledger)}.", "",
             ".. list-table::", "   :header-rows: 1", ""]
    for cells in [head] + [[r["slide"], r["claim"], r["slide_value"], r["ours"], _n(r), r["verdict"], r["detail"],
                            r["equivalence"], r["robustness"]] for r in ledger.to_dict("records")]:
        for i, cell in enumerate(cells):
            text = str(cell).replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|")
            lines.append(("   * - " if i == 0 else "     - ") + (text or "–"))
    return "\n".join(lines) + "\n"


def to_markdown(ledger: pd.DataFrame, preset: str, tolerances: dict | None = None) -> str:
    quick = reduced_banner(preset)
    lines = ["### Claims ledger: the slides' claims against this pipeline's numbers", "",
             f"**preset: {preset}**{quick}", "", _summary(ledger), "", _robust_summary(ledger), "",
             "| slide | claim | slide | ours (mean [95 % CI]) | n | test | verdict | why | equivalence | robustness |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in ledger.to_dict("records"):
        lines.append("| " + " | ".join([r["slide"], r["claim"], r["slide_value"], r["ours"], _n(r), r["test"],
                                         f"**{r['verdict']}**", r["detail"], r["equivalence"], r["robustness"]])
                     .replace("\n", " ") + " |")
    lines += ["", (f"- Rules (ffmodels/ledger.py, PROTOCOL 8), each at the declared tolerance of the cell's unit "
                   f"(config stats.tolerance: {tolerance_text(tolerances)}; a claim may set its own): {RULES_TEXT}"),
              "- 'not run' = the experiment is not in this preset's config (or the table does not test that row).",
              "- Claims, their readings and the cells that answer them: claims.yaml."]
    return "\n".join(lines) + "\n"


def write_ledger(tables: dict[str, pd.DataFrame], claims: list[dict], alpha: float, tolerances: dict, preset: str,
                 csv: Path, md: Path, rst: Path | None = None) -> pd.DataFrame:
    """Build the ledger and write it as CSV and Markdown (and reStructuredText, for the report)."""
    ledger = build_ledger(tables, claims, alpha, tolerances)
    ledger.insert(0, "preset", preset)
    Path(csv).parent.mkdir(parents=True, exist_ok=True)
    ledger.to_csv(csv, index=False)
    Path(md).write_text(to_markdown(ledger, preset, tolerances))
    if rst is not None:
        Path(rst).write_text(to_rst(ledger, preset))
    return ledger
