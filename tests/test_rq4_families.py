"""The bio-inspired FF variants of PROTOCOL section 6 (RQ4): each is the FF core plus one change."""

import dataclasses
import math

import pytest
import torch

from ffmodels.config import load_config, random_init_of, variant_hparams
from ffmodels.families import FAMILIES, build
from ffmodels.families.ff import ff_loss, goodness
from ffmodels.families.pcl import DIAGNOSTIC_IMAGES, SATURATION_RATIO
from ffmodels.train import pretrain
from tests.test_negatives import hparams

EXTRA = {
    "three_factor": dict(modulation="bidirectional", kappa=0.5, readout_lr=1e-3),
    "prospective": dict(feedback_lr=1e-3),
    "pcl": dict(pcl_lambda=0.1, pred_lr=1e-3),
    "collab": dict(gamma=0.5),
}


def make(family, hidden=(16, 16, 16), seed=0, **kw):
    hp = dataclasses.asdict(hparams(hidden=list(hidden), batch_size=20))
    if family.startswith("prospective_t"):  # the protocol's variants prospective_t{T}: iterations = T
        family, extra = "prospective", dict(EXTRA["prospective"], iterations=int(family[len("prospective_t") :]))
    else:
        extra = dict(EXTRA.get(family, {}))
    hp.update(extra, **kw)
    torch.manual_seed(seed)
    return build(dict(hp, family=family), in_dim=784, n_classes=10)


def batch(n=20, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 784, generator=g), torch.arange(n) % 10


def ff_state(model):
    return {k: v for k, v in model.state_dict().items() if k.startswith("layers.")}


# --- the zero setting of each change is standard FF, bit for bit -----------------------------

ZERO = [
    ("three_factor", dict(modulation="bottom_up", kappa=0.0)),
    ("three_factor", dict(modulation="top_down", kappa=0.0)),
    ("three_factor", dict(modulation="bidirectional", kappa=0.0)),
    ("prospective_t1", dict()),
    ("collab", dict(gamma=0.0)),
    ("pcl", dict(pcl_lambda=0.0)),
]


@pytest.mark.parametrize("negatives", ["random_wrong_label", "gaussian_noise", "hard"])
@pytest.mark.parametrize("family,kw", ZERO, ids=[f"{f}-{list(kw.values())}" for f, kw in ZERO])
def test_the_zero_setting_trains_exactly_like_standard_ff(family, kw, negatives):
    """Same images relabelled (the core's shared-image path), other images, and negatives
    chosen by the model's own label goodness."""
    x, y = batch()
    ref = make("ff", hidden=(32, 32), negatives=negatives)
    model = make(family, hidden=(32, 32), negatives=negatives, **kw)
    assert all(torch.equal(a, b) for a, b in zip(ff_state(model).values(), ff_state(ref).values()))
    g_ref, g_model = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(4):
        assert model.train_step(x, y, g_model) == ref.train_step(x, y, g_ref)
    assert ff_state(model).keys() == ff_state(ref).keys()
    for key, value in ff_state(ref).items():
        assert torch.equal(ff_state(model)[key], value), key
    assert torch.equal(model.label_goodness(x), ref.label_goodness(x))
    assert torch.equal(model.features(x, "all"), ref.features(x, "all"))


NONZERO = [("three_factor", dict(modulation=m, kappa=0.5)) for m in ("bottom_up", "top_down", "bidirectional")] + [
    ("prospective_t3", dict()),
    ("collab", dict(gamma=0.5)),
    ("pcl", dict(pcl_lambda=0.5)),
]


@pytest.mark.parametrize("family,kw", NONZERO, ids=[f"{f}-{list(kw.values())}" for f, kw in NONZERO])
def test_a_nonzero_setting_changes_training(family, kw):
    """The counterpart of the test above: the equality there is not vacuous."""
    x, y = batch()
    ref, model = make("ff", hidden=(32, 32)), make(family, hidden=(32, 32), **kw)
    g_ref, g_model = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(3):
        ref.train_step(x, y, g_ref)
        model.train_step(x, y, g_model)
    assert not torch.equal(ff_state(model)["layers.1.linear.weight"], ff_state(ref)["layers.1.linear.weight"])


def test_extra_parameters_do_not_change_the_ff_init():
    ref = make("ff")
    for family in ("three_factor", "prospective_t1", "prospective_t3", "prospective_t5", "pcl", "collab"):
        model = make(family)
        for key, value in ff_state(ref).items():
            assert torch.equal(ff_state(model)[key], value), (family, key)


