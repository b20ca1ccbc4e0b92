"""The deck's conclusions (ffmodels/conclusions.py): one rule from the verdicts of their deciding
claims, and the shipped conclusions.yaml."""

import json

import pytest
import yaml

from ffmodels.conclusions import CONCLUSION_VERDICTS, ConclusionError, check_conclusions, judge_conclusion
from tests.conftest import REPO


def claim(cid, verdict, readings=None):
    return {
        "id": cid,
        "claim": f"claim {cid}",
        "slide_value": "v",
        "ours": "o",
        "verdict": verdict,
        "reading_verdicts": json.dumps(readings or {}),
    }


def decide(*rows):
    ledger = {r["id"]: r for r in rows}
    return judge_conclusion({"id": "c", "decided_by": list(ledger)}, ledger)[0]


@pytest.mark.parametrize(
    "verdicts,expected",
    [
        (["as claimed"], "holds"),
        (["as claimed", "stronger than claimed"], "holds"),
        (["stronger than claimed", "stronger than claimed"], "holds, stronger than claimed"),
        (["stronger than claimed", "weaker than claimed"], "holds, weaker than claimed"),
        (["as claimed", "inconclusive"], "not supported"),
        (["as claimed", "absent"], "not supported"),
        (["as claimed", "opposite"], "contradicted"),
        (["weaker than claimed", "contradicted"], "contradicted"),
        (["not run"], "not run"),
    ],
)
def test_the_weakest_deciding_claim_sets_the_verdict(verdicts, expected):
    assert decide(*(claim(f"k{i}", v) for i, v in enumerate(verdicts))) == expected


def test_readings_on_both_sides_make_it_depend_on_them():
    """CwC-FF minus its random init: −1.12 pp with the standardised probe, +10.81 without."""
    cwc = claim("cwc", "opposite", {"calibrated random init": "opposite", "no standardisation": "weaker than claimed"})
    assert decide(cwc) == "depends on no standardisation (weaker than claimed)"
    robust = claim("cwc", "opposite", {"calibrated random init": "opposite"})
    assert decide(robust) == "contradicted"
    # a claim against the conclusion in every reading outweighs another claim's dependence
    assert decide(robust, claim("other", "as claimed", {"x": "absent"})) == "contradicted"
    # readings not judged (collapsed, not run) do not count
    assert (
        decide(claim("p", "weaker than claimed", {"fb 1e-3": "not judged: collapsed", "y": "not run"}))
        == "holds, weaker than claimed"
    )


def test_every_verdict_is_in_the_vocabulary():
    for v in ("as claimed", "opposite", "absent", "stronger than claimed"):
        out = decide(claim("a", v, {"r": "opposite"}))
        assert any(out.startswith(word) for word in CONCLUSION_VERDICTS), out


CLAIMS = yaml.safe_load((REPO / "claims.yaml").read_text())
CONCLUSIONS = yaml.safe_load((REPO / "conclusions.yaml").read_text())


def test_the_shipped_conclusions_are_the_decks_and_each_is_decided_by_effect_claims():
    check_conclusions(CONCLUSIONS, CLAIMS)
    ids = {c["id"] for c in CONCLUSIONS}
    assert (
        len(ids) >= 12
        and {
            "ff_gap_to_bp",
            "random_wrong_label_best",
            "negatives_need_care",
            "ff_worse_than_random_init",
            "bp_better_than_random_init",
            "label_embedding_root_cause",
            "more_training_worse",
            "bio_inspired_dont_help",
            "prospective_more_iterations_worse",
            "naive_predictive_coding_collapses",
            "collaboration_marginal",
            "cwc_fixes_transfer",
            "source_transfer_tradeoff",
            "label_free_features_general",
        }
        <= ids
    )


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"id": "x", "slide": "s", "conclusion": "c"}, r"'x' lacks \['decided_by'\]"),
        ({"id": "x", "slide": "s", "conclusion": "c", "decided_by": ["nope"]}, "'nope' is not in claims.yaml"),
        ({"id": "x", "slide": "s", "conclusion": "c", "decided_by": ["rq1_bp"]}, "'rq1_bp' is a level claim"),
        ({"id": "x", "slide": "s", "conclusion": "c", "decided_by": [], "vibe": 1}, r"unknown key\(s\) \['vibe'\]"),
    ],
)
def test_a_malformed_conclusion_is_named(bad, message):
    with pytest.raises(ConclusionError, match=message):
        check_conclusions([bad], CLAIMS)
