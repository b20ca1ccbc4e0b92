"""The deck's conclusions, each judged from the claims that decide it (PROTOCOL section 8.1).

A conclusion is data (conclusions.yaml): its words, the claims of the ledger that decide it
(`decided_by`: effect claims — direction, difference, ordering, none_improve, status — whose
verdict says whether the effect is there) and the claims whose numbers it quotes (`numbers`:
levels, shown, no vote). One rule turns the deciding claims' verdicts into one verdict:

1. a deciding claim against the conclusion (opposite, contradicted) in every reading that was
   judged: `contradicted`;
2. a deciding claim whose readings disagree across the line between support and its absence
   (e.g. one probe setting shows the effect, another the opposite): `depends on <readings>`;
3. a deciding claim absent (no significant effect, the claimed one excluded) or inconclusive:
   `not supported`;
4. otherwise every deciding claim shows the effect: `holds, weaker than claimed` when one of them
   is weaker than claimed, `holds, stronger than claimed` when all are stronger, else `holds`.

A conclusion none of whose deciding claims ran is `not run`.
"""

from __future__ import annotations

import json

import pandas as pd

from ffmodels.ledger import TABLE_RULES, count_verdicts, rst_list_table
from ffmodels.tables import reduced_banner

SUPPORT = ("as claimed", "stronger than claimed", "weaker than claimed")
AGAINST = ("opposite", "contradicted")
NO_EFFECT = ("absent", "inconclusive")
CONCLUSION_VERDICTS = (
    "holds",
    "holds, stronger than claimed",
    "holds, weaker than claimed",
    "depends on",
    "not supported",
    "contradicted",
    "not run",
)
DECIDING_RULES = ("direction", "difference", "status", *TABLE_RULES)
KEYS = ("id", "slide", "conclusion", "decided_by", "numbers")
COLUMNS = ["id", "slide", "conclusion", "verdict", "because", "numbers", "decided_by"]


class ConclusionError(ValueError):
    """A conclusion that lacks a key, has an unknown one, or names a claim that is not a deciding
    one (a level claim, or an id not in claims.yaml)."""


def check_conclusions(conclusions: list[dict], claims: list[dict]) -> None:
    rules = {c["id"]: c["rule"] for c in claims}
    seen = set()
    for c in conclusions:
        cid = c.get("id", "?")
        missing = [k for k in ("id", "slide", "conclusion", "decided_by") if k not in c]
        if missing:
            raise ConclusionError(f"conclusions: '{cid}' lacks {missing}")
        unknown = sorted(set(c) - set(KEYS))
        if unknown:
            raise ConclusionError(f"conclusions: '{cid}': unknown key(s) {unknown}; known: {list(KEYS)}")
        if cid in seen:
            raise ConclusionError(f"conclusions: duplicate id '{cid}'")
        seen.add(cid)
        for claim in [*c["decided_by"], *c.get("numbers", [])]:
            if claim not in rules:
                raise ConclusionError(f"conclusions: '{cid}': claim '{claim}' is not in claims.yaml")
        for claim in c["decided_by"]:
            if rules[claim] not in DECIDING_RULES:
                raise ConclusionError(
                    f"conclusions: '{cid}': '{claim}' is a {rules[claim]} claim; a conclusion is "
                    f"decided by effect claims ({', '.join(DECIDING_RULES)}), levels go in 'numbers'"
                )


def _side(verdict: str) -> str | None:
    return (
        "support"
        if verdict in SUPPORT
        else "against"
        if verdict in AGAINST
        else "no effect"
        if verdict in NO_EFFECT
        else None
    )


