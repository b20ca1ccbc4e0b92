"""The README's generated blocks, written from results/published/ by `python -m tools.readme`, so
that no number in the README is typed by hand.

- `answer`: the deck's conclusions as the full preset's published run (LEAD) judges them, each
  with its verdict and the deciding numbers (ours, the slides'), from its conclusions.csv and
  claims_ledger.csv; the counts of each verdict lead it.
- `gaps`: each slides' number a gap ladder goes to (claims.yaml `ladder`, docs/protocol.md
  section 11): ours (LEAD), upstream's recipe as rerun here and what explains the gap, from the
  published ladder runs (LADDERS) by ffmodels.tables.ladder.explained_by, the ledger's own words.
- `hypothesis`: what orders transfer across the models (docs/protocol.md section 5.1): per
  quantity, Spearman's rho with transfer over all models and within the FF variants, from the
  table root_cause_hypothesis of the full preset's published run (LEAD's, else the newest other
  full run's: the test lands before a rerun's last table does).
- `presets`: one cost line per preset, from the published run of that preset: the full preset's
  CPU time of every job (benchmarks.tsv), the quick preset's wall time (RUN.md), the FF/BP
  subset's wall time (timing.txt).

The hand-written prose around them quotes numbers too; tests/test_docs.py checks each against
the published tables.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import yaml

from ffmodels.conclusions import verdict_counts
from ffmodels.tables import TRANSFER_METRIC, hypothesis
from ffmodels.tables.ladder import TEST_SELECTED, explained_by, is_test_selected, recipe_rung
from tools.publish import published_ladders, run_fields

LEAD = "full"
HYPOTHESIS = "root_cause_hypothesis"  # the table of kind hypothesis (config.yaml tables)
LADDERS = ("upstream", "upstream-cwc")  # the published runs of the ladder presets (presets/upstream_*.yaml)
PRESET_RUNS = {"full": "full", "quick": "quick", "full_ff_bp_cpu": "full-ff-bp-cpu"}


def begin(block: str) -> str:
    return f"<!-- {block}: written by `python -m tools.readme` from results/published/; edits here are overwritten -->"


def end(block: str) -> str:
    return f"<!-- /{block} -->"


def _rows(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def ladder_folders(published: Path) -> list[Path]:
    """The published ladder runs (LADDERS) under `published`."""
    return [published / name for name in LADDERS]


def _claims(config: dict) -> list[dict]:
    return yaml.safe_load(Path(config.get("claims", "claims.yaml")).read_text())


def ladder_links(published: Path, config: dict) -> dict[str, str]:
    """{conclusion id: links to the published gap ladders of the slides' numbers it quotes}."""
    claims = _claims(config)
    value = {c["id"]: c["slide_value"] for c in claims}
    link = {
        cid: f"[{value[cid]}]({path.with_suffix('.md')})"
        for cid, path in published_ladders(ladder_folders(published), claims).items()
    }
    conclusions = yaml.safe_load(Path(config.get("conclusions", "conclusions.yaml")).read_text())
    quoted = {c["id"]: [link[n] for n in c.get("numbers", []) if n in link] for c in conclusions}
    return {cid: "gap ladder: " + ", ".join(links) for cid, links in quoted.items() if links}


def answer_section(published: Path, config: dict) -> str:
    """The conclusions table of the full run: each conclusion, its verdict, and per deciding claim
    ours against the slides'; a conclusion quoting a slides' number that a published gap ladder goes
    to links it."""
    lead = published / LEAD
    if not (lead / "conclusions.csv").is_file():
        return "The full run has no conclusions yet.\n"
    conclusions = _rows(lead / "conclusions.csv")
    claims = {r["id"]: r for r in _rows(lead / "claims_ledger.csv")}
    links = ladder_links(published, config)
    lines = [
        f"Of the deck's {len(conclusions)} conclusions, judged on the full run "
        f"(n = {max(int(r['n']) for r in claims.values() if r['n'])} seeds): "
        f"{verdict_counts(r['verdict'] for r in conclusions)}.",
        "",
        "| the deck concludes | verdict | deciding numbers: ours (slides) |",
        "|---|---|---|",
    ]
    for r in conclusions:
        conclusion = r["conclusion"] + (f" ({links[r['id']]})" if r["id"] in links else "")
        lines.append(f"| {conclusion} | **{r['verdict']}** | {deciding_numbers(r, claims)} |")
    return "\n".join(lines) + "\n"


def deciding_numbers(conclusion: dict, claims: dict[str, dict]) -> str:
    """Ours (the slides') for each deciding claim that ran, one entry for claims that read the same
    cell; for a conclusion that depends on readings, those readings' numbers too."""
    by_value: dict[str, list[str]] = {}
    for cid in conclusion["decided_by"].split(", "):
        if claims[cid]["verdict"] != "not run":  # its table is not in this run: no number to show
            by_value.setdefault(claims[cid]["ours"], []).append(claims[cid]["slide_value"])
    parts = [f"{ours} ({'; '.join(slides)})" for ours, slides in by_value.items()]
    if conclusion["verdict"].startswith("depends on"):
        named = {}
        for cid in conclusion["decided_by"].split(", "):
            for reading in claims[cid]["readings"].split("; "):
                name, _, rest = reading.partition(": ")
                if f"{name} (" in conclusion["verdict"] and "(" in rest:
                    named.setdefault(name, rest[rest.index("(") + 1 : -1])
        parts += [f"{name}: {ours}" for name, ours in named.items()]
    return "; ".join(parts)


def gaps_section(published: Path, config: dict) -> str:
    """Per slides' number with a gap ladder: ours, upstream's recipe as rerun here (the ladder's last
    rung, n seeds) and what explains the gap; "not run yet" where its ladder is not published."""
    claims = _claims(config)
    found = published_ladders(ladder_folders(published), claims)
    ours = {r["id"]: r["ours"] for r in _rows(published / LEAD / "claims_ledger.csv")}
    lines = [
        "| the slides' number | ours | upstream's recipe, rerun here | what explains the gap |",
        "|---|---|---|---|",
    ]
    for c in [c for c in claims if "ladder" in c]:
        if c["id"] not in found:
            lines.append(f"| {c['claim']}: {c['slide_value']} | {ours[c['id']]} | not run yet | – |")
            continue
        ladder = pd.read_csv(found[c["id"]])
        recipe = recipe_rung(ladder)
        on_test = f", {TEST_SELECTED}" if is_test_selected(recipe) else ""
        lines.append(
            f"| [{c['claim']}]({found[c['id']].with_suffix('.md')}): {c['slide_value']} | {ours[c['id']]} "
            f"| {recipe['mean']:.2f} [{recipe.ci_low:.2f}, {recipe.ci_high:.2f}] (n = {recipe.n}{on_test}) "
            f"| {explained_by(ladder)} |"
        )
    return "\n".join(lines) + "\n"


def hypothesis_run(published: Path) -> Path | None:
    """The published full-preset run whose hypothesis table the README quotes: LEAD if it has one,
    else the most recently published other run of the full preset that has one."""
    others = [f for f in published.iterdir() if f.name != LEAD and run_fields(f).get("preset") == "full"]
    others.sort(key=lambda f: run_fields(f).get("published", ""), reverse=True)
    return next((f for f in [published / LEAD, *others] if (f / f"{HYPOTHESIS}.csv").is_file()), None)


ORDERS = {  # a correlation's status (ffmodels.tables.hypothesis) as the README's cell says it
    hypothesis.AS_PREDICTED: "yes, as predicted",
    hypothesis.OPPOSITE: "yes, the opposite way",
    hypothesis.NO_ORDER: "no",
    hypothesis.NOT_MEASURED: "not measured",
}


def hypothesis_section(published: Path, config: dict) -> str:
    """Per quantity its rank correlation with transfer over all models and within the FF variants,
    and a line naming the quantities that order transfer as their explanation predicts."""
    folder = hypothesis_run(published)
    if folder is None:
        return f"No published run of the full preset has this table (`{HYPOTHESIS}`) yet.\n"
    table = pd.read_csv(folder / f"{HYPOTHESIS}.csv")
    rho = table[table.variant.isin(list(hypothesis.SCOPES))].set_index(["variant", "metric"])
    names = [m[len(hypothesis.RHO_PREFIX) :] for m in dict.fromkeys(rho.index.get_level_values("metric"))]
    count = {scope: int(rho.loc[scope].n.max()) for scope in hypothesis.SCOPES}
    seeds = int(table[table.metric == TRANSFER_METRIC].n.max())

    def cell(scope: str, name: str) -> str:
        r = rho.loc[(scope, hypothesis.RHO_PREFIX + name)]
        number = "–" if pd.isna(r["mean"]) else f"{r['mean']:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]"
        fewer = f" ({int(r.n)} models)" if int(r.n) != count[scope] else ""  # a quantity some models lack
        return f"{number}{fewer}: {ORDERS[r.status]}"

    def ordering(scope: str) -> str:
        found = [
            hypothesis.QUANTITIES[n].words
            for n in names
            if rho.loc[(scope, hypothesis.RHO_PREFIX + n)].status == hypothesis.AS_PREDICTED
        ]
        return "; ".join(found) if found else "none"

    lines = [
        f"From run [`{folder.name}`]({folder}/RUN.md) ([table]({folder}/{HYPOTHESIS}.md), "
        f"[figure]({folder}/{HYPOTHESIS}.png)), n = {seeds} seeds a model. What orders transfer as its "
        f"explanation predicts, over all {count['all_models']} models: {ordering('all_models')}. "
        f"Within the {count['ff_variants']} trained FF variants: {ordering('ff_variants')}.",
        "",
        f"| quantity (the explanation it tests) | ρ over all {count['all_models']} models: orders transfer? "
        f"| ρ within the {count['ff_variants']} FF variants |",
        "|---|---|---|",
    ]
    for name in names:
        q = hypothesis.QUANTITIES[name]
        lines.append(f"| {q.words} ({q.explains}) | {cell('all_models', name)} | {cell('ff_variants', name)} |")
    return "\n".join(lines) + "\n"


def preset_cost(published: Path, preset: str) -> str:
    """What the preset's published run took, in words."""
    folder = published / PRESET_RUNS[preset]
    if (folder / "benchmarks.tsv").is_file() and preset == "full":
        from tools.cost import run_cpu_seconds

        seconds, estimated = run_cpu_seconds([folder / "benchmarks.tsv"])
        resumed = (
            f", {estimated} job{'s' if estimated > 1 else ''} resumed after a stop counted at the median of "
            f"{'their' if estimated > 1 else 'its'} kind's whole runs"
            if estimated
            else ""
        )
        return (
            f"{seconds / 3600:.0f} core-hours of CPU jobs on a 2-core machine{resumed} "
            f"([run `{folder.name}`]({folder}/RUN.md)); a GPU box runs several jobs at once"
        )
    if (folder / "RUN.md").is_file():
        wall = run_fields(folder).get("wall time so far", "?").split(" (")[0]
        return f"{wall} on 2 CPU cores ([run `{folder.name}`]({folder}/RUN.md))"
    if (folder / "timing.txt").is_file():
        real = re.search(r"^real\s+(\d+)m", (folder / "timing.txt").read_text(), flags=re.M)
        return f"{real.group(1)} min on 2 CPU cores ([run `{folder.name}`]({folder}/timing.txt))" if real else "?"
    return "not published yet"


PRESET_WHAT = {
    "full": "every experiment of docs/protocol.md, 5 seeds: the reproduction",
    "quick": "every stage, table and figure, 3 seeds, models trained for minutes: a pipeline check, no answer",
    "full_ff_bp_cpu": "the full recipe for standard FF and backprop only, with the RQ3 analyses",
}


def presets_section(published: Path, config: dict) -> str:
    lines = ["| preset | what | cost of its published run |", "|---|---|---|"]
    lines += [f"| `{p}` | {what} | {preset_cost(published, p)} |" for p, what in PRESET_WHAT.items()]
    return "\n".join(lines) + "\n"


BLOCKS = {
    "answer": answer_section,
    "hypothesis": hypothesis_section,
    "gaps": gaps_section,
    "presets": presets_section,
}


def with_block(readme: str, block: str, section: str) -> str:
    """The README text with the generated block replaced by `section`."""
    start, stop = readme.index(begin(block)) + len(begin(block)), readme.index(end(block))
    return readme[:start] + "\n" + section + readme[stop:]


def generated(readme: str, published: Path, config: dict) -> str:
    """The README with every generated block written afresh from `published`."""
    for block, section in BLOCKS.items():
        readme = with_block(readme, block, section(published, config))
    return readme


def write(
    readme: Path = Path("README.md"), published: Path = Path("results/published"), config: Path = Path("config.yaml")
) -> Path:
    readme.write_text(generated(readme.read_text(), published, yaml.safe_load(config.read_text())))
    return readme


if __name__ == "__main__":
    print(write())
