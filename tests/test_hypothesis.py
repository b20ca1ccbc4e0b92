"""The root-cause hypothesis test (PROTOCOL section 5.1): its metrics against inputs with known
answers, the seed bootstrap of Spearman's rho, the table it builds, and its config checks."""

import math

import numpy as np
import pytest
import torch
import yaml

from ffmodels import stats
from ffmodels.analysis import METRICS, Context, measurable
from ffmodels.analysis.label_selectivity import label_crossed_activity, label_share
from ffmodels.analysis.representation import effective_rank, pixel_r2, unit_fractions, unit_scaled
from ffmodels.config import load_config
from ffmodels.errors import ConfigError
from ffmodels.families import FAMILIES
from ffmodels.families.bp import BPHParams, BPNet
from ffmodels.ledger import verdict
from ffmodels.tables.hypothesis import Hypothesis
from tests.conftest import REPO

CONFIG = load_config()
TCFG = {**CONFIG["transfer"], "label_fill": "zero"}


def test_effective_rank_of_known_matrices():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(200, 200, generator=g))
    k = 7  # 7 orthogonal directions of equal strength, embedded in 50 dimensions
    feats = q[:, :k] @ torch.linalg.qr(torch.randn(50, k, generator=g))[0].T
    assert effective_rank(feats) == pytest.approx(k, rel=1e-3)
    assert effective_rank(torch.ones(100, 5)) == 0.0  # no variance
    # one loud direction dominates the raw rank; scaling each feature to unit variance equalises it
    loud = torch.randn(500, 4, generator=g) * torch.tensor([100.0, 1.0, 1.0, 1.0])
    assert effective_rank(loud) < 1.5 < 3.5 < effective_rank(unit_scaled(loud))


def test_pixel_r2_is_one_for_the_pixels_themselves_and_near_zero_for_noise():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(700, 30, generator=g)
    pixels = {"train": x[:400], "val": x[400:550], "test": x[550:]}
    r2, penalty = pixel_r2(pixels, pixels, [1e-8, 1e-2, 1.0])
    assert r2 == pytest.approx(1.0, abs=1e-6) and penalty == 1e-8  # validation picks the smallest penalty
    noise = torch.randn(700, 30, generator=g)
    r2, penalty = pixel_r2({"train": noise[:400], "val": noise[400:550], "test": noise[550:]}, pixels, [1e-4, 10.0])
    assert abs(r2) < 0.05 and penalty == 10.0  # nothing to recover: validation shrinks the fit to the mean


def test_pixel_r2_is_not_decided_by_a_unit_that_barely_varies_on_the_fit_images():
    # A unit active on one train image in 2000, barely, then strongly on a test image: scaled to
    # unit variance it sat 1e5 standard deviations out there, and that image's error took R^2 to
    # -1210 (a random init's features gave -4e5). Ridge on the centred features shrinks it.
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2200, 30, generator=g)
    feats = torch.relu(x @ torch.randn(30, 40, generator=g) + 0.3 * torch.randn(2200, 40, generator=g))
    rogue = torch.zeros(2200, 1)
    rogue[0], rogue[2100] = 1e-3, 1.0

    def split(t):
        return {"train": t[:2000], "val": t[2000:2100], "test": t[2100:]}

    without, _ = pixel_r2(split(feats), split(x), [1e-4, 1e-2, 1.0])
    with_rogue, _ = pixel_r2(split(torch.cat([feats, rogue], dim=1)), split(x), [1e-4, 1e-2, 1.0])
    assert 0.5 < without and with_rogue == pytest.approx(without, abs=0.01)
    # the same features on another scale: the same R^2 (the penalty follows the features' variance)
    scaled, _ = pixel_r2(split(1000 * feats), split(x), [1e-4, 1e-2, 1.0])
    assert scaled == pytest.approx(without, abs=1e-6)


def test_dead_and_saturated_fractions_of_known_activity():
    h = torch.zeros(10, 4)
    h[:, 0] = 1.0  # alive
    h[:, 1] = 0.005  # never above 0.01: dead
    h[0, 2] = 5.0  # fires once: alive
    h[:, 3] = 0.0  # dead
    runaway = torch.full((10, 20), 0.1)
    runaway[:, 0] = 100.0  # far above 10x the layer's mean positive activity (about 5.1)
    got = unit_fractions([h, runaway], dead_threshold=0.01)
    assert got == {"dead_target": 2 / 24, "saturated_target": 1 / 24}


def _bp(hidden=(8, 6)):
    torch.manual_seed(0)
    hp = BPHParams(hidden=list(hidden), epochs=1, batch_size=10, lr=1e-3, input_mean=0.0, input_std=1.0)  # no z-score
    return BPNet(hp, 784, 10).eval()


