"""The claims ledger (PROTOCOL section 8): every numeric or directional claim of the slides, the
pipeline's value from the table cell that answers it, and a verdict by a declared rule.

Claims are data (claims.yaml): each names its table cell (table, variant, metric and, where a
table has them, reference, setting, epoch) and a rule; a claim is added without code. The rules
and their verdict words (VERDICTS) are defined once, in docs/protocol.md section 8:

- level         a number on a slide, as a calibration statement: equivalent (TOST within the
                tolerance), close (within it, not shown equivalent), ours higher / lower by X.
- direction     a directional claim on a tested row, judged on the 95 % CI of the mean against the
                claimed value or, for a claim without one, a declared `threshold` (with its reason).
- difference    a claimed difference to the row's reference, judged on the CI of the difference.
                Both give: as claimed, stronger / weaker than claimed, absent (not significant and
                the CI excludes the claim), opposite (significant the other way), inconclusive.
- ordering      the claimed order, every pair tested (the table's paired test where it has one,
                else Welch from the rows' summaries), Holm within the claim: as claimed,
                contradicted (a pair significantly reversed) or inconclusive.
- none_improve  "X don't help": no row significantly above the reference (less `exclude`).
- status        a claimed status of a row (e.g. "collapsed").

Readings: other cells that answer the same claim, each judged by the claim's rule; the robustness
column says whether they agree. A row of a collapsed model is never a reading of a feature-quality
metric (FEATURE_METRICS): "not judged: collapsed". A claim whose cell is not built is "not run".
The conclusions of the deck (ffmodels/conclusions.py) are judged from these verdicts.
"""

from __future__ import annotations

import fnmatch
import json
import math
from pathlib import Path

import pandas as pd
from scipy import stats as sps

from ffmodels import stats
from ffmodels.tables import reduced_banner
from ffmodels.tables.ladder import explained_by

# The verdict words (docs/protocol.md section 8): calibration statements for a level, effect words
# for a claimed size, and the words every rule may give.
CALIBRATION = ("equivalent", "close", "ours higher by", "ours lower by")
EFFECT = ("as claimed", "stronger than claimed", "weaker than claimed", "absent", "opposite")
OTHER = ("contradicted", "inconclusive", "not judged: collapsed", "not run")
VERDICTS = CALIBRATION + EFFECT + OTHER
CELL_KEYS = ("variant", "metric", "reference", "setting", "epoch")
CLAIM_KEYS = (
    "id",
    "slide",
    "claim",
    "slide_value",
    "rule",
    "value",
    "direction",
    "threshold",
    "threshold_reason",
    "cell",
    "variants",
    "exclude",
    "tolerance",
    "ladder",
    "readings",
)
READING_KEYS = ("name", "value", "tolerance", "table", *CELL_KEYS)
TOLERANCE_RULES = ("level", "direction", "difference")  # the rules that judge at a tolerance
# Metrics that read the quality of a model's features: a collapsed model is never a reading of them.
FEATURE_METRICS = ("transfer_acc*", "gap_shift", "finetune_acc*", "scratch_acc")

EXPLAINED = "explained_by"  # a level claim's gap ladder (claims.yaml `ladder`), where it ran
LEDGER_COLUMNS = [
    "id",
    "slide",
    "claim",
    "slide_value",
    "ours",
    "n",
    "test",
    "rule",
    "verdict",
    "detail",
    "equivalence",
    "robustness",
    "readings",
    "tolerance",
    "table",
    "variant",
    "metric",
    "reading_verdicts",
]  # reading_verdicts: {reading name: verdict}, JSON, for the conclusions

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
        if not (
            isinstance(spec, dict)
            and isinstance(spec.get("tolerance"), (int, float))
            and spec["tolerance"] > 0
            and isinstance(spec.get("metrics"), list)
        ):
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
        raise ClaimError(
            f"claims: '{label}': metric '{metric}' has no tolerance; add it to a unit of config "
            f"stats.tolerance (units: {sorted(tolerances or {})}) or give the claim a 'tolerance'"
        )
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
        if cell[key] is None:
            rows = rows[rows[key].isna()]
        elif key == "epoch" and cell[key] == "last":
            rows = rows[rows.epoch == rows.epoch.max()]
        else:
            rows = rows[rows[key].astype(str) == str(cell[key])]
    if len(rows) > 1:
        raise ClaimError(
            f"claims: '{claim_id}' matches {len(rows)} rows of {cell['table']}; "
            f"add one of {[k for k in CELL_KEYS if k not in cell]} to its cell"
        )
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
# Each rule returns (verdict, detail), in the words of VERDICTS (docs/protocol.md section 8).