def test_baseline_family_is_set_exactly_where_untrained_features_are_standard_ffs():
    x, _ = batch()
    ref = make("ff").features(x, "all")
    for family in ("three_factor", "pcl", "collab"):
        assert FAMILIES[family].baseline_family == "ff"
        assert torch.equal(make(family).features(x, "all"), ref)
    assert FAMILIES["prospective"].baseline_family is None
    assert "iterations" in FAMILIES["prospective"].ARCH_KEYS  # each T has its own random init
    # settled features depend on B and T
    assert torch.equal(make("prospective_t1").features(x, "all"), ref)  # T = 1: no top-down yet
    assert not torch.equal(make("prospective_t3").features(x, "all"), ref)


# --- three_factor: the modulator ------------------------------------------------------------


@pytest.mark.parametrize("modulation", ["bottom_up", "top_down", "bidirectional"])
def test_modulators_are_in_minus_one_one(modulation):
    model = make("three_factor", modulation=modulation)
    x, y = batch(40)
    model.train_step(x, y, torch.Generator().manual_seed(0))
    xs = torch.cat([model.embed(x, y), model.embed(x, (y + 3) % 10)]) * 50.0  # large activities too
    labels = torch.cat([y, (y + 3) % 10])
    sign = torch.cat([torch.ones(40), -torch.ones(40)])
    ms = model.modulators(model.activations(xs), sign, labels)
    assert len(ms) == 3
    for m in ms:
        assert m.shape == (80,) and m.min() >= -1.0 and m.max() <= 1.0
    if modulation == "bottom_up":
        assert torch.equal(ms[0], torch.zeros(80))  # layer 1: no layer below, unmodulated


def test_modulators_and_weighted_loss_match_a_hand_computed_case():
    model = make("three_factor", hidden=(2, 2), modulation="bidirectional", kappa=0.5)
    h1 = torch.tensor([[2.0, 2.0], [0.0, 1.0]])  # G1 = 4, 0.5 (mean goodness), theta = 2
    h2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # G2 = 0.5, 0.5
    sign = torch.tensor([1.0, -1.0])  # a positive with label 3, a negative with label 5
    labels = torch.tensor([3, 5])
    with torch.no_grad():
        model.readout.weight.zero_()
        model.readout.bias.zero_()
        model.readout.weight[3, 0] = math.log(27.0)  # sample 0: p(3) = 27 / (27 + 9) = 0.75
        model.readout.weight[5, 1] = math.log(45.0)  # sample 1: p(5) = 45 / (45 + 9) = 5/6
    td = [2 * 0.75 - 1, -(2 * 5 / 6 - 1)]  # sign-correct: 0.5, -2/3
    bu = [math.tanh(4.0 - 2.0), math.tanh(-(0.5 - 2.0))]  # layer 1's margin, for layer 2
    expected = {
        "bidirectional": [td, [(bu[0] + td[0]) / 2, (bu[1] + td[1]) / 2]],
        "top_down": [td, td],
        "bottom_up": [[0.0, 0.0], bu],
    }
    for modulation, want in expected.items():
        model.hp = dataclasses.replace(model.hp, modulation=modulation)
        ms = model.modulators([h1, h2], sign, labels)
        for m, w in zip(ms, want):
            assert m.tolist() == pytest.approx(w, abs=1e-6), modulation
        losses = model.layer_losses([h1, h2], sign, labels)
        for h, loss, w in zip((h1, h2), losses, want):
            per_sample = [math.log1p(math.exp(-s * (g - 2.0))) for s, g in zip((1, -1), goodness(h, "mean").tolist())]
            hand = sum(p * (1 + 0.5 * wi) for p, wi in zip(per_sample, w)) / 2
            assert loss.item() == pytest.approx(hand, rel=1e-6), modulation


def test_three_factor_gradients_stay_local():
    model = make("three_factor")
    x, y = batch()
    xs, labels = model.embed(x, y), y
    sign = torch.ones(len(x))
    hs = model.activations(xs)
    model.layer_losses(hs, sign, labels)[2].backward()
    assert model.layers[0].linear.weight.grad is None and model.layers[1].linear.weight.grad is None
    assert model.layers[2].linear.weight.grad.abs().sum() > 0
    assert model.readout.weight.grad is None  # m is detached: the FF loss never reaches the readout
    model.zero_grad(set_to_none=True)
    model.readout_loss(model.activations(xs), labels, len(x)).backward()
    assert all(layer.linear.weight.grad is None for layer in model.layers)
    assert model.readout.weight.grad.abs().sum() > 0


# --- prospective -----------------------------------------------------------------------------


