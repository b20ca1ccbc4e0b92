"""The claims ledger's verdict rules on hand-made table rows, and the shipped claims file."""

import math

import pandas as pd
import pytest
import yaml

from ffmodels.config import load_config
from ffmodels.ledger import ClaimError, build_ledger, check_claims, verdict
from tests.conftest import REPO

ALPHA = 0.05


def row(variant, metric="source_acc", mean=50.0, ci=(48.0, 52.0), reference=None, delta=math.nan,
        delta_ci=(math.nan, math.nan), p_holm=math.nan, n=5, **extra):
    return {"variant": variant, "metric": metric, "n": n, "mean": mean, "ci_low": ci[0], "ci_high": ci[1],
            "reference": reference, "delta_vs_ref": delta, "delta_ci_low": delta_ci[0], "delta_ci_high": delta_ci[1],
            "test": None if reference is None else "paired ttest", "p_holm": p_holm,
            "significant": (p_holm < ALPHA) if not math.isnan(p_holm) else False, **extra}


def tables(*rows, name="t"):
    return {name: pd.DataFrame(list(rows))}


def claim(rule, cell, **kw):
    return {"id": "c", "slide": "s", "claim": "words", "slide_value": "v", "rule": rule, "cell": {"table": "t", **cell}, **kw}


def judge(rows, c):
    return verdict(tables(*rows), c, ALPHA)


# --- level --------------------------------------------------------------------------------------

def test_level_inside_the_ci_is_reproduced():
    out = judge([row("a", mean=50.0, ci=(48.0, 52.0))], claim("level", {"variant": "a", "metric": "source_acc"}, value=51.0))
    assert out["verdict"] == "reproduced" and out["ours"] == "50.00 [48.00, 52.00]" and out["n"] == 5


@pytest.mark.parametrize("value,word", [(40.0, "higher by 10.00"), (60.5, "lower by 10.50")])
def test_level_outside_the_ci_is_not_reproduced_with_the_signed_gap(value, word):
    out = judge([row("a", mean=50.0)], claim("level", {"variant": "a", "metric": "source_acc"}, value=value))
    assert out["verdict"] == "not reproduced" and out["detail"] == f"ours {word}"


# --- direction / difference ------------------------------------------------------------------------

def diff_row(delta, p, ci=(1.0, 7.0)):
    return row("a", reference="b", delta=delta, delta_ci=ci, p_holm=p)


def test_difference_significant_with_the_claimed_size_inside_the_ci_is_reproduced():
    out = judge([diff_row(4.0, 0.001)], claim("difference", {"variant": "a", "metric": "source_acc"}, value=4.7))
    assert out["verdict"] == "reproduced" and out["ours"].startswith("Δ 4.00 [1.00, 7.00] vs b")
    assert "p_holm = 0.001" in out["test"]


def test_difference_significant_but_the_size_outside_the_ci_is_direction_only():
    out = judge([diff_row(4.0, 0.001)], claim("difference", {"variant": "a", "metric": "source_acc"}, value=18.0))
    assert out["verdict"] == "direction only" and "outside" in out["detail"]


def test_difference_not_significant_is_not_reproduced():
    out = judge([diff_row(4.0, 0.2, ci=(-2.0, 10.0))], claim("difference", {"variant": "a", "metric": "source_acc"}, value=4.7))
    assert out["verdict"] == "not reproduced" and "not significant" in out["detail"]


def test_difference_significant_the_other_way_is_contradicted():
    out = judge([diff_row(-4.0, 0.001, ci=(-7.0, -1.0))], claim("difference", {"variant": "a", "metric": "source_acc"}, value=4.7))
    assert out["verdict"] == "contradicted"


@pytest.mark.parametrize("direction,delta,expected", [("less", -3.0, "reproduced"), ("less", 3.0, "contradicted"),
                                                      ("greater", 3.0, "reproduced"), ("greater", -3.0, "contradicted")])
def test_direction_without_a_size_either_way(direction, delta, expected):
    out = judge([diff_row(delta, 0.01, ci=(delta - 1, delta + 1))],
                claim("direction", {"variant": "a", "metric": "source_acc"}, direction=direction))
    assert out["verdict"] == expected


def test_direction_with_a_claimed_level_checks_the_mean_ci():
    """'10x higher variance', tested as ratio > 1: significant, but 10 outside the CI of the mean."""
    r = row("a", metric="variance_ratio", mean=3.0, ci=(2.0, 4.0), reference="> 1.0", delta=2.0, p_holm=0.01)
    c = claim("direction", {"variant": "a", "metric": "variance_ratio"}, direction="greater", value=10.0)
    assert judge([r], c)["verdict"] == "direction only"
    assert judge([r], {**c, "value": 3.5})["verdict"] == "reproduced"


# --- not run, cells ------------------------------------------------------------------------------

def test_a_claim_on_a_table_not_built_or_a_row_not_in_it_is_not_run():
    c = claim("level", {"variant": "a", "metric": "source_acc"}, value=50.0)
    assert verdict({}, c, ALPHA)["verdict"] == "not run"
    assert judge([row("other")], c)["verdict"] == "not run"


def test_an_ambiguous_cell_is_an_error_that_names_the_claim():
    rows = [row("a", metric="transfer_acc", reference="x"), row("a", metric="transfer_acc", reference="y")]
    with pytest.raises(ClaimError, match="'c' matches 2 rows of t"):
        judge(rows, claim("level", {"variant": "a", "metric": "transfer_acc"}, value=50.0))
    assert judge(rows, claim("level", {"variant": "a", "metric": "transfer_acc", "reference": "y"}, value=50.0))["verdict"] == "reproduced"


