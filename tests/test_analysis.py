"""The RQ3 metrics (ffmodels.analysis) against hand-built networks with known answers, the
epoch-0 checkpoint, and the rule that no analysis selects anything on the target's test split."""

import pytest
import torch

from ffmodels.analysis import METRICS, Context
from ffmodels.config import load_config
from ffmodels.analysis.dead_units import never_active_fraction
from ffmodels.analysis.gradient_share import first_layer_label_share
from ffmodels.analysis.label_selectivity import (between_label_fraction, label_crossed_activity, label_share,
                                                 variance_ratio)
from ffmodels.families.ff import FFHParams, FFNet
from ffmodels.transfer import fill_label_slot

CONFIG = load_config()  # config.yaml, resolved as the workflow resolves it
HIDDEN = 20


def hparams(**kw):
    base = dict(hidden=[HIDDEN, HIDDEN], epochs=1, batch_size=50, lr=0.03, goodness="mean", threshold=2.0,
                norm_eps=1e-4, negatives="random_wrong_label", hard_mode="argmax", noise_sigma=0.3, mask_keep=0.7,
                mix_weight=0.5, hybrid_components=["random_wrong_label", "hard"])
    base.update(kw)
    return FFHParams(**base)


def images(n=40, seed=0):
    """Images with the same pixel values in another order (same norm, same maximum) and an empty
    label slot: embedding any label gives every image the same input norm, so a unit's activity
    can depend on the label alone or on the image alone, as the weights say."""
    g = torch.Generator().manual_seed(seed)
    values = torch.rand(784 - 10, generator=g)
    x = torch.zeros(n, 784)
    for i in range(n):
        x[i, 10:] = values[torch.randperm(774, generator=g)]
    return x


def network(reads: str, seed=0) -> FFNet:
    """Layer 1 reads only the 10 label pixels ("label") or only the image ("image"); layer 2
    reads layer 1. Positive weights and no bias keep the units alive."""
    torch.manual_seed(seed)
    net = FFNet(hparams(), 784, 10)
    with torch.no_grad():
        for layer in net.layers:
            layer.linear.weight.uniform_(0.1, 1.0)
            layer.linear.bias.zero_()
        w = net.layers[0].linear.weight
        if reads == "label":
            w[:, 10:] = 0.0
        else:
            w[:, :10] = 0.0
    return net.eval()


@pytest.mark.parametrize("reads, share, between", [("label", 1.0, 1.0), ("image", 0.0, 0.0)])
def test_label_share_and_dependency_of_hand_built_networks(reads, share, between):
    hs = label_crossed_activity(network(reads), images(), batch_size=100)
    for h in hs:  # layer 2 reads layer 1: it inherits the dependence
        s = label_share(h)
        assert torch.allclose(s["share"], torch.full_like(s["share"], share), atol=1e-5)
        assert between_label_fraction(h) == pytest.approx(between, abs=1e-5)


def test_variance_ratio_of_a_known_activity_pattern():
    # 20 units: units 0-1 vary with the label (variance 9 over labels), the rest with the image
    # (variance 1): the label neurons (top 10 %) have 9x the others' activation variance.
    g = torch.Generator().manual_seed(0)
    label_wave = torch.tensor([3.0, -3.0] * 5)
    image_wave = torch.tensor([1.0, -1.0] * 50)
    h = torch.zeros(100, 10, 20)
    h[:, :, :2] = label_wave[None, :, None]
    h[:, :, 2:] = image_wave[:, None, None]
    h = h[:, :, torch.randperm(20, generator=g)]  # the order of units must not matter
    s = label_share(h)
    assert variance_ratio(s["share"], s["total"], 0.1) == pytest.approx(9.0)


class GradientStub:
    """A model whose training step leaves a given layer-1 gradient."""

    def __init__(self, grad):
        self.layers = [torch.nn.Module()]
        self.layers[0].linear = torch.nn.Linear(784, 3)
        self.grad = grad

    def train_step(self, x, y, gen):
        self.layers[0].linear.weight.grad = self.grad.clone()


@pytest.mark.parametrize("columns, expected", [(slice(0, 10), 78.4), (slice(0, 784), 1.0), (slice(10, 784), 0.0)])
def test_gradient_share_is_the_label_columns_share_over_10_of_784(columns, expected):
    grad = torch.zeros(3, 784)
    grad[:, columns] = 2.0
    share = first_layer_label_share(GradientStub(grad), None, None, None)
    assert share == pytest.approx(expected)