def _level(row, claim, alpha, tol, unit=""):
    """A calibration statement: how our level stands to the slide's number."""
    value = claim["value"]
    if not _finite(row.ci_low, row.ci_high):
        return "inconclusive", f"no CI (n = {int(row.n)})"
    gap = row["mean"] - value
    held = "holds" if row.ci_low <= value <= row.ci_high else "excludes"
    tost = _tost(row, claim, tol)
    if not pd.isna(tost) and tost < alpha:
        return "equivalent", f"within ±{tol:g} of {value:g} by TOST (p = {tost:.2g}); our 95 % CI {held} it"
    if abs(gap) <= tol:
        return "close", (
            f"{abs(gap):.2f} from {value:g}, inside the tolerance ±{tol:g}, not shown equivalent"
            f" (TOST p = {_num(tost, 2)}); our 95 % CI {held} it"
        )
    return (
        f"ours {'higher' if gap > 0 else 'lower'} by {_amount(gap, unit)}",
        f"beyond the tolerance ±{tol:g}; our 95 % CI [{_num(row.ci_low)}, {_num(row.ci_high)}] {held} {value:g}",
    )


def _amount(x, unit) -> str:
    return f"{abs(x):.2f}" + (f" {unit}" if unit == "pp" else "")


def _claimed_point(claim):
    """(sign, point, kind): the claimed direction, the size it is judged against and whether that is
    the slides' number ('value') or a declared threshold ('threshold')."""
    point, kind = (claim["value"], "value") if "value" in claim else (claim.get("threshold"), "threshold")
    direction = claim.get("direction") or ("greater" if (point or 0) >= 0 else "less")
    return (1 if direction == "greater" else -1), point, kind


def _effect(row, claim, alpha, tol, scale: str, unit=""):
    """direction / difference: the Holm-corrected test gives the sign, the 95 % CI (of the mean for
    `direction`, of the difference for `difference`) is held against the claimed size or threshold."""
    sign, point, kind = _claimed_point(claim)
    p, delta = row.p_holm, row.delta_vs_ref
    if pd.isna(p):
        return "inconclusive", "no test (too few seeds)"
    lo, hi = (row.ci_low, row.ci_high) if scale == "mean" else (row.delta_ci_low, row.delta_ci_high)
    ci = f"our 95 % CI [{_num(lo)}, {_num(hi)}]"
    what = f"the claimed {point:g}" if kind == "value" else f"the declared threshold {point:g}"
    if p >= alpha:
        ns = f"not significant (p_holm = {p:.2g})"
        if _finite(lo, hi) and lo <= point <= hi:
            return "inconclusive", f"{ns}; {ci} holds both no effect and {what}"
        return "absent", f"{ns}; {ci} excludes {what}"
    if (delta > 0) != (sign > 0):
        return "opposite", f"significant the other way (Δ = {delta:.2f}, p_holm = {p:.2g})"
    sig = f"significant (p_holm = {p:.2g})"
    beyond, short = (lo > point, hi < point) if sign > 0 else (hi < point, lo > point)
    if kind == "threshold":
        if beyond:
            return "as claimed", f"{sig}; {ci} lies beyond {what}"
        if short:
            return "weaker than claimed", f"{sig}; {ci} falls short of {what}"
        return "inconclusive", f"{sig}; {ci} holds {what}"
    if beyond:
        return "stronger than claimed", f"{sig}; {ci} lies beyond {what}"
    if short:
        return "weaker than claimed", f"{sig}; {ci} falls short of {what}"
    return "as claimed", f"{sig}; {ci} holds {what}"


def _status(row, claim, alpha, tol, unit=""):
    ours = str(row.get("status") or "ok")
    if ours.startswith(claim["value"]):
        return "as claimed", f"status {ours}"
    return "contradicted", f"status {ours}"


