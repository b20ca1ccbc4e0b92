"""The claims ledger's verdict rules on hand-made table rows, and the shipped claims file."""

import json
import math

import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from ffmodels.config import load_config
from ffmodels.ledger import (
    CALIBRATION,
    ClaimError,
    build_ledger,
    check_claims,
    claim_tolerance,
    robustness,
    to_markdown,
    tolerance_for,
    verdict,
    verdict_kind,
)
from ffmodels.stats import summarise
from ffmodels.tables import KINDS
from tests.conftest import REPO

ALPHA = 0.05
TOL = {
    "pp": {"tolerance": 1.0, "metrics": ["source_acc", "transfer_acc*"]},
    "ratio": {"tolerance": 1.0, "metrics": ["variance_ratio*"]},
    "fraction": {"tolerance": 0.05, "metrics": ["dead*"]},
}


def row(
    variant,
    metric="source_acc",
    mean=50.0,
    ci=(49.5, 50.5),
    reference=None,
    delta=math.nan,
    delta_ci=(math.nan, math.nan),
    p_holm=math.nan,
    n=5,
    **extra,
):
    return {
        "variant": variant,
        "metric": metric,
        "n": n,
        "mean": mean,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "reference": reference,
        "delta_vs_ref": delta,
        "delta_ci_low": delta_ci[0],
        "delta_ci_high": delta_ci[1],
        "test": None if reference is None else "paired ttest",
        "p_holm": p_holm,
        "significant": (p_holm < ALPHA) if not math.isnan(p_holm) else False,
        **extra,
    }


def tables(*rows, name="t"):
    return {name: pd.DataFrame(list(rows))}


def claim(rule, cell, **kw):
    return {
        "id": "c",
        "slide": "s",
        "claim": "words",
        "slide_value": "v",
        "rule": rule,
        "cell": {"table": "t", **cell},
        **kw,
    }


def judge(rows, c):
    return verdict(tables(*rows), c, ALPHA, TOL)


# --- level: calibration statements -----------------------------------------------------------------


def level(mean, ci, value, n=5, **kw):
    return judge(
        [row("a", mean=mean, ci=ci, n=n, **kw)], claim("level", {"variant": "a", "metric": "source_acc"}, value=value)
    )


def test_a_level_shown_within_the_tolerance_by_tost_is_equivalent():
    values = [50.1, 50.5, 50.2, 50.7, 49.9]
    s = summarise(values)
    out = level(s["mean"], (s["ci_low"], s["ci_high"]), 50.0, sd=s["sd"])
    assert out["verdict"] == "equivalent" and out["ours"] == f"{s['mean']:.2f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}]"
    assert out["detail"].startswith("within ±1 of 50 by TOST") and out["tolerance"] == "±1 pp"


def test_a_level_within_the_tolerance_but_not_shown_equivalent_is_close():
    """Backprop's 98.29 [98.13, 98.44] against 99.2: 0.91 pp away, inside ±1 pp, a CI too wide for TOST."""
    out = level(98.29, (97.5, 99.1), 99.2)
    assert out["verdict"] == "close" and out["detail"].startswith("0.91 from 99.2, inside the tolerance ±1")


@pytest.mark.parametrize("value,word", [(40.0, "ours higher by 10.00 pp"), (60.5, "ours lower by 10.50 pp")])
def test_a_level_beyond_the_tolerance_says_which_way_and_by_how_much(value, word):
    out = level(50.0, (49.5, 50.5), value)
    assert out["verdict"] == word and out["detail"].endswith(f"excludes {value:g}")


def test_a_wide_ci_that_holds_the_slides_number_is_still_judged_by_our_mean():
    """PCL 22.7 [2.7, 42.6] against 17.5: 5.2 pp higher; the detail says our CI holds 17.5."""
    out = level(22.7, (2.7, 42.6), 17.5, n=3)
    assert out["verdict"] == "ours higher by 5.20 pp" and out["detail"].endswith("holds 17.5")
    wide = judge(
        [row("a", mean=22.7, ci=(2.7, 42.6), n=3)],
        claim("level", {"variant": "a", "metric": "source_acc"}, value=17.5, tolerance=25.0),
    )
    assert wide["verdict"] == "equivalent" and wide["tolerance"] == "±25 pp"  # the claim's own tolerance wins


