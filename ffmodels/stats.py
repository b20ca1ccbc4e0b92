"""Statistics of the tables (PROTOCOL section 8), all from scipy.stats.

Runs are paired by seed: the same seed gives the same initial weights and data order.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def summarise(values) -> dict:
    """n, mean, sd and the 95 % t-interval of the mean (nan where n is too small)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    mean = float(v.mean()) if n else math.nan
    sd = float(v.std(ddof=1)) if n > 1 else math.nan
    if n > 1 and sd > 0:
        lo, hi = stats.t.interval(0.95, df=n - 1, loc=mean, scale=sd / math.sqrt(n))
    elif n > 1:
        lo = hi = mean  # no spread: the interval collapses onto the mean
    else:
        lo = hi = math.nan
    return {"n": n, "mean": mean, "sd": sd, "ci_low": float(lo), "ci_high": float(hi)}


def paired_test(a, b, method: str = "ttest") -> dict:
    """a - b paired by position: mean difference, p-value, Cohen's d_z (mean diff / sd diff).
    The paired t-test is the one-sample t-test of the differences against 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    spread = summarise(a - b)
    out = {"n_pairs": len(a), **one_sample_test(a - b, 0.0), "ci_low": spread["ci_low"], "ci_high": spread["ci_high"]}
    if method == "wilcoxon" and not math.isnan(out["cohen_d"]):  # two or more pairs that differ
        out["p"] = float(stats.wilcoxon(a, b).pvalue)
    return out


def welch_test(a, b) -> dict:
    """Unpaired comparison (Welch's t) with its 95 % CI of the difference and Cohen's d on the
    pooled sd."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    out = {"diff": float(a.mean() - b.mean()), "p": math.nan, "cohen_d": math.nan, "ci_low": math.nan,
           "ci_high": math.nan}
    if len(a) < 2 or len(b) < 2:
        return out
    result = stats.ttest_ind(a, b, equal_var=False)
    out["p"] = float(result.pvalue)
    out["ci_low"], out["ci_high"] = map(float, result.confidence_interval(0.95))
    pooled = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    if pooled > 0:
        out["cohen_d"] = out["diff"] / pooled
    return out


def holm(pvalues) -> list[float]:
    """Holm-Bonferroni adjusted p-values (nan entries are left out and stay nan)."""
    p = np.asarray(pvalues, dtype=float)
    ok = np.flatnonzero(~np.isnan(p))
    adjusted = np.full(len(p), math.nan)
    m = len(ok)
    running = 0.0
    for rank, i in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def one_sample_test(values, value: float, alternative: str = "two-sided") -> dict:
    """mean - value, one-sample t-test (alternative: two-sided | greater | less), Cohen's d.
    Without spread the test is degenerate: p = 0 where the mean lies on the alternative's side,
    else 1."""
    v = np.asarray(values, dtype=float)
    out = {"diff": float(v.mean() - value) if len(v) else math.nan, "p": math.nan, "cohen_d": math.nan}
    if len(v) < 2:
        return out
    sd = v.std(ddof=1)
    if sd == 0:
        agrees = {"greater": v.mean() > value, "less": v.mean() < value}.get(alternative, v.mean() != value)
        out["p"] = 0.0 if agrees else 1.0
        return out
    out["cohen_d"] = float(out["diff"] / sd)
    out["p"] = float(stats.ttest_1samp(v, value, alternative=alternative).pvalue)
    return out