def _tost(row, claim, tol) -> float:
    """p of two one-sided t-tests of |mean - slide value| < tolerance, from the row's summary."""
    se = stats.standard_error(row.n, row.get("sd"), row.ci_low, row.ci_high)
    return stats.tost(float(row["mean"]), se, int(row.n) - 1, float(claim["value"]), tol)["p"]


def _equivalence(row, claim, alpha, tol, tol_text) -> str:
    p = _tost(row, claim, tol)
    if pd.isna(p):
        return f"no test (n = {int(row.n)})"
    word = "equivalent" if p < alpha else "not shown equivalent"
    return f"{word} within {tol_text} (p = {p:.2g})"


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


def _pair_p(tables, cell, a, b, label) -> tuple[float, float]:
    """(mean a - mean b, unadjusted two-sided p): the table's own test where it tests one against
    the other (paired by seed), else Welch's t from the two rows' summaries."""
    for mine, ref, sign in ((a, b, 1), (b, a, -1)):
        tested = (
            find_cell(tables, {**cell, "variant": mine, "reference": ref}, label)
            if "reference" in tables[cell["table"]]
            else None
        )
        if tested is not None and _finite(tested.get("p")):
            return sign * float(tested.delta_vs_ref), float(tested.p)
    ra, rb = (_level_row(tables, cell, v) for v in (a, b))
    diff = ra["mean"] - rb["mean"]
    if not _finite(ra.get("sd"), rb.get("sd")) or ra.n < 2 or rb.n < 2:
        return diff, math.nan
    return diff, float(
        sps.ttest_ind_from_stats(ra["mean"], ra.sd, ra.n, rb["mean"], rb.sd, rb.n, equal_var=False).pvalue
    )


def _level_row(tables, cell, variant):
    """A variant's row for its level (mean, sd, n): any of its rows of the cell's metric (rows
    against different references share the level); None when it has none."""
    table = tables[cell["table"]]
    rows = table[(table.variant == variant) & (table.metric == cell["metric"])]
    for key in ("setting", "epoch"):
        if key in cell:
            rows = rows[rows[key].astype(str) == str(cell[key])]
    return rows.iloc[0] if len(rows) else None


def _ordering(tables, claim, alpha, label):
    """The claimed order (highest first) tested pair by pair, Holm within the claim: every pair
    significant in the claimed order: as claimed; any pair significantly reversed: contradicted."""
    variants = claim["variants"]
    cell = {k: v for k, v in claim["cell"].items() if k != "variant"}
    rows = [_level_row(tables, cell, v) for v in variants] if cell["table"] in tables else [None]
    if any(r is None for r in rows):
        return None
    mean = {v: r["mean"] for v, r in zip(variants, rows)}
    pairs = [(a, b) for i, a in enumerate(variants) for b in variants[i + 1 :]]
    tested = [_pair_p(tables, cell, a, b, label) for a, b in pairs]
    p_holm = stats.holm([p for _, p in tested])
    reversed_, held = [], []
    for (a, b), (diff, _), p in zip(pairs, tested, p_holm):
        if p < alpha:
            (held if diff > 0 else reversed_).append(f"{b} {'<' if diff > 0 else '>'} {a} (p_holm = {p:.2g})")
    text = " > ".join(f"{v} {_num(mean[v])}" for v in sorted(variants, key=lambda v: -mean[v]))
    n = min(int(r.n) for r in rows)
    test = f"{len(pairs)} pairs, Holm"
    if reversed_:
        return text, n, test, "contradicted", "significantly reversed: " + ", ".join(reversed_)
    if len(held) == len(pairs):
        return text, n, test, "as claimed", "every pair significant in the claimed order"
    return (
        text,
        n,
        test,
        "inconclusive",
        f"{len(held)} of {len(pairs)} pairs significant in the claimed order, none reversed",
    )


def _none_improve(tables, claim, alpha, label):
    """ "X don't help": the table's rows tested against the reference, less those the claim
    excludes (e.g. a variant that is the reference itself); any significantly above: contradicted."""
    table = tables.get(claim["cell"]["table"])
    if table is None:
        return None
    rows = table[
        (table.metric == claim["cell"]["metric"])
        & (table.reference == claim["cell"]["reference"])
        & ~table.variant.isin(claim.get("exclude", []))
    ]
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
    return text, n, test, "as claimed", detail


