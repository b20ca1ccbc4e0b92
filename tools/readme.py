"""The README's Results section and its cost table, written from results/published/ (by
`python -m tools.readme`), so that no number in the README is typed by hand and it shows
what the published runs say.

It leads with the full preset's run (LEAD): where the run stands, its claims ledger (verdict
counts, then every claim that has a verdict), source against transfer accuracy of every model,
the figures that matter most, and links to every table. Until the full run has those tables, the
source/transfer numbers come from the first earlier run that has them (EARLIER). The quick
preset's ledger follows as a pipeline demonstration. The cost block is the full preset's cost
table written before the run (cost-estimate.md), with the finished jobs' CPU time against it,
then what the full preset's jobs took on a GPU machine (GPU_RUNS), where one is published.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from ffmodels.ledger import verdict_counts as ledger_verdict_counts
from tools.publish import PAGE, published_rows, run_fields

LEAD = "full"
EARLIER = ["full-ff-bp-cpu"]          # published runs of the full recipe on part of the matrix
DEMO = "quick"
# The README's figures, each the first of its alternatives the full run has drawn: every model's
# source against transfer needs RQ1, RQ2, RQ4 and CwC-FF; until then RQ2's transfer bars say it.
KEY_FIGURES = [("source_vs_transfer", "rq2_transfer"), ("rq3_over_training",), ("rq4_overview",)]
COST_TABLE = "cost-estimate.md"  # python -m tools.cost --out, published with the run before it starts
GPU_RUNS = ["full-gpu-h200"]     # published runs of the full preset on a GPU machine (gpu/check.sh)


def begin(block: str) -> str:
    return f"<!-- {block}: written by `python -m tools.readme` from results/published/; edits here are overwritten -->"


def end(block: str) -> str:
    return f"<!-- /{block} -->"


def _rows(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


table_rows = published_rows  # every row of every table a published run holds (not its ledger)


def _run_line(folder: Path) -> str:
    """Commit, date, machine and wall time from the run's RUN.md, and the tables it keeps from an earlier run."""
    fields = run_fields(folder)
    kept = f"; tables kept from an earlier run: {fields['tables kept from an earlier run']}" \
        if "tables kept from an earlier run" in fields else ""
    return (f"commit {fields.get('commit', '?')}, published {fields.get('published', '?')}, "
            f"{fields.get('machine', '?')}; wall time so far: {fields.get('wall time so far', '?')}"
            + (f"; all its folders: {fields['wall time of all its folders']}"
               if "wall time of all its folders" in fields else "")
            + kept)


def verdict_counts(ledger: list[dict]) -> str:
    return ledger_verdict_counts(r["verdict"] for r in ledger)


def ledger_rows(ledger: list[dict]) -> list[str]:
    """One line per claim with a verdict (n in its own column only where it differs between
    claims); the claims not run yet named in one sentence."""
    judged = [r for r in ledger if r["verdict"] != "not run"]
    ns = {r["n"] for r in judged}
    lines = [f"Every claim with a verdict{f', n = {next(iter(ns))} seeds each' if len(ns) == 1 else ''}:", "",
             "| slide | claim | slides | ours (mean [95 % CI]) |" + (" n |" if len(ns) > 1 else "")
             + " verdict | across readings |", "|---" * (6 + (len(ns) > 1)) + "|"]
    for r in judged:
        robust = r["robustness"].split(":")[0].split(" (")[0]
        lines.append(f"| {r['slide']} | {r['claim']} | {r['slide_value']} | {r['ours']} |"
                     + (f" {r['n']} |" if len(ns) > 1 else "") + f" **{r['verdict']}** | {robust} |")
    not_run = [r["id"] for r in ledger if r["verdict"] == "not run"]
    if not_run:
        lines += ["", f"Not run yet ({len(not_run)}, their tables are not finished): " + ", ".join(not_run) + "."]
    return lines


def source_vs_transfer(folder: Path) -> list[str]:
    """Every model of the run's RQ2 table: source accuracy (from whichever table has it), transfer
    accuracy and its paired difference to the model's random init."""
    source = {}
    for r in table_rows(folder):
        if r["metric"] == "source_acc":
            source.setdefault(r["variant"], r)
    transfer = [r for r in _rows(folder / "rq2_transfer.csv") if r["metric"] == "transfer_acc"]
    lines = ["| model | n | MNIST test accuracy (%) | Fashion-MNIST linear probe on frozen features (%) | "
             "Δ vs its random init (pp, paired by seed) | p (Holm within rq2_transfer) |", "|---|---|---|---|---|---|"]
    for r in transfer:
        s = source.get(r["variant"])
        src = f"{float(s['mean']):.2f} [{float(s['ci_low']):.2f}, {float(s['ci_high']):.2f}]" if s else "–"
        delta = f"{float(r['delta_vs_ref']):+.2f} vs {r['reference']}" if r["delta_vs_ref"] else "–"
        p = f"{float(r['p_holm']):.2g}" if r["p_holm"] else "–"
        lines.append(f"| {r['variant']} | {r['n']} | {src} | {float(r['mean']):.2f} "
                     f"[{float(r['ci_low']):.2f}, {float(r['ci_high']):.2f}] | {delta} | {p} |")
    return lines


def _titles(config: dict) -> dict:
    return {**{k: v["title"] for k, v in config["tables"].items()},
            **{k: v["title"] for k, v in config.get("figures", {}).items()}}


