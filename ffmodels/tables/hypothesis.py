"""The root-cause hypothesis test (PROTOCOL section 5.1): across the models, which per-model
quantity orders transfer accuracy? The label-coupling metrics the slides blame, against the
competing explanations (dead and saturated target units, the features' effective rank and the
pixel information they keep), each a per-seed analysis result (ffmodels.analysis).

Rows: per model (the table's variants and the random init of each) its mean of every quantity
and of transfer accuracy over seeds; then per quantity and scope (`all_models`; `ff_variants`,
the table's `ff_variants` only) Spearman's rho between the models' quantity and their transfer
accuracy, with the seed bootstrap's 95 % CI (ffmodels.stats.seed_bootstrap_spearman; config
stats.bootstrap), Holm over the table's correlations, and a status: whether the quantity orders
transfer in the sign its explanation predicts (CI excluding 0 on that side), the other way, or
not at all. A collapsed run (ffmodels.collapse) is left out, seed by seed, and so is a value that
is not finite (the table's notes name each); a model missing a quantity (a gradient share without
label input) is left out of that quantity's correlation.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ffmodels import stats
from ffmodels.lazy import lazy_import
from ffmodels.tables import TRANSFER_METRIC, finish, summary_row, table_kind
from ffmodels.tables.compare import with_random_inits

pd = lazy_import("pandas")

LABEL, DEAD, RANK = "label coupling", "dead or saturated units", "representation quality"


class Quantity(NamedTuple):
    analysis: str  # the analysis (ffmodels.analysis) whose "final" value it is
    explains: str  # the explanation it stands for
    sign: int  # the sign of rho with transfer that explanation predicts
    words: str  # what it is, for a reader (the README's hypothesis block)


# More label coupling or more dead units: worse transfer; higher rank or more pixel information
# kept: better transfer.
QUANTITIES = {
    "variance_ratio": Quantity("label_selectivity", LABEL, -1, "label neurons' variance ratio"),
    "variance_ratio_responsive": Quantity("label_selectivity", LABEL, -1, "variance ratio over responsive units"),
    "variance_ratio_median": Quantity("label_selectivity", LABEL, -1, "variance ratio of medians"),
    "gradient_share": Quantity("gradient_share", LABEL, -1, "label columns' gradient share"),
    "gradient_share_per_sample": Quantity("gradient_share", LABEL, -1, "per-sample gradient share"),
    "gradient_share_input_cols": Quantity("gradient_share", LABEL, -1, "gradient share over input columns"),
    "gradient_share_per_sample_input_cols": Quantity(
        "gradient_share", LABEL, -1, "per-sample gradient share over input columns"
    ),
    "label_dependency": Quantity("label_dependency", LABEL, -1, "label dependency"),
    "dead_target": Quantity("representation", DEAD, -1, "dead units on Fashion-MNIST"),
    "saturated_target": Quantity("representation", DEAD, -1, "saturated units on Fashion-MNIST"),
    "effective_rank": Quantity("representation", RANK, 1, "effective rank of the features"),
    "effective_rank_standardised": Quantity("representation", RANK, 1, "effective rank of the standardised features"),
    "pixel_r2": Quantity("representation", RANK, 1, "pixel R² the features keep"),
}
SCOPES = {"all_models": "every model of the table, random inits included", "ff_variants": "the trained FF variants"}
RHO_PREFIX = "rho_"  # a correlation row's metric: rho_<quantity>


def quantities(spec: dict) -> list[str]:
    return spec.get("metrics", list(QUANTITIES))


def models(spec: dict, random_init_of: dict) -> list[str]:
    """The table's variants, then the random init of each (once)."""
    return with_random_inits(spec["variants"], random_init_of)


# A correlation row's status (the table's `status` column).
AS_PREDICTED, OPPOSITE = "orders transfer as predicted", "orders transfer, opposite sign"
NO_ORDER, NOT_MEASURED = "does not order transfer (CI holds 0)", "not measured (fewer than 3 models, or no spread)"


def status(rho: dict, sign: int) -> str:
    if math.isnan(rho["ci_low"]):
        return NOT_MEASURED
    if not (rho["ci_low"] > 0 or rho["ci_high"] < 0):
        return NO_ORDER
    return AS_PREDICTED if (rho["ci_low"] > 0) == (sign > 0) else OPPOSITE


