"""The gap_ladder table kind (ffmodels/tables/ladder.py) on synthetic per-seed results."""

import pytest
import yaml

from ffmodels.config import REPO, enabled_tables, load_config, settings_for, table_runs
from ffmodels.figures import PLOTS
from ffmodels.tables import KINDS, to_markdown
from ffmodels.ledger import build_ledger
from ffmodels.ledger import to_markdown as ledger_markdown
from ffmodels.names import needs_pretraining
from ffmodels.tables.ladder import check_ladder, explained_by

CTX = {
    "stats": {"alpha": 0.05, "paired_test": "ttest", "tolerance": {"pp": {"tolerance": 1.0}}},
    "random_init_of": {"ff": "random_init_ff", "zs": "random_init_zs"},
}
SPEC = {
    "kind": "gap_ladder",
    "title": "FF transfer",
    "metric": "transfer_acc",
    "slides": 54.0,
    "slides_status": "printed",
    "rungs": [
        {"step": "our protocol", "run": "ff"},
        {"step": "z-score", "run": "zs"},
        {"step": "last layer", "run": "zs", "setting": "last"},
        {"step": "no standardisation", "run": "zs", "setting": "last_raw"},
    ],
}


def transfer(variant, values):
    return [{"variant": variant, "seed": s, "test_acc": v / 100, "status": "ok"} for s, v in enumerate(values)]


def sensitivity(variant, settings):
    return [
        {
            "variant": variant,
            "seed": s,
            "status": "ok",
            "settings": {k: {"test_acc": v[s] / 100} for k, v in settings.items()},
        }
        for s in range(3)
    ]


RECORDS = {
    "transfer": transfer("ff", [30.0, 31.0, 29.0]) + transfer("zs", [40.0, 41.5, 39.8]),
    "sensitivity": sensitivity("zs", {"last": [40.1, 41.3, 39.9], "last_raw": [53.0, 55.0, 54.5]}),
}


def test_each_rung_is_a_row_with_its_step_paired_by_seed_ending_beside_the_slides():
    assert KINDS["gap_ladder"].runs(SPEC, CTX) == {"transfer": ["ff", "zs"], "sensitivity": ["zs"]}
    table, notes = KINDS["gap_ladder"].build(SPEC, RECORDS, CTX)
    assert table.step.tolist() == [
        "our protocol",
        "z-score",
        "last layer",
        "no standardisation",
        "the slides' 54 (printed)",
    ]
    assert table["mean"].iloc[:4].round(4).tolist() == [30.0, 40.4333, 40.4333, 54.1667]
    # steps: rung minus the rung above, paired by seed (seed-wise differences 10, 10.5, 10.8)
    assert table.delta_vs_ref.iloc[1] == pytest.approx(10.4333, abs=1e-4)
    assert table.n_pairs.iloc[1] == 3 and table.test.iloc[1] == "paired ttest"
    assert table.status.tolist()[:4] == ["", "moves", "within noise", "moves"]
    # upstream's recipe (the last rung) against the slides' number: within CI +- 1 pp
    assert table.delta_vs_ref.iloc[4] == pytest.approx(54.1667 - 54.0, abs=1e-4)
    assert table.status.iloc[4] == "reached"
    assert "steps that move the number: z-score, no standardisation" in notes
    md = to_markdown(table, SPEC["title"], "test", notes)
    assert "| zs | no standardisation | last_raw |" in md


def test_a_recipe_that_stays_far_from_the_slides_does_not_reach_them():
    spec = {**SPEC, "slides": 72.0, "slides_status": "printed"}
    table, _ = KINDS["gap_ladder"].build(spec, RECORDS, CTX)
    assert table.status.iloc[-1] == "not reached"


