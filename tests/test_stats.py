import math

import numpy as np
import pytest
from scipy import stats as sps

from ffmodels.stats import holm, paired_test, summarise, welch_test


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