def test_level_of_one_seed_has_no_ci_and_is_inconclusive():
    out = level(50.0, (math.nan, math.nan), 50.0, n=1)
    assert (
        out["verdict"] == "inconclusive"
        and out["detail"] == "no CI (n = 1)"
        and out["equivalence"] == "no test (n = 1)"
    )


def test_level_equivalence_is_the_tost_of_the_seeds_values():
    """The row's summary (mean, sd, n) gives the same TOST as the two one-sided one-sample t-tests
    on the seeds' values; without an sd the standard error comes from the CI."""
    values = [50.1, 50.5, 50.2, 50.7, 49.9]
    s = summarise(values)
    p = max(
        sps.ttest_1samp(values, 50.0 - 1.0, alternative="greater").pvalue,
        sps.ttest_1samp(values, 50.0 + 1.0, alternative="less").pvalue,
    )
    c = claim("level", {"variant": "a", "metric": "source_acc"}, value=50.0)
    with_sd = judge([row("a", mean=s["mean"], ci=(s["ci_low"], s["ci_high"]), sd=s["sd"])], c)
    from_ci = judge([row("a", mean=s["mean"], ci=(s["ci_low"], s["ci_high"]))], c)
    assert p < ALPHA and with_sd["equivalence"] == from_ci["equivalence"] == f"equivalent within ±1 pp (p = {p:.2g})"
    far = judge([row("a", mean=s["mean"], ci=(s["ci_low"], s["ci_high"]), sd=s["sd"])], {**c, "value": 51.0})
    p_far = max(
        sps.ttest_1samp(values, 50.0, alternative="greater").pvalue,
        sps.ttest_1samp(values, 52.0, alternative="less").pvalue,
    )
    assert p_far > ALPHA and far["equivalence"] == f"not shown equivalent within ±1 pp (p = {p_far:.2g})"


def test_no_level_claim_reads_not_reproduced_and_every_verdict_is_in_the_vocabulary():
    for mean, ci, value in [(50, (49.9, 50.1), 50.05), (50, (45, 55), 50.5), (50, (49, 51), 30), (50, (49, 51), 70)]:
        out = level(mean, ci, value)
        assert verdict_kind(out["verdict"]) in CALIBRATION


# --- direction / difference: effect words -----------------------------------------------------------


def diff_row(delta, p, ci=(1.0, 7.0)):
    return row("a", reference="b", delta=delta, delta_ci=ci, p_holm=p)


def diff_claim(**kw):
    return claim("difference", {"variant": "a", "metric": "source_acc"}, **kw)


def test_difference_significant_with_the_claimed_size_inside_the_ci_is_as_claimed():
    out = judge([diff_row(4.0, 0.001)], diff_claim(value=4.7))
    assert out["verdict"] == "as claimed" and out["ours"].startswith("Δ 4.00 [1.00, 7.00] vs b")
    assert "p_holm = 0.001" in out["test"] and out["equivalence"] == "–"


def test_difference_significant_beyond_or_short_of_the_claimed_size_is_stronger_or_weaker():
    """FF minus random init: claimed −18, measured −54.85 [−54.91, −54.78]: stronger; BP − FF: claimed
    4.7, measured 1.19 [0.89, 1.49]: weaker. Neither reads like the other."""
    assert (
        judge([diff_row(-54.85, 1e-12, ci=(-54.91, -54.78))], diff_claim(value=-18.0))["verdict"]
        == "stronger than claimed"
    )
    assert judge([diff_row(1.19, 0.002, ci=(0.89, 1.49))], diff_claim(value=4.7))["verdict"] == "weaker than claimed"
    assert judge([diff_row(30.0, 0.001, ci=(20.0, 40.0))], diff_claim(value=4.7))["verdict"] == "stronger than claimed"