def test_representation_metric_counts_a_network_with_killed_units_as_dead():
    net = _bp()
    with torch.no_grad():  # positive weights keep every unit alive on positive images; then kill 3 of layer 1's 8
        for layer in net.layers:
            layer.weight.uniform_(0.01, 0.1)
            layer.bias.zero_()
        net.layers[0].weight[:3] = 0.0
        net.layers[0].bias[:3] = -1.0
    x = torch.rand(300, 784, generator=torch.Generator().manual_seed(2))  # train 150, validation 50, test 100
    target = {
        f"{s}_{k}": v
        for s, v in (("train", x[:150]), ("val", x[150:200]), ("test", x[200:]))
        for k, v in (("x", v), ("y", torch.zeros(len(v))))
    }
    ctx = Context(
        epochs=[0],
        states={0: net.state_dict()},
        make_model=lambda state: net,
        source=target,
        target=target,
        cfg={**CONFIG["analysis"], "representation_subset": 100, "reconstruction_train": 150},
        transfer=TCFG,
        seed=0,
        batch_size=50,
    )
    final = METRICS["representation"].compute(ctx)["final"]
    assert final["dead_target"] == pytest.approx(3 / 14) and final["saturated_target"] == 0.0
    assert 0 < final["effective_rank"] <= 11 and final["pixel_r2"] < 1  # 11 live features at most


def test_label_metrics_read_a_label_blind_model_through_the_same_ten_pixels():
    net = _bp(hidden=(5, 5))
    with torch.no_grad():  # layer 1 reads only the 10 label pixels
        net.layers[0].weight.uniform_(0.1, 1.0)
        net.layers[0].weight[:, 10:] = 0.0
        net.layers[0].bias.zero_()
    x = torch.rand(20, 784, generator=torch.Generator().manual_seed(3))
    x[:, :10], x[:, 10] = 0.0, 1.0  # every image's maximum 1: the written one-hot is the same in all
    share = label_share(label_crossed_activity(net, x, batch_size=100)[0])["share"]
    assert torch.allclose(share, torch.ones(5))  # all of its activity follows the written one-hot
    # which metric can be measured where: the gradient share needs a label slot, the rest do not
    for family in ("bp", "cwc", "label_free_ff"):
        assert measurable(METRICS["label_selectivity"], FAMILIES[family])
        assert measurable(METRICS["representation"], FAMILIES[family])
        assert not measurable(METRICS["gradient_share"], FAMILIES[family])
        assert not METRICS["label_selectivity"].applies(FAMILIES[family])  # the RQ3 tables stay as they were


def test_seed_bootstrap_spearman_of_a_monotone_relation_and_of_noise():
    rng = np.random.default_rng(0)
    # 8 models, 5 seeds each; transfer rises with the metric, with seed noise far below the gaps
    monotone = [(k + 0.01 * rng.standard_normal(5), 10 * k + 0.01 * rng.standard_normal(5)) for k in range(8)]
    got = stats.seed_bootstrap_spearman(monotone, 1000, seed=0)
    assert got["rho"] == 1.0 and got["ci_low"] == got["ci_high"] == 1.0 and got["p"] < 0.01
    # the metric says nothing about transfer, and seed noise is as large as the models' gaps
    noise = [(rng.standard_normal(5), rng.standard_normal(5)) for _ in range(8)]
    got = stats.seed_bootstrap_spearman(noise, 1000, seed=0)
    assert got["ci_low"] < 0 < got["ci_high"] and got["p"] > 0.05
    assert stats.seed_bootstrap_spearman(noise, 1000, seed=0) == got  # the seed fixes the draws
    assert math.isnan(stats.seed_bootstrap_spearman(noise[:2], 1000, seed=0)["rho"])  # fewer than 3 models


def _records(models, quantity, slope, collapsed=()):
    """Transfer and analysis records of `models` (name -> level), 3 seeds each: the quantity is
    `slope` x the transfer level plus seed noise."""
    rng = np.random.default_rng(1)
    transfer, analysis = [], []
    for m, level in models.items():
        for s in range(3):
            t = level + 0.1 * rng.standard_normal()
            status = "collapsed" if (m, s) in collapsed else "ok"
            transfer.append({"variant": m, "seed": s, "test_acc": t / 100, "status": status})
            analysis.append(
                {"variant": m, "seed": s, "final": {quantity: slope * level + 0.001 * rng.standard_normal()}}
            )
    return transfer, analysis


