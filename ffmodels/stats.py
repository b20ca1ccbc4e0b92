"""Statistics of the tables (PROTOCOL section 8), all from scipy.stats.

Runs are paired by seed: the same seed gives the same initial weights and data order.
"""

from __future__ import annotations

import math

import numpy as np

from ffmodels.lazy import lazy_import

stats = lazy_import("scipy.stats")


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
    out = {
        "diff": float(a.mean() - b.mean()),
        "p": math.nan,
        "cohen_d": math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
    }
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


def standard_error(n, sd=math.nan, ci_low=math.nan, ci_high=math.nan, level: float = 0.95) -> float:
    """The standard error of a mean of n values from a table row's summary: sd / sqrt(n) where
    the row has the sd, else from its t-interval of the mean (half-width / t quantile, df n - 1);
    nan for n < 2 or where neither is known."""
    n = 0 if n is None or (isinstance(n, float) and math.isnan(n)) else int(n)
    if n < 2:
        return math.nan
    if sd is not None and math.isfinite(sd):
        return float(sd) / math.sqrt(n)
    if all(x is not None and math.isfinite(x) for x in (ci_low, ci_high)):
        return (ci_high - ci_low) / 2 / float(stats.t.ppf(0.5 + level / 2, n - 1))
    return math.nan


def tost(mean: float, se: float, df: int, value: float, tolerance: float) -> dict:
    """Equivalence by two one-sided t-tests (TOST) on a summary (mean, its standard error, df):
    H0 |mu - value| >= tolerance against H1 |mu - value| < tolerance. p_lower tests
    mu > value - tolerance, p_upper mu < value + tolerance; p = the larger (equivalence at
    alpha when p < alpha). Without spread (se = 0) the test is degenerate: p = 0 when the mean
    lies strictly inside the margin, else 1; nan without a standard error."""
    out = {
        "diff": mean - value,
        "low": value - tolerance,
        "high": value + tolerance,
        "p_lower": math.nan,
        "p_upper": math.nan,
        "p": math.nan,
    }
    if not (math.isfinite(mean) and math.isfinite(se)) or df < 1:
        return out
    if se == 0:
        inside = abs(mean - value) < tolerance
        out.update(
            p_lower=float(mean <= value - tolerance), p_upper=float(mean >= value + tolerance), p=0.0 if inside else 1.0
        )
        return out
    out["p_lower"] = float(stats.t.sf((mean - (value - tolerance)) / se, df))
    out["p_upper"] = float(stats.t.cdf((mean - (value + tolerance)) / se, df))
    out["p"] = max(out["p_lower"], out["p_upper"])
    return out


def _row_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of x with the same row of y (average ranks for ties); nan for
    a row where either side has no spread."""
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (rx * ry).sum(axis=1) / denom, np.nan)


def seed_bootstrap_spearman(pairs, replicates: int, seed: int, level: float = 0.95) -> dict:
    """Spearman's rho across models between the mean of a metric and the mean of an outcome over
    each model's seeds, with a CI from the seeds: each replicate resamples every model's seeds
    with replacement (metric and outcome of a seed drawn together, so their pairing is kept),
    takes the means again and ranks the models again; percentile interval over the replicates.
    pairs: per model, (metric values, outcome values), one of each per seed, in model order (the
    generator draws for the models in that order). The CI says how much the ordering moves with
    seed noise; which models are in the study is fixed. p: two-sided, from the same replicates,
    (1 + replicates on the other side of 0) / (1 + replicates), doubled; rho_p: the test of rho
    over the model means (scipy), which treats the models as a sample. Every value must be finite:
    a replicate that drew a NaN would be dropped, and the CI would come from the others only."""
    if not all(np.isfinite(np.asarray(side, dtype=float)).all() for pair in pairs for side in pair):
        raise ValueError("seed_bootstrap_spearman: a value is not finite; leave it out before (seed by seed)")
    means = np.array([[np.mean(m), np.mean(o)] for m, o in pairs], dtype=float).reshape(-1, 2)
    out = {"rho": math.nan, "ci_low": math.nan, "ci_high": math.nan, "sd": math.nan, "p": math.nan, "rho_p": math.nan}
    if len(pairs) < 3 or np.ptp(means[:, 0]) == 0 or np.ptp(means[:, 1]) == 0:
        return out  # fewer than 3 models, or one side constant: no ordering to measure
    fit = stats.spearmanr(means[:, 0], means[:, 1])
    out.update(rho=float(fit.statistic), rho_p=float(fit.pvalue))
    rng = np.random.default_rng(seed)
    x = np.empty((replicates, len(pairs)))
    y = np.empty((replicates, len(pairs)))
    for k, (m, o) in enumerate(pairs):
        m, o = np.asarray(m, dtype=float), np.asarray(o, dtype=float)
        draw = rng.integers(0, len(m), size=(replicates, len(m)))
        x[:, k], y[:, k] = m[draw].mean(axis=1), o[draw].mean(axis=1)
    rho = _row_spearman(x, y)
    rho = rho[~np.isnan(rho)]
    if not len(rho):
        return out
    tail = (1 - level) / 2
    below, above = (1 + np.sum(rho <= 0)) / (1 + len(rho)), (1 + np.sum(rho >= 0)) / (1 + len(rho))
    out.update(
        ci_low=float(np.quantile(rho, tail)),
        ci_high=float(np.quantile(rho, 1 - tail)),
        sd=float(rho.std(ddof=1)) if len(rho) > 1 else math.nan,
        p=float(min(1.0, 2 * min(below, above))),
    )
    return out