def test_difference_not_significant_with_both_no_effect_and_the_claim_in_the_ci_is_inconclusive():
    out = judge([diff_row(4.0, 0.2, ci=(-2.0, 10.0))], diff_claim(value=4.7))
    assert out["verdict"] == "inconclusive"
    assert (
        out["detail"]
        == "not significant (p_holm = 0.2); our 95 % CI [-2.00, 10.00] holds both no effect and the claimed 4.7"
    )


def test_difference_not_significant_with_the_claim_outside_the_ci_is_absent():
    out = judge([diff_row(0.5, 0.6, ci=(-2.0, 3.0))], diff_claim(value=4.7))
    assert out["verdict"] == "absent"
    assert out["detail"] == "not significant (p_holm = 0.6); our 95 % CI [-2.00, 3.00] excludes the claimed 4.7"


def test_difference_significant_the_other_way_is_opposite():
    out = judge([diff_row(-4.0, 0.001, ci=(-7.0, -1.0))], diff_claim(value=4.7))
    assert out["verdict"] == "opposite"


def test_a_test_without_a_p_value_is_inconclusive():
    out = judge([diff_row(4.0, math.nan, ci=(math.nan, math.nan))], diff_claim(value=4.7))
    assert out["verdict"] == "inconclusive" and out["detail"] == "no test (too few seeds)"


@pytest.mark.parametrize(
    "ci,expected", [((2.5, 4.0), "as claimed"), ((1.2, 1.8), "weaker than claimed"), ((1.0, 3.0), "inconclusive")]
)
def test_a_claim_without_a_number_is_judged_against_its_declared_threshold(ci, expected):
    """'dominate' as at least 2x the even share: a ratio significantly above 1 but whose CI stays
    below 2 is weaker than claimed, not 'reproduced at any significant size'."""
    r = row(
        "a", metric="variance_ratio", mean=sum(ci) / 2, ci=ci, reference="> 1.0", delta=sum(ci) / 2 - 1, p_holm=0.01
    )
    c = claim(
        "direction",
        {"variant": "a", "metric": "variance_ratio"},
        direction="greater",
        threshold=2.0,
        threshold_reason="twice",
    )
    assert judge([r], c)["verdict"] == expected


def test_a_claim_without_a_number_or_a_threshold_is_an_error():
    c = claim("direction", {"variant": "a", "metric": "variance_ratio"}, direction="greater")
    with pytest.raises(ClaimError, match="needs a 'threshold'"):
        check_claims([c], TOL)
    with pytest.raises(ClaimError, match="needs a 'threshold'"):
        check_claims([{**c, "threshold": 2.0}], TOL)  # and its reason


def test_direction_with_a_claimed_level_checks_the_mean_ci():
    """'10x higher variance', tested as ratio > 1: significant, but the CI of the mean short of 10."""
    r = row("a", metric="variance_ratio", mean=3.0, ci=(2.0, 4.0), reference="> 1.0", delta=2.0, p_holm=0.01)
    c = claim("direction", {"variant": "a", "metric": "variance_ratio"}, direction="greater", value=10.0)
    assert judge([r], c)["verdict"] == "weaker than claimed"
    assert judge([r], {**c, "value": 3.5})["verdict"] == "as claimed"


def test_direction_against_a_constant_not_significant_is_judged_on_the_ci_of_the_mean():
    r = row("a", metric="variance_ratio", mean=3.18, ci=(-0.81, 7.17), reference="> 1.0", delta=2.18, p_holm=0.072)
    c = claim("direction", {"variant": "a", "metric": "variance_ratio"}, direction="greater", value=10.0)
    out = judge([r], c)
    assert out["verdict"] == "absent" and out["detail"].endswith("[-0.81, 7.17] excludes the claimed 10")
    assert judge([r], {**c, "value": 5.0})["verdict"] == "inconclusive"


# --- collapse, not run, cells -----------------------------------------------------------------------


