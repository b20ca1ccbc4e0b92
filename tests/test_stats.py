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
