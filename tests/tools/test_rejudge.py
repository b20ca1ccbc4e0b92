"""tools/rejudge: today's rules applied to a published run's summaries, exactly where they allow."""

import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ffmodels import stats
from ffmodels.tables import KINDS
from tests.conftest import REPO
from tools import rejudge

RULE = {"one_class_share": 0.95, "chance_margin": 5.0}


def row(variant, setting, metric="transfer_acc", mean=50.0, sd=1.0, p=math.nan, reference=None, **kw):
    return {
        "preset": "full",
        "table": "sens",
        "variant": variant,
        "setting": setting,
        "metric": metric,
        "n": 5,
        "mean": mean,
        "sd": sd,
        "n_collapsed": 0,
        "reference": reference,
        "p": p,
        "p_holm": p,
        "significant": False,
        **kw,
    }


def test_sensitivity_rows_a_setting_leaves_unchanged_are_dropped_and_holm_is_rerun():
    table = pd.DataFrame(
        [
            row("ff", "protocol", mean=30.0, p=1e-6, reference="random_init_ff"),
            row("bp", "protocol", mean=80.0, p=0.001, reference="random_init_bp"),
            row("random_init_ff", "protocol", mean=85.0),
            row("random_init_bp", "protocol", mean=85.5),
            row("ff", "fill", mean=21.0, p=1e-5, reference="random_init_ff"),
            row("bp", "fill", mean=80.0, p=0.001, reference="random_init_bp"),  # the protocol's own, again
            row("random_init_ff", "fill", mean=85.1),
            row("random_init_bp", "fill", mean=85.5),
            row("bp", "fill", metric="gap_shift", mean=0.0, sd=0.0, p=1.0, reference="gap under protocol"),
            row("ff", "fill", metric="gap_shift", mean=-9.0, p=1e-4, reference="gap under protocol"),
        ]
    )
    kept, log = rejudge.drop_repeats(table, {"ff": "random_init_ff", "bp": "random_init_bp"}, 0.05)
    assert set(kept[kept.setting == "fill"].variant) == {"ff", "random_init_ff"}
    assert list(kept.p_holm.dropna()) == stats.holm(list(kept.p.dropna()))
    assert log == [
        "dropped 3 rows that repeat the protocol's (bp under fill; their random inits too), "
        "Holm rerun over the 4 tests that stay"
    ]
    again, log = rejudge.drop_repeats(kept, {"ff": "random_init_ff", "bp": "random_init_bp"}, 0.05)
    assert again.equals(kept) and log == []


def test_a_variant_at_chance_in_its_source_row_is_marked_on_every_row_of_its_model():
    source = pd.DataFrame(
        [
            row("dead", "-", metric="source_acc", mean=10.0, sd=0.0, reference="ff", status="worse"),
            row("live", "-", metric="source_acc", mean=42.1, sd=11.4, reference="ff", status="worse"),
            row("ff", "-", metric="source_acc", mean=97.0, sd=0.2, status=""),
        ]
    )
    found = rejudge.collapsed_variants({"t": source}, RULE)
    assert found == {"dead": 5}  # 42.1 ± 11.4 over 5 seeds: every seed above 15 % (Samuelson's bound)
    transfer = pd.DataFrame(
        [
            row("dead", "-", mean=10.0, sd=0.0, reference="ff", status="worse"),
            row("dead", "-", metric="ceiling_acc", mean=90.0, status=""),
            row("live", "-", mean=46.0, reference="ff", status="improves"),
        ]
    )
    assert rejudge.mark_collapsed(transfer, found) == ["marked collapsed: dead"]
    assert list(transfer.n_collapsed) == [5, 0, 0] and transfer.status[0] == "collapsed (5/5)"
    assert rejudge.mark_collapsed(transfer, found) == []


def test_the_published_full_run_is_already_judged_by_todays_rules(tmp_path):
    """Re-judging the published full run changes nothing: its tables, ledger and conclusions are
    what today's rules make of its summaries."""
    folder = tmp_path / "full"
    shutil.copytree(REPO / "results" / "published" / "full", folder)
    from ffmodels.config import load_config

    from tools.readme import ladder_folders

    ladders = ladder_folders(REPO / "results" / "published")  # the gap ladders published so far
    assert rejudge.rejudge(folder, load_config(), [f for f in ladders if f.is_dir()]) == []
    for name in ("claims_ledger.csv", "conclusions.csv"):
        assert (folder / name).read_text() == (REPO / "results" / "published" / "full" / name).read_text(), name