def test_a_collapsed_model_is_no_reading_of_a_feature_quality_claim():
    c = claim("level", {"variant": "a", "metric": "transfer_acc"}, value=48.2)
    out = judge([row("a", metric="transfer_acc", mean=10.0, ci=(10.0, 10.0), n_collapsed=5)], c)
    assert out["verdict"] == "not judged: collapsed" and out["ours"] == "10.00 (5 of 5 seeds collapsed)"
    # its source accuracy is still a reading (of how it collapsed)
    src = judge(
        [row("a", mean=10.0, ci=(10.0, 10.0), n_collapsed=5)], {**c, "cell": {**c["cell"], "metric": "source_acc"}}
    )
    assert src["verdict"] == "ours lower by 38.20 pp"


def test_a_claim_on_a_table_not_built_or_a_row_not_in_it_is_not_run():
    c = claim("level", {"variant": "a", "metric": "source_acc"}, value=50.0)
    assert verdict({}, c, ALPHA, TOL)["verdict"] == "not run"
    assert judge([row("other")], c)["verdict"] == "not run"


def test_a_direction_claim_on_an_untested_row_is_not_run():
    out = judge(
        [row("a", metric="variance_ratio_l1", mean=1.6)],
        claim("direction", {"variant": "a", "metric": "variance_ratio_l1"}, direction="greater", value=10.0),
    )
    assert out["verdict"] == "not run" and out["detail"] == "variance_ratio_l1 is in t but not tested there"


def test_an_ambiguous_cell_is_an_error_that_names_the_claim():
    rows = [row("a", metric="transfer_acc", reference="x"), row("a", metric="transfer_acc", reference="y")]
    with pytest.raises(ClaimError, match="'c' matches 2 rows of t"):
        judge(rows, claim("level", {"variant": "a", "metric": "transfer_acc"}, value=50.0))
    assert (
        judge(rows, claim("level", {"variant": "a", "metric": "transfer_acc", "reference": "y"}, value=50.0))["verdict"]
        == "equivalent"
    )


def test_epoch_last_picks_the_highest_epoch():
    rows = [
        row("p", metric="dead", mean=0.1, ci=(0.0, 0.2), epoch=1),
        row("p", metric="dead", mean=0.98, ci=(0.97, 0.99), epoch=8),
    ]
    out = judge(rows, claim("level", {"variant": "p", "metric": "dead", "epoch": "last"}, value=1.0))
    assert out["verdict"] == "equivalent" and out["ours"].startswith("0.98")
    assert out["equivalence"].startswith("equivalent within ±0.05 fraction")


# --- ordering, none_improve, status -----------------------------------------------------------------


def test_ordering_is_tested_pair_by_pair_and_a_significant_reversal_contradicts():
    """RQ1: 'random wrong label performs best', while hard negatives beat it significantly."""
    rows = [
        row("rwl", mean=97.10, sd=0.15, ci=(96.9, 97.3)),
        row("hard", mean=97.84, sd=0.08, ci=(97.75, 97.94), reference="rwl", delta=0.74, p=0.0001, p_holm=0.0005),
        row("noise", mean=9.54, sd=1.3, ci=(7.9, 11.2), reference="rwl", delta=-87.56, p=1e-9, p_holm=1e-8),
    ]
    c = claim("ordering", {"metric": "source_acc"}, variants=["rwl", "hard", "noise"])
    out = judge(rows, c)
    assert out["verdict"] == "contradicted" and out["detail"] == "significantly reversed: hard > rwl (p_holm = 0.0001)"
    assert out["ours"] == "hard 97.84 > rwl 97.10 > noise 9.54" and out["test"] == "3 pairs, Holm"
    assert judge(rows, {**c, "variants": ["hard", "rwl", "noise"]})["verdict"] == "as claimed"
    close = [rows[0], {**rows[1], "mean": 97.2, "delta": 0.1, "p": 0.4, "p_holm": 0.4}, rows[2]]
    assert judge(close, {**c, "variants": ["hard", "rwl", "noise"]})["verdict"] == "inconclusive"
    assert judge(rows[:2], c)["verdict"] == "not run"