def test_random_init_rungs_read_the_variants_untrained_network():
    spec = {**SPEC, "rungs": [{"step": "ours", "run": "ff", "init": True}, {"step": "z", "run": "zs", "init": True}]}
    assert KINDS["gap_ladder"].runs(spec, CTX) == {"transfer": ["random_init_ff", "random_init_zs"]}
    records = {"transfer": transfer("random_init_ff", [85.0, 85.2, 85.1]) + transfer("random_init_zs", [80, 81, 80.5])}
    table, _ = KINDS["gap_ladder"].build(spec, records, CTX)
    assert table.variant.tolist() == ["random_init_ff", "random_init_zs", "slides"]
    assert table.delta_vs_ref.iloc[1] == pytest.approx(-4.6, abs=1e-6)


def test_the_waterfall_draws_one_bar_per_rung_and_the_slides_line():
    table, _ = KINDS["gap_ladder"].build(SPEC, RECORDS, CTX)
    fig = PLOTS["waterfall"]({"table": table}, "FF transfer", "test", {})
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    assert [line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"] == [54.0]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"metric": "ceiling_acc"}, "metric: 'ceiling_acc' is not one of"),
        ({"slides_status": "guessed"}, "slides_status: 'guessed'"),
        ({"rungs": [{"step": "x", "run": "nope"}]}, "rungs[0].run: 'nope' is not defined"),
        ({"rungs": [{"step": "x", "run": "ff", "setting": "nope"}]}, "rungs[0].setting: 'nope'"),
        ({"metric": "source_acc"}, "rungs[2].setting: a probe setting moves transfer_acc only"),
    ],
)
def test_bad_ladders_are_refused_naming_the_key(change, message):
    why = check_ladder("ladder", {**SPEC, **change}, ["ff", "zs"], {"last": {}, "last_raw": {}})
    assert message in why
    assert check_ladder("ladder", SPEC, ["ff", "zs"], {"last": {}, "last_raw": {}}) is None


def test_a_step_with_one_seed_is_untested():
    one = {stage: [m for m in ms if m["seed"] == 0] for stage, ms in RECORDS.items()}
    table, _ = KINDS["gap_ladder"].build(SPEC, one, CTX)
    assert table.status.tolist()[:4] == ["", "untested", "untested", "untested"]


UPSTREAM_PRESETS = sorted((REPO / "presets").glob("upstream_*.yaml"))


@pytest.mark.parametrize("preset", UPSTREAM_PRESETS, ids=lambda p: p.stem)
def test_each_upstream_preset_resolves_with_its_ladders(preset):
    config = load_config(preset)
    ladders = [t for t, spec in config["tables"].items() if spec["kind"] == "gap_ladder"]
    assert ladders and set(ladders) <= set(enabled_tables(config))


@pytest.mark.parametrize("preset", UPSTREAM_PRESETS, ids=lambda p: p.stem)
def test_an_upstream_preset_trains_only_what_its_rungs_read(preset):
    """A table the study gains later stays off in a ladder preset (tables_enabled_by_default:
    false): the hypothesis table, once added, had these presets train every model of the study."""
    config = load_config(preset)
    rungs = {r["run"] for spec in config["tables"].values() if spec["kind"] == "gap_ladder" for r in spec["rungs"]}
    built = table_runs(config)
    assert {config["tables"][t]["kind"] for t in built} == {"gap_ladder"}
    trained = {run for stages in built.values() for runs in stages.values() for run in runs if needs_pretraining(run)}
    assert trained == rungs


def test_variants_two_upstream_presets_share_are_defined_identically():
    """Presets run together (--configfile a b) share such a variant's jobs: one definition."""
    seen: dict[str, tuple[str, dict]] = {}
    for preset in UPSTREAM_PRESETS:
        for name, spec in (yaml.safe_load(preset.read_text()).get("variants") or {}).items():
            first = seen.setdefault(name, (preset.name, spec))
            assert first[1] == spec, f"variant {name}: {first[0]} and {preset.name} define it differently"