def test_hypothesis_table_orders_models_and_says_which_quantity_orders_transfer():
    levels = {"a": 30.0, "b": 50.0, "c": 60.0, "d": 80.0, "random_init_ff": 85.0}
    spec = {"variants": ["a", "b", "c", "d"], "ff_variants": ["a", "b", "c"], "metrics": ["dead_target"]}
    ctx = {"random_init_of": dict.fromkeys("abcd", "random_init_ff"), "stats": CONFIG["stats"]}
    transfer, analysis = _records(levels, "dead_target", slope=-0.01, collapsed={("d", 0)})
    table, notes = Hypothesis.build(spec, {"transfer": transfer, "representation": analysis}, ctx)
    rows = {(r.variant, r.metric): r for r in table.itertuples()}
    assert (rows[("d", "transfer_acc")].n, rows[("d", "transfer_acc")].n_collapsed) == (2, 1)  # collapsed seed left out
    assert rows[("a", "dead_target")].mean == pytest.approx(-0.3, abs=0.01)
    every, ff = rows[("all_models", "rho_dead_target")], rows[("ff_variants", "rho_dead_target")]
    assert (every.n, ff.n) == (5, 3) and every.mean == pytest.approx(-1.0) and ff.mean == pytest.approx(-1.0)
    assert every.status == "orders transfer as predicted" and every.significant
    assert any("Collapsed runs left out" in n for n in notes)
    # the same data read as a quantity that predicts better transfer: the opposite sign
    transfer, analysis = _records(levels, "pixel_r2", slope=-0.01)
    table, _ = Hypothesis.build(
        {**spec, "metrics": ["pixel_r2"]}, {"transfer": transfer, "representation": analysis}, ctx
    )
    row = table[(table.variant == "all_models") & (table.metric == "rho_pixel_r2")].iloc[0]
    assert row.status == "orders transfer, opposite sign" and row.predicted == "positive"


def test_a_value_that_is_not_finite_is_left_out_seed_by_seed_and_named():
    # a ratio over units that never vary can be inf; a NaN mean would leave a rho with no point
    # estimate, and a bootstrap that dropped the replicates drawing it would give a CI all the same
    levels = {"a": 30.0, "b": 50.0, "c": 60.0, "d": 80.0, "random_init_ff": 85.0}
    spec = {"variants": ["a", "b", "c", "d"], "ff_variants": ["a", "b", "c"], "metrics": ["variance_ratio"]}
    ctx = {"random_init_of": dict.fromkeys("abcd", "random_init_ff"), "stats": CONFIG["stats"]}
    transfer, analysis = _records(levels, "variance_ratio", slope=-0.01)
    analysis[0]["final"]["variance_ratio"] = math.inf  # model a, seed 0
    table, notes = Hypothesis.build(spec, {"transfer": transfer, "label_selectivity": analysis}, ctx)
    rows = {(r.variant, r.metric): r for r in table.itertuples()}
    assert rows[("a", "variance_ratio")].n == 2 and math.isfinite(rows[("a", "variance_ratio")].mean)
    every = rows[("all_models", "rho_variance_ratio")]
    assert every.mean == pytest.approx(-1.0) and every.n_pairs == 2
    assert any("not finite left out" in n and "variance_ratio of a seed 0 (inf)" in n for n in notes)
    with pytest.raises(ValueError, match="not finite"):
        stats.seed_bootstrap_spearman([([1.0, math.nan], [1.0, 2.0])] * 3, 100, seed=0)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"metrics": ["no_such_quantity"]}, "tables.root_cause_hypothesis.metrics: unknown"),
        (
            {"ff_variants": ["rq_none"]},
            "tables.root_cause_hypothesis.ff_variants: 'rq_none' is not one of its variants",
        ),
    ],
)
def test_bad_hypothesis_table_config_is_named(change, message):
    with pytest.raises(ConfigError, match=message):
        load_config({"tables": {"root_cause_hypothesis": change}})


def test_the_shipped_claim_reads_the_hypothesis_table():
    """pred_variance_orders_transfer (claims.yaml) judged on a table where more variance ratio
    goes with worse transfer across the models: as claimed, its within-FF reading too."""
    claim = next(
        c for c in yaml.safe_load((REPO / "claims.yaml").read_text()) if c["id"] == "pred_variance_orders_transfer"
    )
    levels = {"a": 30.0, "b": 50.0, "c": 60.0, "d": 80.0, "random_init_ff": 85.0}
    spec = {"variants": ["a", "b", "c", "d"], "ff_variants": ["a", "b", "c"], "metrics": ["variance_ratio"]}
    ctx = {"random_init_of": dict.fromkeys("abcd", "random_init_ff"), "stats": CONFIG["stats"]}
    transfer, analysis = _records(levels, "variance_ratio", slope=-0.01)
    table, _ = Hypothesis.build(spec, {"transfer": transfer, "label_selectivity": analysis}, ctx)
    table["table"] = "root_cause_hypothesis"
    got = verdict({"root_cause_hypothesis": table}, claim, 0.05, CONFIG["stats"]["tolerance"])
    assert got["verdict"] == "as claimed" and got["ours"].startswith("-1.00 [-1.00, -1.00]")
    assert "within FF variants: as claimed" in got["readings"] and "label dependency: not run" in got["readings"]