def test_none_improve():
    c = claim("none_improve", {"metric": "source_acc", "reference": "ff"})
    flat = [row("x", reference="ff", delta=1.0, p_holm=0.3), row("y", reference="ff", delta=-5.0, p_holm=0.01)]
    out = judge(flat, c)
    assert out["verdict"] == "as claimed" and out["detail"] == "0 of 2 significantly better, 1 significantly worse"
    better = flat + [row("z", reference="ff", delta=3.0, p_holm=0.01)]
    out = judge(better, c)
    assert out["verdict"] == "contradicted" and out["detail"].endswith(": z")
    assert judge(better, {**c, "exclude": ["z"]})["verdict"] == "as claimed"  # e.g. the reference itself


def test_status():
    c = claim("status", {"variant": "p", "metric": "last_good_epoch"}, value="collapsed")
    assert judge([row("p", metric="last_good_epoch", status="collapsed (3/3)")], c)["verdict"] == "as claimed"
    assert judge([row("p", metric="last_good_epoch", status="ok")], c)["verdict"] == "contradicted"


# --- readings ------------------------------------------------------------------------------------


def sens_tables(upstream_mean, upstream_ci):
    """rq2-like: the protocol's row in t, the same cell under two settings in table sens."""
    main = row("ri", metric="transfer_acc", mean=72.2, ci=(71.8, 72.6))
    sens = pd.DataFrame(
        [
            row("ri", metric="transfer_acc", mean=upstream_mean, ci=upstream_ci, setting="upstream_probe"),
            row("ri", metric="transfer_acc", mean=72.2, ci=(71.8, 72.6), setting="protocol"),
        ]
    )
    return {"t": pd.DataFrame([main]), "sens": sens}


UPSTREAM = {"name": "upstream probe", "table": "sens", "setting": "upstream_probe"}
NOT_BUILT = {"name": "other table", "table": "absent"}


def test_readings_that_agree_are_robust_and_readings_not_run_do_not_count():
    c = claim("level", {"variant": "ri", "metric": "transfer_acc"}, value=72.0, readings=[UPSTREAM, NOT_BUILT])
    out = verdict(sens_tables(72.4, (72.0, 72.8)), c, ALPHA, TOL)
    assert out["verdict"] == "equivalent" and out["robustness"] == "robust (1 reading agrees); not run: other table"
    assert out["readings"] == "upstream probe: equivalent (72.40 [72.00, 72.80]); other table: not run"
    assert json.loads(out["reading_verdicts"]) == {"upstream probe": "equivalent", "other table": "not run"}


def test_a_reading_that_disagrees_is_named_with_its_verdict_and_value():
    c = claim(
        "level",
        {"variant": "ri", "metric": "transfer_acc"},
        value=72.0,
        readings=[UPSTREAM, {"name": "own value", "table": "sens", "setting": "protocol", "value": 80.0}],
    )
    out = verdict(sens_tables(85.0, (84.0, 86.0)), c, ALPHA, TOL)
    assert out["verdict"] == "equivalent"
    assert out["robustness"] == (
        "depends: upstream probe → ours higher by 13.00 pp (85.00 [84.00, 86.00]); "
        "own value → ours lower by 7.80 pp (72.20 [71.80, 72.60])"
    )


def test_no_reading_run_and_no_readings():
    assert robustness("equivalent", []) == "single reading"
    c = claim("level", {"variant": "ri", "metric": "transfer_acc"}, value=72.0, readings=[NOT_BUILT])
    out = verdict(sens_tables(72.4, (72.0, 72.8)), c, ALPHA, TOL)
    assert out["robustness"] == "no reading run (not run: other table)"
    untested = claim(
        "direction",
        {"variant": "a", "metric": "variance_ratio"},
        direction="greater",
        value=10.0,
        readings=[{"name": "layer 1", "metric": "variance_ratio_l1"}],
    )
    rows = [
        row("a", metric="variance_ratio", mean=3.0, ci=(2.0, 4.0), reference="> 1.0", delta=2.0, p_holm=0.01),
        row("a", metric="variance_ratio_l1", mean=1.6),
    ]
    assert judge(rows, untested)["robustness"] == "no reading run (row not tested: layer 1)"


