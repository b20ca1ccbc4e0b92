import math

import numpy as np
import pytest
from scipy import stats as sps

from ffmodels.stats import holm, paired_test, standard_error, summarise, tost, welch_test


def test_summary_mean_sd_and_t_interval():
    s = summarise([1.0, 2.0, 3.0, 4.0])
    assert s["n"] == 4 and s["mean"] == pytest.approx(2.5)
    assert s["sd"] == pytest.approx(math.sqrt(5 / 3))
    half = sps.t.ppf(0.975, 3) * s["sd"] / 2
    assert (s["ci_low"], s["ci_high"]) == pytest.approx((2.5 - half, 2.5 + half))


def test_summary_of_one_value_has_no_spread():
    s = summarise([0.7])
    assert s["mean"] == 0.7 and math.isnan(s["sd"]) and math.isnan(s["ci_low"])


def test_holm_against_hand_values():
    # sorted p: 0.01*3, 0.03*2, 0.04*1 -> 0.03, 0.06, max(0.06, 0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([math.nan, 0.2, 0.9])
    assert math.isnan(out[0]) and out[1:] == pytest.approx([0.4, 0.9])


def test_paired_test_matches_scipy_and_reports_cohens_dz():
    a, b = [0.9, 0.8, 0.85, 0.95], [0.7, 0.75, 0.8, 0.7]
    out = paired_test(a, b)
    assert out["p"] == pytest.approx(sps.ttest_rel(a, b).pvalue)
    d = np.subtract(a, b)
    assert out["cohen_d"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert out["diff"] == pytest.approx(d.mean())
    w = paired_test(a, b, method="wilcoxon")
    assert w["p"] == pytest.approx(sps.wilcoxon(a, b).pvalue)


def test_welch_matches_scipy():
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0]
    assert welch_test(a, b)["p"] == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue)


def test_table_pairs_by_seed_and_falls_back_to_welch_without_shared_seeds():
    import pandas as pd

    from ffmodels.tables import comparison_table

    rows = [("ref", s, v) for s, v in enumerate([80.0, 81.0, 82.0])]
    rows += [("a", s, v) for s, v in enumerate([85.0, 86.5, 86.0])]
    rows += [("b", s + 10, v) for s, v in enumerate([70.0, 71.0, 75.0])]  # other seeds: no pairs
    records = pd.DataFrame(rows, columns=["variant", "seed", "value"]).assign(status="ok")
    table = comparison_table(records, ["ref", "a", "b"], {"ref": None, "a": "ref", "b": "ref"}, "ttest", 0.05)
    a, b = table.set_index("variant").loc["a"], table.set_index("variant").loc["b"]
    assert a.test == "paired ttest" and a.n_pairs == 3
    assert a.p == pytest.approx(sps.ttest_rel([85.0, 86.5, 86.0], [80.0, 81.0, 82.0]).pvalue)
    assert b.test == "welch" and b.n_pairs == 0
    assert b.p == pytest.approx(sps.ttest_ind([70.0, 71.0, 75.0], [80.0, 81.0, 82.0], equal_var=False).pvalue)
    assert table.p_holm.tolist()[1:] == pytest.approx(holm([a.p, b.p]))


def test_standard_error_from_the_sd_or_from_the_ci_of_a_summary():
    values = [1.0, 2.0, 4.0, 7.0]
    s = summarise(values)
    se = sps.sem(values)
    assert standard_error(s["n"], s["sd"]) == pytest.approx(se)
    assert standard_error(s["n"], math.nan, s["ci_low"], s["ci_high"]) == pytest.approx(se)
    assert standard_error(s["n"], None, s["ci_low"], s["ci_high"]) == pytest.approx(se)
    assert math.isnan(standard_error(1, 0.5)) and math.isnan(standard_error(4, math.nan))


@pytest.mark.parametrize(
    "values,value,tol",
    [
        ([94.1, 94.6, 94.3, 94.9, 94.4], 94.5, 1.0),  # equivalent
        ([91.0, 93.5, 92.2], 94.5, 1.0),  # lower, not
        ([0.97, 0.99, 1.0, 0.98], 1.0, 0.05),
    ],
)  # fractions
def test_tost_is_the_larger_of_two_one_sided_one_sample_t_tests(values, value, tol):
    s = summarise(values)
    out = tost(s["mean"], standard_error(s["n"], s["sd"]), s["n"] - 1, value, tol)
    lower = sps.ttest_1samp(values, value - tol, alternative="greater").pvalue
    upper = sps.ttest_1samp(values, value + tol, alternative="less").pvalue
    assert out["p_lower"] == pytest.approx(lower) and out["p_upper"] == pytest.approx(upper)
    assert out["p"] == pytest.approx(max(lower, upper))
    assert (out["low"], out["high"]) == pytest.approx((value - tol, value + tol))


def test_tost_hand_computed_and_degenerate():
    # mean 10.2, se 0.1, df 4, margin 10 +- 0.5: t_lower = 7, t_upper = -3
    out = tost(10.2, 0.1, 4, 10.0, 0.5)
    assert out["p_lower"] == pytest.approx(sps.t.sf(7.0, 4)) and out["p_upper"] == pytest.approx(sps.t.cdf(-3.0, 4))
    assert out["p"] == pytest.approx(0.019970, abs=1e-5)  # t.cdf(-3, 4)
    assert tost(10.2, 0.0, 4, 10.0, 0.5)["p"] == 0.0 and tost(10.6, 0.0, 4, 10.0, 0.5)["p"] == 1.0
    assert math.isnan(tost(10.2, math.nan, 0, 10.0, 0.5)["p"])


def test_a_reading_is_holm_corrected_in_its_claims_place_and_leaves_the_primary_correction_alone():
    """Root-cause table: primary claims a, b over two variants (4 tests); reading a2 of a is
    corrected over {a2, b} tests, as if it replaced a; an untested metric stays untested."""
    import pandas as pd

    from ffmodels.tables.root_cause import holm_with_readings

    table = pd.DataFrame(
        {
            "variant": ["v", "w"] * 4,
            "metric": ["a", "a", "b", "b", "a2", "a2", "x", "x"],
            "p": [0.01, 0.04, 0.02, 0.03, 0.001, 0.2, math.nan, math.nan],
        }
    )
    claims = {"a": {}, "b": {}, "a2": {"reading_of": "a"}}
    got = holm_with_readings(table, claims)
    primary = holm([0.01, 0.04, 0.02, 0.03])
    assert got[:4] == pytest.approx(primary)
    assert holm_with_readings(table[table.metric != "a2"].reset_index(drop=True), {"a": {}, "b": {}})[
        :4
    ] == pytest.approx(primary)
    assert got[4:6] == pytest.approx([holm([0.02, 0.03, 0.001, 0.2])[2], holm([0.02, 0.03, 0.001, 0.2])[3]])
    assert got[4:6] == pytest.approx([0.004, 0.2 * 1])  # by hand: 0.001 x 4; 0.2 x 1 (largest, step-down max)
    assert all(math.isnan(v) for v in got[6:])