@table_kind("hypothesis")
class Hypothesis:
    plot = "hypothesis"  # its figure (ffmodels.figures): metric against transfer, a point per model
    summary_rows = tuple(SCOPES)  # the correlation rows' `variant`: a claim's cell may name them

    @staticmethod
    def check(table: str, spec: dict, variant_names, settings) -> str | None:
        """Why the table cannot run (ffmodels.config.resolve, before any job), None if it can."""
        where = f"tables.{table}"
        if "ff_variants" not in spec:
            return f"{where}.ff_variants: missing (the variants of the within-FF correlations)"
        for v in spec["ff_variants"]:
            if v not in spec.get("variants", []):
                return f"{where}.ff_variants: '{v}' is not one of its variants {spec.get('variants')}"
        unknown = [q for q in quantities(spec) if q not in QUANTITIES]
        if unknown:
            return f"{where}.metrics: unknown {unknown}; known: {list(QUANTITIES)}"
        return None

    @staticmethod
    def runs(spec, variants):
        """The transfer probe of every model, and each quantity's analysis on the models where it
        can be measured (ffmodels.analysis.measurable). Imported here: only the workflow asks."""
        from ffmodels.analysis import METRICS, measurable
        from ffmodels.families import FAMILIES

        rows = models(spec, variants["random_init_of"])
        family = dict(variants["family_of"])
        for v in spec["variants"]:  # a random init is the untrained network of its family's baseline
            cls = variants["family_of"][v]
            family[variants["random_init_of"][v]] = FAMILIES[cls.baseline_family or cls.family]
        out = {"transfer": rows}
        for q in quantities(spec):
            analysis = QUANTITIES[q].analysis
            out.setdefault(analysis, [m for m in rows if measurable(METRICS[analysis], family[m])])
        return out

    @staticmethod
    def build(spec, records, ctx):
        transfer = {
            (r["variant"], r["seed"]): 100.0 * r["test_acc"] for r in records["transfer"] if r["status"] != "collapsed"
        }
        rows = models(spec, ctx["random_init_of"])
        out = []
        for m in rows:  # mean over the seeds that did not collapse; n_collapsed counts the others
            values = [v for (model, _), v in transfer.items() if model == m]
            collapsed = [r["status"] for r in records["transfer"] if r["variant"] == m and r["status"] == "collapsed"]
            out.append({"variant": m, "metric": TRANSFER_METRIC, **summary_row(values), "n_collapsed": len(collapsed)})
        boot = ctx["stats"]["bootstrap"]
        correlations, not_finite = [], []
        for q in quantities(spec):
            analysis, group, sign, _ = QUANTITIES[q]
            value = {
                (r["variant"], r["seed"]): r["final"][q] for r in records.get(analysis, []) if q in r.get("final", {})
            }
            # a value with no place in a ranking (a ratio over units that never vary): left out, seed by seed
            not_finite += [f"{q} of {m} seed {s} ({v})" for (m, s), v in value.items() if not math.isfinite(v)]
            value = {k: v for k, v in value.items() if math.isfinite(v)}
            seeds = {m: sorted(s for (model, s) in value if model == m and (m, s) in transfer) for m in rows}
            measured = [m for m in rows if seeds[m]]
            for m in measured:
                out.append({"variant": m, "metric": q, **summary_row([value[(m, s)] for s in seeds[m]])})
            for scope in SCOPES:
                members = [m for m in measured if scope == "all_models" or m in spec["ff_variants"]]
                pairs = [([value[(m, s)] for s in seeds[m]], [transfer[(m, s)] for s in seeds[m]]) for m in members]
                rho = stats.seed_bootstrap_spearman(pairs, boot["replicates"], boot["seed"])
                correlations.append(
                    {
                        "variant": scope,
                        "metric": RHO_PREFIX + q,
                        "n": len(members),
                        "mean": rho["rho"],
                        "sd": rho["sd"],
                        "ci_low": rho["ci_low"],
                        "ci_high": rho["ci_high"],
                        "n_collapsed": 0,
                        "reference": "0",
                        "delta_vs_ref": rho["rho"],  # its CI is the row's own (ci_low, ci_high)
                        "n_pairs": min((len(seeds[m]) for m in members), default=0),
                        "test": "seed bootstrap",
                        "p": rho["p"],
                        "group": group,
                        "predicted": "negative" if sign < 0 else "positive",
                        "rho_p_models": rho["rho_p"],
                        "status": status(rho, sign),
                    }
                )
        table = finish(pd.DataFrame(out + correlations), ctx["stats"]["alpha"])
        table["status"] = table["status"].fillna("")
        excluded = sorted({r["variant"] for r in records["transfer"] if r["status"] == "collapsed"})
        notes = [
            "Rows per model: each quantity's mean over its seeds (the analysis's value at the end of training; "
            "a random init is its untrained network) and its transfer accuracy (the common probe, as in rq2_transfer).",
            f"Rows {', '.join(SCOPES)}: Spearman's rho across the models "
            f"({'; '.join(f'{k}: {v}' for k, v in SCOPES.items())}) "
            "between each quantity's model mean and the model's mean transfer accuracy; n = models, n_pairs = "
            "the fewest seeds of a model. 95 % CI: percentile interval over "
            f"{boot['replicates']} bootstrap replicates that resample each model's seeds (metric and transfer of a "
            "seed together; config stats.bootstrap); p: two-sided from the same replicates, Holm over the table's "
            "correlations; rho_p_models: scipy's test of rho over the model means (models as a sample).",
            "status: the 95 % CI (not Holm-adjusted) excludes 0 on the side the explanation predicts (predicted: "
            "negative for label coupling and dead or saturated units, positive for effective rank and pixel R^2): "
            "'orders transfer as predicted'; on the other side: 'orders transfer, opposite sign'.",
            "Label metrics on a model without a label input: the same one-hot written into the same 10 input pixels "
            "(ordinary image pixels for it), its label-blind floor; the gradient share needs an FF objective over "
            "a label slot and is left out for such models (n shows it).",
        ]
        if excluded:
            notes.append(f"Collapsed runs left out, seed by seed: {', '.join(excluded)}.")
        if not_finite:
            notes.append(f"Values that are not finite left out, seed by seed: {'; '.join(not_finite)}.")
        return table, notes