def test_a_reading_may_remove_a_key_of_the_cell():
    rows = [
        row("a", metric="transfer_acc", mean=60.0, ci=(59.5, 60.5), reference="x"),
        row("b", metric="transfer_acc", mean=70.0, ci=(69.5, 70.5)),
    ]
    c = claim(
        "level",
        {"variant": "a", "metric": "transfer_acc", "reference": "x"},
        value=60.0,
        readings=[{"name": "b", "variant": "b", "reference": None, "value": 70.0}],
    )
    out = judge(rows, c)
    assert out["verdict"] == "equivalent" and out["robustness"] == "robust (1 reading agrees)"


def test_a_primary_not_run_lists_the_readings_that_ran():
    c = claim("level", {"variant": "ri", "metric": "transfer_acc"}, value=72.0, readings=[UPSTREAM])
    out = verdict({"sens": sens_tables(72.4, (72.0, 72.8))["sens"]}, c, ALPHA, TOL)
    assert out["verdict"] == "not run"
    assert out["robustness"] == "primary not run; upstream probe → equivalent (72.40 [72.00, 72.80])"


@pytest.mark.parametrize(
    "readings,message",
    [
        ([{"table": "sens"}], "'c': reading 1 lacks a 'name'"),
        ([{"name": "x", "tabel": "sens"}], r"'c': reading 'x' has unknown key\(s\) \['tabel'\]"),
        ([{"name": "x", "table": "a"}, {"name": "x", "table": "b"}], "'c': duplicate reading name 'x'"),
        ([{"name": "x"}], "'c': reading 'x' changes nothing"),
        ({"name": "x"}, "'c': readings must be a list"),
        ([{"name": "x", "metric": "mystery"}], "'c / x': metric 'mystery' has no tolerance"),
    ],
)
def test_malformed_readings_are_named(readings, message):
    with pytest.raises(ClaimError, match=message):
        check_claims([claim("level", {"variant": "a", "metric": "source_acc"}, value=1.0, readings=readings)], TOL)


def test_protocol_check_is_gone_in_favour_of_readings():
    with pytest.raises(ClaimError, match=r"'c': unknown key\(s\) \['protocol_check'\]"):
        check_claims(
            [
                claim(
                    "level",
                    {"variant": "a", "metric": "source_acc"},
                    value=1.0,
                    protocol_check={"table": "sens", "setting": "upstream_probe"},
                )
            ],
            TOL,
        )


# --- tolerances ------------------------------------------------------------------------------------


def test_tolerance_lookup_by_name_then_pattern():
    assert tolerance_for("source_acc", TOL) == ("pp", 1.0)
    assert tolerance_for("transfer_acc_end_minus_start", TOL) == ("pp", 1.0)  # pattern transfer_acc*
    assert tolerance_for("variance_ratio_median_l2", TOL) == ("ratio", 1.0)
    assert tolerance_for("train_loss", TOL) is None
    exact = {**TOL, "special": {"tolerance": 0.5, "metrics": ["transfer_acc_end_minus_start"]}}
    assert tolerance_for("transfer_acc_end_minus_start", exact) == ("special", 0.5)  # an exact name wins
    both = {
        **TOL,
        "other": {"tolerance": 2.0, "metrics": ["source_*"]},
        "again": {"tolerance": 3.0, "metrics": ["*_acc"]},
    }
    with pytest.raises(ClaimError, match="'source_accs' is in several units"):
        tolerance_for(
            "source_accs", {"a": {"tolerance": 1, "metrics": ["source_*"]}, "b": {"tolerance": 2, "metrics": ["*accs"]}}
        )
    assert tolerance_for("source_acc", both) == ("pp", 1.0)
    assert claim_tolerance(claim("level", {"metric": "source_acc"}, value=1.0, tolerance=2.5), TOL) == (2.5, "pp")