ROW_RULES = {
    "level": _level,
    "direction": lambda r, c, a, t, u="": _effect(r, c, a, t, "mean", u),
    "difference": lambda r, c, a, t, u="": _effect(r, c, a, t, "delta", u),
    "status": _status,
}
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
            raise ClaimError(
                f"claims: '{cid}': reading '{name}' has unknown key(s) {unknown}; known: {list(READING_KEYS)}"
            )
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
            raise ClaimError(
                f"claims: '{cid}': unknown rule '{claim['rule']}'; known: {sorted({**ROW_RULES, **TABLE_RULES})}"
            )
        if claim["rule"] in ("level", "status") and "value" not in claim:
            raise ClaimError(f"claims: '{cid}': rule {claim['rule']} needs a 'value'")
        if (
            claim["rule"] in ("direction", "difference")
            and "value" not in claim
            and not (isinstance(claim.get("threshold"), (int, float)) and claim.get("threshold_reason"))
        ):
            raise ClaimError(
                f"claims: '{cid}': a {claim['rule']} claim without a 'value' needs a 'threshold' (what the "
                f"slide's word must mean, in the cell's unit) and a 'threshold_reason'"
            )
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


def judge(
    tables: dict[str, pd.DataFrame], claim: dict, alpha: float, tolerances: dict | None, label: str | None = None
) -> dict:
    """ours, n, test, verdict, detail, equivalence and tolerance of one claim (or reading)."""
    label = label or claim["id"]
    rule = claim["rule"]
    tol, unit = claim_tolerance(claim, tolerances, label) if rule in TOLERANCE_RULES else (None, "")
    tol_text = _tol_text(tol, unit)
    not_run = {
        "ours": "–",
        "n": None,
        "test": "–",
        "verdict": "not run",
        "equivalence": "–",
        "tolerance": tol_text,
        "detail": f"table {claim['cell']['table']} not built, or this row not in it",
    }
    if rule in TABLE_RULES:
        got = TABLE_RULES[rule](tables, claim, alpha, label)
        if got is None:
            return not_run
        ours, n, test, word, detail = got
        return _judged(ours, n, test, word, detail, "–", tol_text)
    row = find_cell(tables, claim["cell"], label)
    if row is None:
        return not_run
    collapsed = row.get("n_collapsed")
    if (
        rule != "status"
        and _finite(collapsed)
        and collapsed > 0
        and any(fnmatch.fnmatchcase(str(row.metric), pattern) for pattern in FEATURE_METRICS)
    ):
        return {
            **not_run,
            "verdict": "not judged: collapsed",
            "ours": f"{_num(row['mean'])} ({int(collapsed)} of {int(row.n)} seeds collapsed)",
            "n": int(row.n),
            "collapsed": True,
            "detail": "a collapsed model's features are no reading of a feature-quality claim",
        }
    if rule in ("direction", "difference") and not isinstance(row.get("test"), str):
        return {
            **not_run,
            "untested": True,
            "detail": f"{claim['cell'].get('metric')} is in {claim['cell']['table']} but not tested there",
        }
    ours, n, test = _ours(row, rule)
    word, detail = ROW_RULES[rule](row, claim, alpha, tol, unit)
    equivalence = _equivalence(row, claim, alpha, tol, tol_text) if rule == "level" else "–"
    return _judged(ours, n, test, word, detail, equivalence, tol_text)


def _judged(ours, n, test, verdict, detail, equivalence, tolerance) -> dict:
    return {
        "ours": ours,
        "n": n,
        "test": test,
        "verdict": verdict,
        "detail": detail,
        "equivalence": equivalence,
        "tolerance": tolerance,
    }