def results_section(published: Path, config: dict) -> str:
    lead = published / LEAD
    tables = sorted(p.stem for p in lead.glob("*.md") if p.stem in config["tables"])
    lines = [f"**The full preset** (`config.yaml`: every experiment, {len(config['seeds'])} seeds), "
             f"run `{LEAD}` on this project's 2-core CPU ([RUN.md]({lead / 'RUN.md'})): {_run_line(lead)}; "
             f"{len(tables)} of its {len(config['tables'])} tables finished.", ""]
    if (lead / "claims_ledger.csv").is_file():
        ledger = _rows(lead / "claims_ledger.csv")
        lines += [f"Claims ledger ([all columns]({lead / 'claims_ledger.md'})): {verdict_counts(ledger)}.", "",
                  *ledger_rows(ledger), ""]
    else:
        lines += ["No table of the full run is finished yet, so its ledger has no verdict.", ""]
    numbers = next((f for f in [lead, *(published / e for e in EARLIER)]
                    if (f / "rq2_transfer.csv").is_file()), None)
    if numbers is not None:
        note = "" if numbers == lead else (f" — from the earlier run `{numbers.name}` (the full recipe for standard FF "
                                           f"and backprop only, [its tables]({numbers}/)), until the full run has them")
        lines += [f"Source against transfer accuracy, mean [95 % CI] over seeds{note}:", "",
                  *source_vs_transfer(numbers), ""]
    titles = _titles(config)
    for alternatives in KEY_FIGURES:
        fig = next((f for f in alternatives if (lead / f"{f}.png").is_file()), None)
        if fig:
            lines += [f"![{titles.get(fig, fig)}]({lead / f'{fig}.png'})", ""]
    if tables:
        lines += ["Every table of the full run: " + ", ".join(f"[{t}]({lead / f'{t}.md'})" for t in tables) + ".", ""]
    demo = published / DEMO
    if (demo / "claims_ledger.csv").is_file():
        lines += [f"*Pipeline demonstration*: the quick preset (every stage, models trained for minutes, answers "
                  f"nothing) gives {verdict_counts(_rows(demo / 'claims_ledger.csv'))} "
                  f"([its ledger]({demo / 'claims_ledger.md'})). Every published run, every table: "
                  f"the {PAGE} of each folder under [results/published/]({published}/).", ""]
    return "\n".join(lines).rstrip() + "\n"


def cost_section(published: Path, config: dict) -> str:
    """The summary of the cost table written before the full run, then, once the run has
    finished jobs, their CPU time against what the table said for them."""
    from tools import cost

    lead = published / LEAD
    table = lead / COST_TABLE
    if not table.is_file():
        return "No cost table is published for the full preset yet.\n"
    lines = [cost.read_summary(table).rstrip(), "",
             f"Every job's row and where its cost comes from: [{COST_TABLE}]({table})."]
    estimate = cost.read_estimate(table)
    if (lead / "benchmarks.tsv").is_file():
        lines += ["", "What the full run's finished jobs took so far (in all its folders: benchmarks.tsv), "
                      "against the table:", "",
                  cost.against_benchmarks(estimate, [lead / "benchmarks.tsv"]).rstrip()]
    for name in GPU_RUNS:
        if (published / name / "benchmarks.tsv").is_file():
            lines += ["", *gpu_rows(published / name, estimate)]
    return "\n".join(lines) + "\n"


def gpu_rows(folder: Path, estimate: dict) -> list[str]:
    """The wall time of each job a GPU run of the full preset finished (several jobs sharing the
    GPU, as its command says), beside the CPU cost table's time for the same job."""
    from statistics import median

    from tools import cost

    fields = run_fields(folder)
    lines = [f"On a GPU machine, run `{folder.name}` ({fields.get('machine', '?')}; its command and how far it "
             f"got: [RUN.md]({folder / 'RUN.md'})): wall time per finished job, with the other jobs of the run "
             "sharing the GPU (GPU_SLOTS in its command), beside one CPU core's time for the same job in the cost "
             f"table ([{COST_TABLE}]({folder.parent / LEAD / COST_TABLE}): measured or estimated, as its rows say):",
             "", "| rule | run | jobs | GPU wall s per job (median) | CPU s per job (cost table) |",
             "|---|---|---|---|---|"]
    for (rule, run, metric), seconds in sorted(cost.read_benchmarks([folder / "benchmarks.tsv"], wall=True).items(),
                                               key=lambda item: (item[0][0], item[0][1], item[0][2] or "")):
        cpu = estimate.get((rule, run, metric))
        lines.append(f"| {rule} | {run}{f' ({metric})' if metric else ''} | {len(seconds)} | {median(seconds):.0f} | "
                     f"{'–' if cpu is None else f'{cpu:.0f}'} |")
    return lines


BLOCKS = {"results": results_section, "cost": cost_section}


def with_block(readme: str, block: str, section: str) -> str:
    """The README text with the generated block replaced by `section`."""
    start, stop = readme.index(begin(block)) + len(begin(block)), readme.index(end(block))
    return readme[:start] + "\n" + section + readme[stop:]


def generated(readme: str, published: Path, config: dict) -> str:
    """The README with every generated block written afresh from `published`."""
    for block, section in BLOCKS.items():
        readme = with_block(readme, block, section(published, config))
    return readme


def write(readme: Path = Path("README.md"), published: Path = Path("results/published"),
          config: Path = Path("config.yaml")) -> Path:
    readme.write_text(generated(readme.read_text(), published, yaml.safe_load(config.read_text())))
    return readme


if __name__ == "__main__":
    print(write())