def test_epoch_last_picks_the_highest_epoch():
    rows = [row("p", metric="dead", mean=0.1, ci=(0.0, 0.2), epoch=1), row("p", metric="dead", mean=0.9, ci=(0.8, 1.0), epoch=8)]
    out = judge(rows, claim("level", {"variant": "p", "metric": "dead", "epoch": "last"}, value=1.0))
    assert out["verdict"] == "reproduced" and out["ours"].startswith("0.90")


# --- ordering, none_improve, status -----------------------------------------------------------------

def test_ordering():
    rows = [row("a", mean=90.0), row("b", mean=80.0), row("c", mean=85.0)]
    c = claim("ordering", {"metric": "source_acc"}, variants=["a", "b", "c"])
    out = judge(rows, c)
    assert out["verdict"] == "not reproduced" and out["detail"] == "our order: a > c > b"
    assert judge(rows, {**c, "variants": ["a", "c", "b"]})["verdict"] == "reproduced"
    assert judge(rows[:2], c)["verdict"] == "not run"


def test_none_improve():
    c = claim("none_improve", {"metric": "source_acc", "reference": "ff"})
    flat = [row("x", reference="ff", delta=1.0, p_holm=0.3), row("y", reference="ff", delta=-5.0, p_holm=0.01)]
    out = judge(flat, c)
    assert out["verdict"] == "reproduced" and out["detail"] == "0 of 2 significantly better, 1 significantly worse"
    better = flat + [row("z", reference="ff", delta=3.0, p_holm=0.01)]
    out = judge(better, c)
    assert out["verdict"] == "contradicted" and out["detail"].endswith(": z")


def test_status():
    c = claim("status", {"variant": "p", "metric": "last_good_epoch"}, value="collapsed")
    assert judge([row("p", metric="last_good_epoch", status="collapsed (3/3)")], c)["verdict"] == "reproduced"
    assert judge([row("p", metric="last_good_epoch", status="ok")], c)["verdict"] == "not reproduced"


def test_protocol_check_shows_the_value_under_another_setting():
    main = row("ri", metric="transfer_acc", mean=85.0, ci=(84.0, 86.0))
    other = pd.DataFrame([row("ri", metric="transfer_acc", mean=72.5, ci=(71.0, 74.0), setting="upstream_probe"),
                          row("ri", metric="transfer_acc", mean=85.0, ci=(84.0, 86.0), setting="protocol")])
    c = claim("level", {"variant": "ri", "metric": "transfer_acc"}, value=72.0,
              protocol_check={"table": "sens", "setting": "upstream_probe"})
    out = verdict({"t": pd.DataFrame([main]), "sens": other}, c, ALPHA)
    assert out["verdict"] == "not reproduced"
    assert out["protocol_note"] == "under upstream_probe (sens): 72.50 [71.00, 74.00]; the slide's 72 is inside this CI"


# --- the shipped claims ------------------------------------------------------------------------------

CLAIMS = yaml.safe_load((REPO / "claims.yaml").read_text())
CONFIG = load_config()  # config.yaml, resolved as the workflow resolves it


def test_shipped_claims_are_well_formed_and_point_at_configured_tables_and_variants():
    check_claims(CLAIMS)
    for c in CLAIMS:
        for cell in (c["cell"], {**c["cell"], **c.get("protocol_check", {})}):
            assert cell["table"] in CONFIG["tables"], (c["id"], cell["table"])
            spec = CONFIG["tables"][cell["table"]]
            for v in [cell.get("variant"), *c.get("variants", [])]:
                if v and not v.startswith("random_init_"):
                    assert v in spec["variants"], (c["id"], v)


def test_the_claims_the_issue_lists_are_all_there():
    ids = {c["id"] for c in CLAIMS}
    assert {"rq1_random_wrong_label", "rq1_hybrid", "rq1_hard", "rq1_gaussian_noise", "rq1_bp", "rq1_gap_to_bp",
            "rq1_ordering", "rq2_ff_transfer", "rq2_random_init", "rq2_bp_transfer", "rq2_ff_below_random",
            "rq2_bp_above_random", "rq3_label_neuron_variance", "rq3_gradient_share", "rq3_more_training_worse",
            "rq4_three_factor_best", "rq4_prospective_t3", "rq4_pcl_accuracy", "rq4_pcl_dead_l1",
            "rq4_collab_source_falls", "rq4_no_help", "cwc_source", "cwc_transfer", "cwc_vs_random",
            "cwc_fixes_transfer"} <= ids


def test_every_claim_is_not_run_without_tables_and_a_malformed_claim_is_named():
    ledger = build_ledger({}, CLAIMS, ALPHA)
    assert len(ledger) == len(CLAIMS) and set(ledger.verdict) == {"not run"}
    with pytest.raises(ClaimError, match="'x': unknown rule 'vibes'"):
        check_claims([{"id": "x", "slide": "s", "claim": "c", "slide_value": "v", "rule": "vibes", "cell": {}}])
    with pytest.raises(ClaimError, match="'y': rule level needs a 'value'"):
        check_claims([{"id": "y", "slide": "s", "claim": "c", "slide_value": "v", "rule": "level", "cell": {}}])