def robustness(primary: str, readings: list[tuple[str, dict]]) -> str:
    """'robust' when every reading that ran gives the primary verdict, else 'depends' with the
    readings that differ (verdict and value); readings not run are listed and do not count."""
    if not readings:
        return SINGLE
    ran = [(name, r) for name, r in readings if r["verdict"] not in ("not run", "not judged: collapsed")]
    missing = [name for name, r in readings if r["verdict"] == "not run" and not r.get("untested")]
    untested = [name for name, r in readings if r.get("untested")]
    collapsed = [name for name, r in readings if r.get("collapsed")]
    tail = "".join(
        f"; {word}: {', '.join(names)}"
        for word, names in (("not run", missing), ("row not tested", untested), ("not judged, collapsed", collapsed))
        if names
    )
    if not ran:
        return "no reading run (" + tail[2:] + ")"
    if primary == "not run":
        return "primary not run; " + "; ".join(f"{name} → {r['verdict']} ({r['ours']})" for name, r in ran) + tail
    # a level's words carry its gap ("ours higher by 2.60 pp"): readings agree when their kind does
    differ = [(name, r) for name, r in ran if verdict_kind(r["verdict"]) != verdict_kind(primary)]
    if not differ:
        return f"robust ({len(ran)} reading{'s agree' if len(ran) > 1 else ' agrees'})" + tail
    agree = [name for name, r in ran if verdict_kind(r["verdict"]) == verdict_kind(primary)]
    return (
        "depends: "
        + "; ".join(f"{name} → {r['verdict']} ({r['ours']})" for name, r in differ)
        + (f"; agree: {', '.join(agree)}" if agree else "")
        + tail
    )


def verdict(tables: dict[str, pd.DataFrame], claim: dict, alpha: float, tolerances: dict | None) -> dict:
    """One ledger row for one claim: its primary cell's verdict, and the robustness of that
    verdict across the claim's readings."""
    entry = {k: claim.get(k) for k in ("id", "slide", "claim", "slide_value", "rule")}
    entry.update(
        table=claim["cell"]["table"], variant=claim["cell"].get("variant", ""), metric=claim["cell"].get("metric", "")
    )
    primary = judge(tables, claim, alpha, tolerances)
    readings = [
        (r["name"], judge(tables, reading_claim(claim, r), alpha, tolerances, f"{claim['id']} / {r['name']}"))
        for r in claim.get("readings", [])
    ]
    primary.pop("untested", None)
    primary.pop("collapsed", None)
    entry["reading_verdicts"] = json.dumps({name: r["verdict"] for name, r in readings}, ensure_ascii=False)
    listed = (
        "; ".join(
            f"{name}: "
            + (
                "not run, row not tested"
                if r.get("untested")
                else r["verdict"]
                if r["verdict"] == "not run"
                else f"{r['verdict']} ({r['ours']})"
            )
            for name, r in readings
        )
        or "–"
    )
    out = {**entry, **primary, "robustness": robustness(primary["verdict"], readings), "readings": listed}
    if claim.get("ladder") in tables:  # a gap ladder of this number ran (PROTOCOL section 11)
        out[EXPLAINED] = explained_by(tables[claim["ladder"]])
    return out


def build_ledger(
    tables: dict[str, pd.DataFrame], claims: list[dict], alpha: float, tolerances: dict | None
) -> pd.DataFrame:
    check_claims(claims, tolerances)
    rows = [verdict(tables, c, alpha, tolerances) for c in claims]
    # the "explained by" column only where a ladder ran: a run without one keeps its ledger as it was
    extra = [EXPLAINED] if any(EXPLAINED in r for r in rows) else []
    ledger = pd.DataFrame(rows, columns=LEDGER_COLUMNS + extra)
    ledger["n"] = ledger["n"].astype("Int64")  # 5, not 5.0; empty where not run
    return ledger


# --- output ---------------------------------------------------------------------------------------


def _n(r: dict) -> str:
    return "–" if pd.isna(r["n"]) else str(int(r["n"]))


def verdict_kind(verdict: str, vocabulary: tuple[str, ...] = VERDICTS) -> str:
    """The word of the vocabulary a verdict starts with ('ours higher by 2.60 pp' -> 'ours higher by')."""
    return next(v for v in vocabulary if str(verdict).startswith(v))


def count_verdicts(verdicts, vocabulary: tuple[str, ...] = VERDICTS) -> str:
    """'equivalent 1, close 2, ours higher 11, …': how many verdicts are of each kind, in the
    vocabulary's order, leaving out the kinds none has."""
    kinds = [verdict_kind(v, vocabulary) for v in verdicts]
    return ", ".join(f"{v.removesuffix(' by')} {kinds.count(v)}" for v in vocabulary if kinds.count(v))


def _summary(ledger: pd.DataFrame) -> str:
    return "Verdicts: " + count_verdicts(ledger.verdict)


ROBUSTNESS = ("robust", "depends", "no reading run", "primary not run", SINGLE)