@pytest.mark.parametrize("name", ["rq2_transfer", "rq_cwc", "rq4_overview"])
def test_every_transfer_table_of_the_full_run_carries_the_raw_pixel_control(name):
    table = pd.read_csv(REPO / "results" / "published" / "full" / f"{name}.csv")
    control = table[table.variant == "raw_pixels"]
    assert len(control) == 1 and control.p.isna().all() and int(control.n.iloc[0]) == 5


def full_run_without_ladders(folder: Path) -> None:
    """The published full run copied to `folder`, re-judged without the ladders published so far,
    so that a test's own ladders are the only ones its ledger reads."""
    from ffmodels.config import load_config

    shutil.copytree(REPO / "results" / "published" / "full", folder)
    lost = rejudge.rejudge(folder, load_config())
    assert all(line.endswith("lost its explained by (its ladder was not given: --ladders)") for line in lost)


def test_a_published_ladder_run_gives_the_ledger_its_explained_by_once(tmp_path):
    """`--ladders`: the gap ladders of a ladder run's folder join the full run's ledger; only the
    claim whose ladder is there gains "explained by"; the earlier record stays; a second run
    changes nothing."""
    from ffmodels.config import load_config
    from ffmodels.tables.ladder import explained_by
    from tests.test_ladder import CTX, RECORDS, SPEC

    folder, ladders = tmp_path / "full", tmp_path / "upstream"
    full_run_without_ladders(folder)
    ladders.mkdir()
    ladder, _ = KINDS["gap_ladder"].build({**SPEC, "slides": 72.0}, RECORDS, CTX)
    ladder.to_csv(ladders / "ladder_random_init.csv", index=False)
    earlier = (folder / "rejudged.md").read_text()

    log = rejudge.rejudge(folder, load_config(), [ladders])
    assert log == [
        f"claims_ledger: rq2_random_init explained by ({ladders}/ladder_random_init.csv): {explained_by(ladder)}"
    ]
    ledger = pd.read_csv(folder / "claims_ledger.csv")
    explained = ledger.set_index("id").explained_by.dropna()
    assert explained.to_dict() == {"rq2_random_init": explained_by(ladder)}
    assert explained_by(ladder).startswith("unexplained (upstream's recipe here: 54.17, moved from ours by: ")
    assert "explained by (gap ladder)" in (folder / "claims_ledger.md").read_text()
    published = pd.read_csv(REPO / "results" / "published" / "full" / "claims_ledger.csv")
    published = published.drop(columns="explained_by", errors="ignore")
    assert ledger.drop(columns="explained_by").equals(published), "the ladder changes no verdict"
    rejudge.record(folder, log, "python -m tools.rejudge full --ladders upstream")
    record = (folder / "rejudged.md").read_text()
    assert record.startswith(earlier) and "### Re-judged again" in record and log[0] in record

    assert rejudge.rejudge(folder, load_config(), [ladders]) == []
    assert rejudge.rejudge(folder, load_config()) == [
        "claims_ledger: rq2_random_init lost its explained by (its ladder was not given: --ladders)"
    ]
    with pytest.raises(SystemExit, match="none of the ladders claims.yaml names"):
        rejudge.rejudge(folder, load_config(), [tmp_path])


def test_gap_ladders_published_in_two_folders_join_one_ledger_and_none_twice(tmp_path):
    """The CwC-FF ladder runs in a folder of its own (its preset's subsets hold for every job): the
    ledger reads the ladders of both folders; one ladder published in both is refused by name."""
    from ffmodels.config import load_config
    from tests.test_ladder import CTX, RECORDS, SPEC

    folder, r2, cwc = tmp_path / "full", tmp_path / "upstream", tmp_path / "upstream-cwc"
    full_run_without_ladders(folder)
    ladder, _ = KINDS["gap_ladder"].build({**SPEC, "slides": 72.0}, RECORDS, CTX)
    for run, name in ((r2, "ladder_random_init"), (cwc, "ladder_cwc_transfer")):
        run.mkdir()
        ladder.to_csv(run / f"{name}.csv", index=False)

    log = rejudge.rejudge(folder, load_config(), [r2, cwc])
    assert [line.split(" explained by ")[0] for line in log] == [
        "claims_ledger: rq2_random_init",
        "claims_ledger: cwc_transfer",
    ]
    explained = pd.read_csv(folder / "claims_ledger.csv").set_index("id").explained_by.dropna()
    assert sorted(explained.index) == ["cwc_transfer", "rq2_random_init"]
    ladder.to_csv(cwc / "ladder_random_init.csv", index=False)
    with pytest.raises(SystemExit, match="gap ladder ladder_random_init is published twice"):
        rejudge.rejudge(folder, load_config(), [r2, cwc])