def test_a_metric_without_tolerance_is_an_error_naming_the_claim_and_the_metric():
    with pytest.raises(ClaimError, match="'c': metric 'train_loss' has no tolerance"):
        check_claims([claim("level", {"variant": "a", "metric": "train_loss"}, value=1.0)], TOL)
    with pytest.raises(ClaimError, match="'c': metric 'source_acc' has no tolerance"):
        build_ledger({}, [claim("level", {"variant": "a", "metric": "source_acc"}, value=1.0)], ALPHA, {})
    # its own tolerance, or a rule that judges at none, needs no unit
    check_claims(
        [
            claim("level", {"variant": "a", "metric": "train_loss"}, value=1.0, tolerance=0.1),
            {**claim("status", {"variant": "p", "metric": "train_loss"}, value="collapsed"), "id": "d"},
        ],
        TOL,
    )
    with pytest.raises(ClaimError, match="'c': tolerance must be a positive number"):
        check_claims([claim("level", {"variant": "a", "metric": "source_acc"}, value=1.0, tolerance=0)], TOL)


# --- the shipped claims ------------------------------------------------------------------------------

CLAIMS = yaml.safe_load((REPO / "claims.yaml").read_text())
CONFIG = load_config()  # config.yaml, resolved as the workflow resolves it
SHIPPED_TOL = CONFIG["stats"]["tolerance"]
# Cells of readings that other work adds (tables and variants not configured yet): they read
# "not run" until then. Anything else a reading names must be configured.
PENDING_TABLES = {"rq4_prospective_feedback", "rq4_pcl_lambda"}
PENDING_VARIANTS = {("rq4_pcl_postmortem", v) for v in ("pcl_l01", "pcl_l03", "pcl_l1")}


def cells(c):
    yield c["cell"], c.get("variants", [])
    for reading in c.get("readings", []):
        yield {**c["cell"], **{k: v for k, v in reading.items() if k not in ("name", "value", "tolerance")}}, []


def test_shipped_claims_are_well_formed_and_point_at_configured_tables_and_variants():
    check_claims(CLAIMS, SHIPPED_TOL)
    for c in CLAIMS:
        for cell, variants in cells(c):
            if cell["table"] not in CONFIG["tables"]:
                assert cell["table"] in PENDING_TABLES, (c["id"], cell["table"])
                continue
            spec = CONFIG["tables"][cell["table"]]
            summary_rows = getattr(KINDS[spec["kind"]], "summary_rows", ())  # rows of the kind's own, e.g. all_models
            for v in [cell.get("variant"), *variants]:
                if v and not v.startswith("random_init_") and (cell["table"], v) not in PENDING_VARIANTS:
                    assert v in [*spec["variants"], *summary_rows], (c["id"], v)


def test_the_shipped_tolerances_cover_every_judged_metric_once():
    judged = {
        cell["metric"] for c in CLAIMS if c["rule"] in ("level", "direction", "difference") for cell, _ in cells(c)
    }
    units = {m: tolerance_for(m, SHIPPED_TOL)[0] for m in judged}
    assert units["source_acc"] == units["transfer_acc"] == units["source_acc_best_test"] == "pp"
    assert (
        units["dead_frac_l1"] == "fraction" and units["variance_ratio_median_l2"] == units["gradient_share"] == "ratio"
    )
    assert units["spearman_rho_trained"] == "rho" and tolerance_for("last_good_epoch", SHIPPED_TOL) == ("epochs", 1.0)
    assert units["rho_variance_ratio"] == units["rho_label_dependency"] == "rho"  # the hypothesis test's correlations
    assert SHIPPED_TOL["pp"]["tolerance"] == 1.0 and SHIPPED_TOL["fraction"]["tolerance"] == 0.05