def judge_conclusion(conclusion: dict, ledger: dict[str, dict]) -> tuple[str, str]:
    """(verdict, because) of one conclusion from the ledger rows of its claims (by id)."""
    rows = [ledger[c] for c in conclusion["decided_by"]]
    ran = [r for r in rows if _side(r["verdict"])]
    if not ran:
        return "not run", "no deciding claim ran"
    because = "; ".join(f"{r['claim']}: {r['verdict']} (slides {r['slide_value']}, ours {r['ours']})" for r in ran)
    readings = {
        r["id"]: {k: v for k, v in json.loads(r.get("reading_verdicts") or "{}").items() if _side(v)} for r in ran
    }
    if any(r["verdict"] in AGAINST and all(_side(v) == "against" for v in readings[r["id"]].values()) for r in ran):
        return "contradicted", because
    flips = {
        name: v
        for r in ran
        for name, v in readings[r["id"]].items()
        if {_side(v), _side(r["verdict"])} in ({"support", "against"}, {"support", "no effect"})
    }
    if flips:
        return "depends on " + ", ".join(f"{name} ({v})" for name, v in flips.items()), because
    if any(_side(r["verdict"]) == "no effect" for r in ran):
        return "not supported", because
    if any(r["verdict"] == "weaker than claimed" for r in ran):
        return "holds, weaker than claimed", because
    if all(r["verdict"] == "stronger than claimed" for r in ran):
        return "holds, stronger than claimed", because
    return "holds", because


def build_conclusions(conclusions: list[dict], ledger: pd.DataFrame) -> pd.DataFrame:
    by_id = {r["id"]: r for r in ledger.to_dict("records")}
    out = []
    for c in conclusions:
        verdict, because = judge_conclusion(c, by_id)
        numbers = "; ".join(
            f"{by_id[n]['claim']}: slides {by_id[n]['slide_value']}, ours {by_id[n]['ours']} ({by_id[n]['verdict']})"
            for n in c.get("numbers", [])
        )
        out.append(
            {
                "id": c["id"],
                "slide": c["slide"],
                "conclusion": c["conclusion"],
                "verdict": verdict,
                "because": because,
                "numbers": numbers or "–",
                "decided_by": ", ".join(c["decided_by"]),
            }
        )
    return pd.DataFrame(out, columns=COLUMNS)


def verdict_counts(verdicts) -> str:
    return count_verdicts(verdicts, CONCLUSION_VERDICTS)


def to_markdown(table: pd.DataFrame, preset: str) -> str:
    lines = [
        "### The deck's conclusions, judged from the claims that decide them",
        "",
        f"**preset: {preset}**{reduced_banner(preset)}",
        "",
        "Verdicts: " + verdict_counts(table.verdict),
        "",
        "| conclusion (slide) | verdict | because (deciding claims: verdict, slides, ours) | numbers it quotes |",
        "|---|---|---|---|",
    ]
    for r in table.to_dict("records"):
        lines.append(f"| {r['conclusion']} ({r['slide']}) | **{r['verdict']}** | {r['because']} | {r['numbers']} |")
    lines += [
        "",
        "- Rule (docs/protocol.md section 8.1): a deciding claim against the conclusion in every judged "
        "reading: contradicted; readings on both sides: depends on them; no effect: not supported; else holds "
        "(weaker / stronger than claimed by its claims' sizes).",
        "- Conclusions and their deciding claims: conclusions.yaml; each claim's row: the claims ledger below.",
    ]
    return "\n".join(lines) + "\n"


def judge_all(conclusions: list[dict], claims: list[dict], ledger: pd.DataFrame, preset: str) -> pd.DataFrame:
    """The conclusions table of a ledger (checked against the claims first)."""
    check_conclusions(conclusions, claims)
    table = build_conclusions(conclusions, ledger)
    table.insert(0, "preset", preset)
    return table


def to_rst(table: pd.DataFrame, preset: str) -> str:
    """The conclusions as a reStructuredText list-table, leading the report's front page."""
    lines = [
        "The deck's conclusions",
        "----------------------",
        "",
        f"Preset {preset}{reduced_banner(preset)}. Verdicts: {verdict_counts(table.verdict)}.",
        "",
        *rst_list_table(
            [["conclusion (slide)", "verdict", "because"]]
            + [[f"{r['conclusion']} ({r['slide']})", r["verdict"], r["because"]] for r in table.to_dict("records")]
        ),
    ]
    return "\n".join(lines) + "\n"