def _robust_summary(ledger: pd.DataFrame) -> str:
    kinds = [next((k for k in ROBUSTNESS if str(s).startswith(k)), "") for s in ledger.robustness]
    return "Robustness across readings: " + ", ".join(f"{k} {kinds.count(k)}" for k in ROBUSTNESS)


def tolerance_text(tolerances: dict | None) -> str:
    return ", ".join(f"{unit} ±{spec['tolerance']:g}" for unit, spec in (tolerances or {}).items()) or "none declared"


RULES_TEXT = (
    "The verdict words and the rule behind each are in docs/protocol.md section 8 (claims) and "
    "section 8.1 (conclusions)."
)


def to_rst(ledger: pd.DataFrame, preset: str) -> str:
    """The ledger as a reStructuredText list-table, for the front page of the Snakemake report."""
    quick = reduced_banner(preset).replace(" — ", " (", 1) + (")" if reduced_banner(preset) else "")
    head = [
        "slide",
        "claim",
        "slide value",
        "ours (mean [95 % CI])",
        "n",
        "verdict",
        "why",
        "equivalence",
        "robustness",
    ]
    lines = [
        "Claims ledger",
        "-------------",
        "",
        f"Preset {preset}{quick}. {_summary(ledger)}. {_robust_summary(ledger)}.",
        "",
        *rst_list_table(
            [head]
            + [
                [
                    r["slide"],
                    r["claim"],
                    r["slide_value"],
                    r["ours"],
                    _n(r),
                    r["verdict"],
                    r["detail"],
                    r["equivalence"],
                    r["robustness"],
                ]
                for r in ledger.to_dict("records")
            ]
        ),
    ]
    return "\n".join(lines) + "\n"


def rst_list_table(rows: list[list]) -> list[str]:
    """The lines of a reStructuredText list-table whose first row is the header."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for cells in rows:
        for i, cell in enumerate(cells):
            text = str(cell).replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|")
            lines.append(("   * - " if i == 0 else "     - ") + (text or "–"))
    return lines


def to_markdown(ledger: pd.DataFrame, preset: str, tolerances: dict | None = None) -> str:
    quick = reduced_banner(preset)
    explained = EXPLAINED in ledger
    lines = [
        "### Claims ledger: the slides' claims against this pipeline's numbers",
        "",
        f"**preset: {preset}**{quick}",
        "",
        _summary(ledger),
        "",
        _robust_summary(ledger),
        "",
        "| slide | claim | slide | ours (mean [95 % CI]) | n | test | verdict | why | equivalence | robustness |"
        + (" explained by (gap ladder) |" if explained else ""),
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if explained else ""),
    ]
    for r in ledger.to_dict("records"):
        lines.append(
            "| "
            + " | ".join(
                [
                    r["slide"],
                    r["claim"],
                    r["slide_value"],
                    r["ours"],
                    _n(r),
                    r["test"],
                    f"**{r['verdict']}**",
                    r["detail"],
                    r["equivalence"],
                    r["robustness"],
                    *([r[EXPLAINED] if isinstance(r[EXPLAINED], str) else "–"] if explained else []),
                ]
            ).replace("\n", " ")
            + " |"
        )
    lines += [
        "",
        (
            f"- Rules (ffmodels/ledger.py, PROTOCOL 8), each at the declared tolerance of the cell's unit "
            f"(config stats.tolerance: {tolerance_text(tolerances)}; a claim may set its own): {RULES_TEXT}"
        ),
        "- 'not run' = the experiment is not in this preset's config (or the table does not test that row).",
        "- Claims, their readings and the cells that answer them: claims.yaml.",
    ]
    return "\n".join(lines) + "\n"


def write_ledger(
    tables: dict[str, pd.DataFrame],
    claims: list[dict],
    alpha: float,
    tolerances: dict,
    preset: str,
    csv: Path,
    md: Path,
) -> pd.DataFrame:
    """Build the ledger and write it as CSV and Markdown."""
    ledger = build_ledger(tables, claims, alpha, tolerances)
    ledger.insert(0, "preset", preset)
    Path(csv).parent.mkdir(parents=True, exist_ok=True)
    ledger.to_csv(csv, index=False)
    Path(md).write_text(to_markdown(ledger, preset, tolerances))
    return ledger