def test_prospective_settles_as_defined():
    model = make("prospective_t3", hidden=(8, 8))
    x, _ = batch(4)
    W = model.layers

    def n(v):
        return v / (v.norm(dim=1, keepdim=True) + 1e-4)

    with torch.no_grad():
        h2 = torch.zeros(4, 8)
        for _ in range(3):
            h1 = torch.relu(W[0].linear(n(x)) + model.feedback[0](h2))
            h2 = torch.relu(W[1].linear(n(h1)))
        got = model.activations(x)
    assert torch.allclose(got[0], h1, atol=1e-6) and torch.allclose(got[1], h2, atol=1e-6)


def test_prospective_gradients_stay_local():
    model = make("prospective_t3")
    x, _ = batch()
    sign = torch.cat([torch.ones(10), -torch.ones(10)])
    hs = model.activations(x)
    model.layer_losses(hs, sign)[1].backward()
    assert model.layers[0].linear.weight.grad is None and model.layers[2].linear.weight.grad is None
    assert model.layers[1].linear.weight.grad.abs().sum() > 0
    assert all(b.weight.grad is None for b in model.feedback)  # the FF loss never reaches B
    model.zero_grad(set_to_none=True)
    torch.stack(model.feedback_losses(model.activations(x))).sum().backward()
    assert all(layer.linear.weight.grad is None and layer.linear.bias.grad is None for layer in model.layers)
    assert all(b.weight.grad.abs().sum() > 0 for b in model.feedback)


def test_each_prospective_t_has_its_own_random_init_and_t1_shares_the_family_one():
    config = load_config()
    assert random_init_of(config, "prospective_t1") == "random_init_prospective"
    assert random_init_of(config, "prospective_t3") == "random_init_prospective_t3"
    assert random_init_of(config, "prospective_t5") == "random_init_prospective_t5"
    # a variant that changes no architecture key shares its T's baseline
    config["variants"]["prospective_t3_fb"] = {"family": "prospective", "iterations": 3, "feedback_lr": 1e-3}
    assert random_init_of(config, "prospective_t3_fb") == "random_init_prospective_t3"
    hp = variant_hparams(config, "random_init_prospective_t5")
    assert hp["family"] == "prospective" and hp["iterations"] == 5
    assert hp["feedback_lr"] == config["families"]["prospective"]["feedback_lr"]


# --- pcl ---------------------------------------------------------------------------------------


def test_pcl_gradients_stay_local():
    model = make("pcl", pcl_lambda=1.0)
    x, _ = batch()
    sign = torch.cat([torch.ones(10), -torch.ones(10)])
    hs = model.activations(x)
    model.layer_losses(hs, sign)[0].backward()  # layer 1: FF + lambda |h_1 - V_1 h_2|^2
    assert model.layers[0].linear.weight.grad.abs().sum() > 0
    assert model.layers[1].linear.weight.grad is None and model.layers[2].linear.weight.grad is None
    assert all(v.weight.grad is None for v in model.predictors)
    model.zero_grad(set_to_none=True)
    torch.stack(model.prediction_losses(model.activations(x))).sum().backward()
    assert all(layer.linear.weight.grad is None for layer in model.layers)
    assert all(v.weight.grad.abs().sum() > 0 for v in model.predictors)


def test_pcl_layer_loss_is_ff_plus_lambda_squared_error():
    model = make("pcl", pcl_lambda=0.7)
    x, _ = batch()
    sign = torch.cat([torch.ones(10), -torch.ones(10)])
    with torch.no_grad():
        hs = model.activations(x)
        losses = model.layer_losses(hs, sign)
        for l in range(3):
            ff = ff_loss(goodness(hs[l], "mean"), sign, 2.0)
            pc = 0.7 * (hs[l] - model.predictors[l](hs[l + 1])).pow(2).mean() if l < 2 else 0.0
            assert losses[l].item() == pytest.approx((ff + pc).item(), rel=1e-6)


def test_pcl_diagnostics_have_the_declared_keys_and_ranges():
    model = make("pcl")
    x, y = batch(60)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        model.train_step(x[:20], y[:20], g)
    diag = model.epoch_diagnostics({"val_x": x, "val_y": y}, batch_size=25)
    assert set(diag) == {f"{k}_l{i}" for k in ("dead_frac", "saturated_frac") for i in (1, 2, 3)} | {
        "mean_abs_error_l1",
        "mean_abs_error_l2",
    }
    for key, value in diag.items():
        assert isinstance(value, float) and math.isfinite(value)
        if "frac" in key:
            assert 0.0 <= value <= 1.0
        else:
            assert value >= 0.0
    assert DIAGNOSTIC_IMAGES <= 2000


