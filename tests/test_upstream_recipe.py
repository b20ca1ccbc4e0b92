"""Upstream's recipe keys of the FF core and the probe (config.yaml families.ff, PROTOCOL section
11): at the protocol's values they change nothing; at upstream's they do what upstream's files do."""

import pytest
import torch
import torch.nn.functional as F

from ffmodels.config import load_config
from ffmodels.errors import ConfigError
from ffmodels.families.bp import BPHParams, BPNet
from ffmodels.families.ff import FFNet, goodness
from ffmodels.families.three_factor import ThreeFactorHParams
from ffmodels.negatives import wrong_labels_once
from ffmodels.transfer import extract_features, fit_linear_probe
from tests.test_negatives import hparams

MNIST = {"input_mean": 0.1307, "input_std": 0.3081}  # R2 transfer_comparison.py :193
UPSTREAM = {**MNIST, "label_value": "input_max", "input_l2": False, "layer_norm": True, "predict_from": "last_layer"}


def images(n=6, seed=0):
    """Images as the prepared data hold them: k / 255."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 784), generator=g).float() / 255.0


def net(seed=0, **kw):
    torch.manual_seed(seed)
    return FFNet(hparams(**kw), 784, 10)


def test_protocol_values_leave_the_core_as_it_was():
    model = net()
    x = images()
    assert model.normalise(x) is x  # no arithmetic at all on the input
    assert all(layer.norm is None and layer.input_l2 for layer in model.layers)
    assert sorted(model.state_dict()) == [f"layers.{i}.linear.{p}" for i in (0, 1) for p in ("bias", "weight")]
    # the recipe keys draw nothing from the generator: the same init as before they existed
    torch.manual_seed(0)
    w = torch.nn.Linear(784, 20).weight
    assert torch.equal(model.layers[0].linear.weight, w)


def test_zscore_and_input_max_write_the_label_as_upstream_does_on_zscored_images():
    # R2 :95-97 on z-scored x: x[:, :10] = 0; x[i, y_i] = x.max() (a white pixel: (1 - 0.1307) / 0.3081)
    model = net(**MNIST, label_value="input_max")
    x = images()
    x[:, 300] = 1.0  # every image has a white pixel, as MNIST's training tensor does
    y = torch.tensor([3, 0, 9, 1, 2, 5])
    z = (x - 0.1307) / 0.3081
    expected = z.clone()
    expected[:, :10] = 0.0
    expected[torch.arange(6), y] = z.max()
    seen = model.normalise(model.embed(x, y))
    assert torch.allclose(seen, expected, atol=1e-6)
    assert z.max().item() == pytest.approx(2.8215, abs=1e-4)


def test_image_max_label_value_follows_each_image_after_zscore():
    model = net(**MNIST)
    x = images() * 0.5  # no white pixel: the label takes each image's own maximum
    seen = model.normalise(model.embed(x, torch.zeros(6, dtype=torch.long)))
    assert torch.allclose(seen[:, 0], (x.amax(dim=1) - 0.1307) / 0.3081, atol=1e-6)
    assert seen[:, 0].max() < 2.0  # not the white pixel's 2.82
    assert torch.allclose(seen[:, 1:10], torch.zeros(6, 9))


def test_without_input_l2_and_with_layer_norm_a_layer_is_upstream_r1s():
    # R1 :55-56: LayerNorm(ReLU(linear(x))), no division by the input's norm
    model = net(input_l2=False, layer_norm=True)
    layer = model.layers[0]
    x = images()
    expected = F.layer_norm(F.relu(layer.linear(x)), (20,), layer.norm.weight, layer.norm.bias)
    assert torch.allclose(layer(x), expected)
    assert layer.norm.weight.requires_grad and layer.norm.bias.requires_grad  # learnable affine
    assert not torch.allclose(layer(x), layer(2 * x))  # scale reaches the layer (no L2)


def test_prediction_from_the_last_layer_reads_its_goodness_only():
    model = net(predict_from="last_layer")
    x = images()
    manual = torch.stack(
        [goodness(model.activations(model.embed(x, torch.full((6,), k)))[-1], "mean") for k in range(10)], dim=1
    )
    assert torch.allclose(model.label_goodness(x), manual, atol=1e-6)


@pytest.mark.parametrize("settings", [UPSTREAM, {**MNIST, "label_value": "input_max"}, {"layer_norm": True}])
def test_shared_image_fast_path_equals_the_plain_computation_under_upstream_settings(settings):
    model = net(**settings)
    x = images()
    labels = [torch.full((6,), k) for k in (2, 7)]
    fast = model.labelled_activations(x, labels)
    plain = model.activations(torch.cat([model.embed(x, y) for y in labels]))
    for a, b in zip(fast, plain):
        assert torch.allclose(a, b, atol=1e-5)


def test_negatives_drawn_once_fix_a_wrong_label_per_image_whatever_the_batch():
    key = torch.randint(0, 2**31 - 1, (784,), generator=torch.Generator().manual_seed(1))
    x, y = images(500, seed=2), torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(3))
    wrong = wrong_labels_once(x, y, key)
    assert (wrong != y).all()
    perm = torch.randperm(500)
    assert torch.equal(wrong_labels_once(x[perm], y[perm], key), wrong[perm])  # same image, same label
    assert torch.equal(wrong_labels_once(x[:7], y[:7], key), wrong[:7])
    shifts = torch.bincount((wrong - y) % 10, minlength=10)[1:]
    assert shifts.min() > 30  # every one of the 9 wrong labels is drawn (500 / 9 = 56 expected)


def test_negatives_drawn_once_train_on_the_same_negatives_every_step():
    model = net(negatives_drawn="once")
    x, y = images(), torch.tensor([3, 0, 9, 1, 2, 5])
    seen = []
    model.positive_negative_activations = lambda x, y, x_neg, y_neg: (
        seen.append(y_neg) or model.activations(torch.cat([model.embed(x, y), model.embed(x_neg, y_neg)]))
    )
    for seed in (0, 1):
        model.train_step(x, y, torch.Generator().manual_seed(seed))
    assert torch.equal(seen[0], seen[1]) and (seen[0] != y).all()
    assert "negative_key" in model.state_dict()  # a resumed run keeps its negatives
    with pytest.raises(ValueError, match="negatives_drawn"):
        hparams(negatives_drawn="once", negatives="hard")


def test_greedy_schedule_trains_one_layer_at_a_time():
    model = net(schedule="greedy", epochs=4)
    x, y = images(), torch.tensor([3, 0, 9, 1, 2, 5])
    for epoch, trained in ((1, 0), (2, 0), (3, 1), (4, 1)):
        before = [p.clone() for p in model.parameters()]
        model.on_epoch_start(epoch)
        model.train_step(x, y, torch.Generator().manual_seed(epoch))
        changed = [not torch.equal(a, b) for a, b in zip(before, model.parameters())]
        assert changed == [trained == 0] * 2 + [trained == 1] * 2  # weight, bias of each layer
    with pytest.raises(ValueError, match="epochs 3 is not a multiple of 2"):
        hparams(schedule="greedy", epochs=3)


def test_families_extending_ff_refuse_the_recipe_keys():
    base = {**vars(hparams()), "modulation": "bottom_up", "kappa": 0.5, "readout_lr": 1e-3}
    ThreeFactorHParams(**base)
    with pytest.raises(ValueError, match="input_l2: False is implemented for family ff only"):
        ThreeFactorHParams(**{**base, "input_l2": False})


def test_label0_fill_writes_label_zero_as_the_model_embeds_it():
    model = net(**MNIST, label_value="input_max")
    x = images()
    tcfg = {"label_fill": "label0", "neutral_value": 0.1, "features": "last"}
    feats = extract_features(model, x, tcfg, batch_size=4)
    assert torch.allclose(feats, model.activations(model.embed(x, torch.zeros(6, dtype=torch.long)))[-1], atol=1e-6)


def test_bp_zscores_its_input_only_when_asked():
    torch.manual_seed(0)
    plain = BPNet(BPHParams([20], 1, 10, 1e-3, 0.0, 1.0), 784, 10)
    torch.manual_seed(0)
    zscored = BPNet(BPHParams([20], 1, 10, 1e-3, **MNIST), 784, 10)
    x = images()
    assert torch.equal(zscored.activations(x)[0], plain.activations((x - 0.1307) / 0.3081)[0])


def test_selection_on_test_reports_the_best_test_epoch_and_says_so():
    from tests.test_transfer import PROBE, toy_features

    feats, labels = toy_features(4)
    cfg = dict(PROBE, patience=None, max_epochs=8, lr=0.05, select_on="test")
    out = fit_linear_probe(feats, labels, cfg, seed=0)
    tests = [h["test_acc"] for h in out["history"]]
    assert out["selected_on"] == "test" and out["test_acc"] == max(tests)
    assert tests[out["best_epoch"] - 1] == out["test_acc"]
    assert "selected_on" not in fit_linear_probe(feats, labels, dict(cfg, select_on="validation"), seed=0)
    with pytest.raises(ValueError, match="needs patience null"):
        fit_linear_probe(feats, labels, dict(cfg, patience=3), seed=0)


def test_a_test_selected_probe_is_refused_outside_a_ladder():
    with pytest.raises(ConfigError, match="transfer.probe.select_on"):
        load_config({"transfer": {"probe": {"select_on": "test"}}})
    best = {"sensitivity": {"best": {"probe": {"select_on": "test", "patience": None}}}}
    with pytest.raises(ConfigError, match="an enabled table of kind sensitivity would show it unlabelled"):
        load_config(best)  # the full config's rq2_sensitivity shows every setting
    with pytest.raises(ConfigError, match="needs patience null"):
        load_config({"sensitivity": {"best": {"probe": {"select_on": "test"}}}})
    assert load_config(best, {"tables": {"rq2_sensitivity": {"enabled": False}}})["sensitivity"]["best"]