def test_the_readings_the_issue_lists_are_all_there():
    names = {
        c["id"]: {
            r.get("metric") or r.get("variant") or r.get("reference") or r.get("setting") for r in c.get("readings", [])
        }
        for c in CLAIMS
    }
    assert names["rq3_label_neuron_variance"] == {
        "variance_ratio_l1",
        "variance_ratio_l2",
        "variance_ratio_responsive",
        "variance_ratio_responsive_l1",
        "variance_ratio_responsive_l2",
        "variance_ratio_median",
        "variance_ratio_median_l1",
        "variance_ratio_median_l2",
    }
    assert names["rq3_gradient_share"] == {
        "gradient_share_per_sample",
        "gradient_share_input_cols",
        "gradient_share_per_sample_input_cols",
    }
    assert names["rq3_more_training_worse"] == {"spearman_rho_trained"}
    for cid in ("rq2_ff_transfer", "rq2_random_init", "rq2_bp_transfer", "rq2_ff_below_random", "rq2_bp_above_random"):
        assert [(r["table"], r["setting"]) for r in next(c for c in CLAIMS if c["id"] == cid)["readings"]] == [
            ("rq2_sensitivity", "upstream_probe")
        ], cid
    assert names["cwc_transfer"] == {"random_init_cwc_calibrated"}
    for cid in ("cwc_vs_random", "cwc_fixes_transfer"):  # the probe without standardisation reverses the sign
        assert names[cid] == {"random_init_cwc_calibrated", "no_standardisation"}
    for cid in ("cwc_source", "rq1_bp", "rq1_random_wrong_label"):
        assert names[cid] == {"source_acc_best_test"}
    assert names["rq4_prospective_t3"] == {"prospective_t3_fb1e4", "prospective_t3_fb1e3"}
    assert names["rq4_prospective_worse"] == {"prospective_t5_fb1e4", "prospective_t5_fb1e3"}
    for cid in ("rq4_pcl_accuracy", "rq4_pcl_collapsed", "rq4_pcl_dead_l1", "rq4_pcl_dead_l2"):
        assert names[cid] == {"pcl_l01", "pcl_l03", "pcl_l1"}
    assert next(c for c in CLAIMS if c["id"] == "rq4_no_help")["exclude"] == ["prospective_t1"]


def test_the_claims_the_issue_lists_are_all_there():
    ids = {c["id"] for c in CLAIMS}
    assert {
        "rq1_random_wrong_label",
        "rq1_hybrid",
        "rq1_hard",
        "rq1_gaussian_noise",
        "rq1_bp",
        "rq1_gap_to_bp",
        "rq1_ordering",
        "rq2_ff_transfer",
        "rq2_random_init",
        "rq2_bp_transfer",
        "rq2_ff_below_random",
        "rq2_bp_above_random",
        "rq3_label_neuron_variance",
        "rq3_gradient_share",
        "rq3_more_training_worse",
        "rq4_three_factor_best",
        "rq4_prospective_t3",
        "rq4_pcl_accuracy",
        "rq4_pcl_dead_l1",
        "rq4_collab_source_falls",
        "rq4_no_help",
        "cwc_source",
        "cwc_transfer",
        "cwc_vs_random",
        "cwc_fixes_transfer",
    } <= ids


def test_every_claim_is_not_run_without_tables_and_a_malformed_claim_is_named():
    ledger = build_ledger({}, CLAIMS, ALPHA, SHIPPED_TOL)
    assert len(ledger) == len(CLAIMS) and set(ledger.verdict) == {"not run"}
    with_readings = ledger[[bool(c.get("readings")) for c in CLAIMS]]
    assert len(with_readings) and all(r.startswith("no reading run (not run: ") for r in with_readings.robustness)
    md = to_markdown(ledger, "full", SHIPPED_TOL)
    assert f"Verdicts: not run {len(CLAIMS)}" in md
    assert "pp ±1, fraction ±0.05" in md and "docs/protocol.md section 8" in md
    with pytest.raises(ClaimError, match="'x': unknown rule 'vibes'"):
        check_claims([{"id": "x", "slide": "s", "claim": "c", "slide_value": "v", "rule": "vibes", "cell": {}}], TOL)
    with pytest.raises(ClaimError, match="'y': rule level needs a 'value'"):
        check_claims([{"id": "y", "slide": "s", "claim": "c", "slide_value": "v", "rule": "level", "cell": {}}], TOL)