def test_gradient_share_of_a_real_ff_step_counts_both_parts_of_the_input():
    # A real FF step on the label-reader: layer 1 gets gradient on the label columns (which it
    # reads) and on the image columns (its inputs there are non-zero), so 0 < share < 78.4.
    x, y = images(50), torch.arange(50) % 10
    share = first_layer_label_share(network("label"), x, y, torch.Generator().manual_seed(0))
    assert 0 < share < 78.4


def test_dead_units_known_cases():
    x = images()
    # Reading only the label: with the label slot zeroed (the transfer fill) nothing fires.
    assert never_active_fraction(network("label"), fill_label_slot(x, "zero", 0.1), 0.01, 100) == [1.0, 1.0]
    assert never_active_fraction(network("image"), fill_label_slot(x, "zero", 0.1), 0.01, 100) == [0.0, 0.0]
    net = network("image")
    with torch.no_grad():
        net.layers[0].linear.bias[:5] = -100.0  # 5 of 20 units can never fire
    assert never_active_fraction(net, x, 0.01, 100)[0] == pytest.approx(0.25)


def splits(seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for part, n in (("train", 200), ("val", 100), ("test", 100)):
        out[f"{part}_x"] = torch.rand(n, 784, generator=g)
        out[f"{part}_y"] = torch.randint(0, 10, (n,), generator=g)
    return out


def context(target, epochs=(0, 1)):
    hp = hparams()
    states = {}
    for e in epochs:
        torch.manual_seed(e)
        states[e] = FFNet(hp, 784, 10).state_dict()

    def make_model(state):
        model = FFNet(hp, 784, 10)
        model.load_state_dict(state)
        return model.eval()

    tcfg = dict(CONFIG["transfer"], probe=dict(CONFIG["transfer"]["probe"], max_epochs=3))
    return Context(epochs=list(epochs), states=states, make_model=make_model, source=splits(1), target=target,
                   cfg=dict(CONFIG["analysis"], subset=30, gradient_batch=50), transfer=tcfg, seed=0, batch_size=100)


def test_no_analysis_selects_on_the_target_test_split():
    """Shuffling the target's test labels changes nothing but the test accuracy itself: every
    selection (label neurons, probe early stopping) is on source images or the target's
    validation split."""
    target = splits(2)
    shuffled = dict(target, test_y=target["test_y"][torch.randperm(100, generator=torch.Generator().manual_seed(3))])
    for name, m in METRICS.items():
        a, b = m.compute(context(target)), m.compute(context(shuffled))
        if name == "transfer_over_training":
            continue  # its values are test accuracies; its selection is the probe's, checked below
        assert a == b, name
    from ffmodels.transfer import transfer

    model = context(target).model_at(1)
    ra = transfer(model, target, context(target).transfer, 0, 100)
    rb = transfer(model, shuffled, context(target).transfer, 0, 100)
    assert ra["best_epoch"] == rb["best_epoch"] and ra["val_acc"] == rb["val_acc"]


def test_epoch_0_checkpoint_is_the_random_init_of_the_same_seed(tmp_path, real_splits):
    from ffmodels.config import variant_hparams
    from ffmodels.jobs.model import new_model
    from ffmodels.jobs.pretrain import PretrainSpec, pretrain_job

    hp = dict(variant_hparams(CONFIG, "random_wrong_label"), epochs=2)
    pretrain_job(PretrainSpec(variant="random_wrong_label", hp=hp, seed=3, preset="test", task="mnist", train_subset=500,
                              checkpoint_epochs=[0, 1, 7], source_probe=None, test_every_epoch=False, code={},
                              resume_file="", resume=False,
                              data=real_splits["mnist"], model=tmp_path / "m.pt", metrics=tmp_path / "m.json",
                              log=tmp_path / "log", checkpoints=tmp_path / "c.pt"))
    saved = torch.load(tmp_path / "c.pt", weights_only=True)
    assert saved["epochs"] == [0, 1, 2]  # 7 is past the end; the last epoch is always kept
    init = new_model(hp, 3, 784, torch.device("cpu")).state_dict()
    assert all(torch.equal(saved["states"][0][k], init[k]) for k in init)
    final = torch.load(tmp_path / "m.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(saved["states"][2][k], final[k]) for k in final)
    assert not torch.equal(saved["states"][1]["layers.0.linear.weight"], init["layers.0.linear.weight"])