def test_a_sensitivity_job_computes_the_settings_its_tables_read():
    full = load_config()
    assert settings_for(full, "bp") == full["sensitivity"]  # kind sensitivity: every setting
    r2 = load_config(REPO / "presets" / "upstream_r2.yaml")
    assert list(settings_for(r2, "u2_ff")) == ["u2_last", "u2_last_image", "u2_last_image_raw", "u2_probe"]
    assert list(settings_for(r2, "u2_bp")) == ["u2_last", "u2_last_image_raw", "u2_probe"]
    assert settings_for(r2, "random_wrong_label") == {}  # read by no table's sensitivity stage


def test_the_ledger_says_what_explains_a_number_where_its_ladder_ran():
    reached, _ = KINDS["gap_ladder"].build(SPEC, RECORDS, CTX)
    # each step that moves the number with its size, and what the steps within noise add up to
    size = dict(zip(reached.step, reached.delta_vs_ref))
    z, ns = f"z-score {size['z-score']:+.2f} pp", f"no standardisation {size['no standardisation']:+.2f} pp"
    assert size["last layer"] == 0 and explained_by(reached) == f"{z}; {ns}"  # the step within noise adds 0
    drifted = reached.copy()
    drifted.loc[drifted.step == "no standardisation", "mean"] -= 3.0  # as if the steps within noise lost 3 pp
    assert explained_by(drifted) == f"{z}; {ns}; the other steps together -3.00 pp"
    far, _ = KINDS["gap_ladder"].build({**SPEC, "slides": 72.0}, RECORDS, CTX)
    moved = f"moved from ours by: {z}; {ns}"
    assert explained_by(far) == f"unexplained (upstream's recipe here: 54.17, {moved})"
    typed, _ = KINDS["gap_ladder"].build({**SPEC, "slides_status": "not found"}, RECORDS, CTX)
    assert explained_by(typed) == f"the slides' number is not found (upstream's recipe here: 54.17, {moved})"
    claim = {
        "id": "ff",
        "slide": "RQ2",
        "claim": "FF transfer",
        "slide_value": "54.0 %",
        "rule": "level",
        "value": 54.0,
        "cell": {"table": "rq2_transfer", "variant": "random_wrong_label", "metric": "transfer_acc"},
        "ladder": "ladder_ff_transfer",
    }
    tolerances = {"pp": {"tolerance": 1.0, "metrics": ["transfer_acc*"]}}
    ledger = build_ledger({"ladder_ff_transfer": reached}, [claim], 0.05, tolerances)
    assert ledger.loc[0, "verdict"] == "not run" and ledger.loc[0, "explained_by"] == explained_by(reached)
    assert "explained by (gap ladder)" in ledger_markdown(ledger, "test", tolerances)
    without = build_ledger({}, [claim], 0.05, tolerances)  # no ladder in this run: the ledger as before
    assert "explained_by" not in without and "explained by" not in ledger_markdown(without, "test", tolerances)


def test_a_rung_whose_probe_picked_its_epoch_on_test_is_labelled_test_selected():
    records = {
        "transfer": RECORDS["transfer"],
        "sensitivity": [
            {
                **m,
                "settings": {
                    k: {**r, "selected_on": "test"} if k == "last_raw" else r for k, r in m["settings"].items()
                },
            }
            for m in RECORDS["sensitivity"]
        ],
    }
    table, notes = KINDS["gap_ladder"].build(SPEC, records, CTX)
    assert table.step.iloc[3] == "no standardisation (test-selected)" and "(test-selected)" not in table.step.iloc[2]
    assert any(n.startswith("test-selected:") for n in notes)
    size = dict(zip(table.step, table.delta_vs_ref))
    assert explained_by(table) == (
        f"z-score {size['z-score']:+.2f} pp; no standardisation (test-selected) "
        f"{size['no standardisation (test-selected)']:+.2f} pp; the recipe's number is test-selected"
    )
    far, _ = KINDS["gap_ladder"].build({**SPEC, "slides": 72.0}, records, CTX)
    assert explained_by(far).startswith("unexplained (upstream's recipe here: 54.17 (test-selected), moved from")