def test_pcl_dead_and_saturated_units_by_hand():
    model = make("pcl")
    x, y = batch(30)
    with torch.no_grad():
        first = model.layers[0].linear
        first.weight.zero_()
        first.bias.fill_(1.0)
        first.bias[0] = 100.0  # one runaway unit
        first.bias[1:4] = -1.0  # 3 dead units; the other 12 at 1.0 on every image
        second = model.layers[1].linear
        second.bias.fill_(-1e3)  # every unit of layer 2 dead
    diag = model.epoch_diagnostics({"val_x": x, "val_y": y}, batch_size=7)
    mean_pos = (100.0 + 12 * 1.0) / 13
    assert 100.0 > SATURATION_RATIO * mean_pos
    assert diag["dead_frac_l1"] == pytest.approx(3 / 16)
    assert diag["saturated_frac_l1"] == pytest.approx(1 / 16)
    assert diag["dead_frac_l2"] == 1.0 and diag["saturated_frac_l2"] == 0.0


def test_a_diverging_pcl_run_is_collapsed_with_its_history_not_a_crash():
    """lr 1e25: the first step (initial weights) is finite and leaves weights ~1e25, whose
    squared activities overflow float32 on the next step. One step per epoch (20 images, batch 20)."""
    g = torch.Generator().manual_seed(3)
    data = {}
    for split, n in (("train", 20), ("val", 30), ("test", 30)):
        data[f"{split}_x"] = torch.rand(n, 784, generator=g)
        data[f"{split}_y"] = torch.arange(n) % 10
    model = make("pcl", lr=1e25, pcl_lambda=1e30, epochs=4)
    result = pretrain(model, data, seed=0, eval_batch_size=16, log=lambda _: None)
    assert result["status"] == "collapsed"
    assert result["last_good_epoch"] == 1
    assert [e["epoch"] for e in result["history"]] == [1]
    assert "dead_frac_l1" in result["history"][0] and "mean_abs_error_l2" in result["history"][0]
    assert math.isfinite(result["history"][0]["train_loss"])


# --- collab ------------------------------------------------------------------------------------


def test_collab_goodness_and_gradients():
    model = make("collab", gamma=0.3)
    x, _ = batch()
    hs = model.activations(x)
    gs = [goodness(h, "mean") for h in hs]
    cg = model.collab_goodness(hs)
    assert torch.allclose(cg[0], gs[0] + 0.3 * gs[1])  # no layer below: omitted
    assert torch.allclose(cg[1], gs[1] + 0.3 * gs[0] + 0.3 * gs[2])
    assert torch.allclose(cg[2], gs[2] + 0.3 * gs[1])  # no layer above: omitted
    sign = torch.cat([torch.ones(10), -torch.ones(10)])
    model.layer_losses(hs, sign)[1].backward()  # neighbours' goodness is detached
    assert model.layers[0].linear.weight.grad is None and model.layers[2].linear.weight.grad is None
    assert model.layers[1].linear.weight.grad.abs().sum() > 0


# --- config -----------------------------------------------------------------------------------

RQ4_VARIANTS = {
    "three_factor_bottom_up": "three_factor",
    "three_factor_top_down": "three_factor",
    "three_factor_bidirectional": "three_factor",
    "prospective_t1": "prospective",
    "prospective_t3": "prospective",
    "prospective_t5": "prospective",
    "pcl": "pcl",
    "collab_g0": "collab",
    "collab_g03": "collab",
    "collab_g05": "collab",
    "collab_g07": "collab",
    "collab_g1": "collab",
}


def test_config_defines_every_rq4_variant_and_passes_the_check():
    config = load_config()
    x, y = batch()
    for variant, family in RQ4_VARIANTS.items():
        hp = variant_hparams(config, variant)
        assert hp["family"] == family
        for key, value in config["families"]["ff"].items():  # the FF core's settings
            assert hp[key] == value, (variant, key)
        hp["hidden"] = [16, 16]
        torch.manual_seed(0)
        model = build(hp, in_dim=784, n_classes=10)
        assert math.isfinite(model.train_step(x, y, torch.Generator().manual_seed(0)))
    gammas = {v: variant_hparams(config, v)["gamma"] for v in RQ4_VARIANTS if v.startswith("collab")}
    assert gammas == {"collab_g0": 0.0, "collab_g03": 0.3, "collab_g05": 0.5, "collab_g07": 0.7, "collab_g1": 1.0}
    assert {variant_hparams(config, f"prospective_t{t}")["iterations"] for t in (1, 3, 5)} == {1, 3, 5}
