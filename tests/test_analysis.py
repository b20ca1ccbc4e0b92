"""The RQ3 metrics (ffmodels.analysis) against hand-built networks with known answers, the
epoch-0 checkpoint, and the rule that no analysis selects anything on the target's test split."""

import pytest
import torch

from ffmodels.analysis import METRICS, Context, MetricConfig
from ffmodels.config import load_config
from ffmodels.analysis.dead_units import never_active_fraction
from ffmodels.analysis.gradient_share import FirstLayerCapture, first_layer_gradient_shares, first_layer_label_share
from ffmodels.analysis.label_selectivity import (
    between_label_fraction,
    label_crossed_activity,
    label_share,
    variance_ratio,
    variance_ratios,
)
from ffmodels.analysis.transfer_over_training import TransferOverTraining
from ffmodels.families.ff import CORE_RECIPE_OFF, FFHParams, FFNet
from ffmodels.transfer import fill_label_slot
from tests.conftest import pretrain_spec

CONFIG = load_config()  # config.yaml, resolved as the workflow resolves it
HIDDEN = 20


def hparams(**kw):
    base = dict(
        hidden=[HIDDEN, HIDDEN],
        epochs=1,
        batch_size=50,
        lr=0.03,
        goodness="mean",
        threshold=2.0,
        norm_eps=1e-4,
        negatives="random_wrong_label",
        hard_mode="argmax",
        noise_sigma=0.3,
        mask_keep=0.7,
        mix_weight=0.5,
        hybrid_components=["random_wrong_label", "hard"],
    )
    base.update(CORE_RECIPE_OFF)  # upstream's recipe keys at the protocol's values
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


def test_variance_ratio_responsive_and_median_of_a_known_activity_pattern():
    # 20 units over 4 images x 10 labels. Units 0-1 vary with the label: variance 9 and 25.
    # Units 2-9 vary with the image: variances 1, 1, 1, 1, 4, 4, 4, 16. Units 10-19 never fire
    # (0, or at most the dead threshold 0.01 and constant: variance 0).
    label_wave = torch.tensor([1.0, -1.0] * 5)
    image_wave = torch.tensor([1.0, -1.0, 1.0, -1.0])
    h = torch.zeros(4, 10, 20)
    h[:, :, 0] = 3.0 * label_wave[None, :]
    h[:, :, 1] = 5.0 * label_wave[None, :]
    for j, sd in zip(range(2, 10), [1, 1, 1, 1, 2, 2, 2, 4]):
        h[:, :, j] = sd * image_wave[:, None]
    h[:, :, 10] = 0.01  # at the threshold: never above it
    s = label_share(h)
    # top 10 % = units 0-1, mean variance 17, median 17. Rest (18 units): sum 32, mean 32/18;
    # responsive rest (units 2-9): mean 4, median (1 + 4) / 2 = 2.5 (even count: the middle two);
    # all of the rest: median 0 (10 of 18 are 0), so the median ratio is inf.
    assert variance_ratio(s["share"], s["total"], 0.1) == pytest.approx(17 / (32 / 18))
    r = variance_ratios([s], 0.1, 0.01, suffix="_l1")
    assert r["variance_ratio_l1"] == pytest.approx(17 / (32 / 18))
    assert r["variance_ratio_responsive_l1"] == pytest.approx(17 / 4)
    assert r["variance_ratio_median_l1"] == float("inf")
    assert variance_ratio(s["share"], s["total"], 0.1, responsive=s["peak"] > 0.01, reduce="median") == pytest.approx(
        17 / 2.5
    )
    # Pooled with a second layer of 20 live units (the two label units and 18 image units, sum
    # of variances 66): 40 units, the top 4 by share are the 4 label units (mean 17); the rest,
    # 36 units with variances summing to 32 + 66 = 98, 26 of them responsive, median 1 (10 zeros,
    # then 14 ones).
    s2 = label_share(torch.cat([h[:, :, :10], h[:, :, 2:10], h[:, :, 2:4]], dim=2))
    pooled = variance_ratios([s, s2], 0.1, 0.01)
    assert pooled["variance_ratio"] == pytest.approx(17 / (98 / 36))
    assert pooled["variance_ratio_responsive"] == pytest.approx(17 / (98 / 26))
    assert pooled["variance_ratio_median"] == pytest.approx(17.0)


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


class TwoSampleModel:
    """Layer 1 (1 unit, 20 inputs: 10 label columns, 10 image columns) sees a positive and its
    negative (the same image, column 10, with label 0 and label 1) in two forward calls, loss
    out_pos - out_neg: delta = +1 and -1. A no-grad call (as the hard strategy makes to pick its
    negatives) on an input with other columns must be ignored."""

    def __init__(self):
        self.layers = [torch.nn.Module()]
        self.layers[0].linear = torch.nn.Linear(20, 1, bias=False)

    def train_step(self, x, y, gen):
        lin = self.layers[0].linear
        pos, neg, other = torch.zeros(1, 20), torch.zeros(1, 20), torch.zeros(1, 20)
        pos[0, [0, 10]] = 1.0
        neg[0, [1, 10]] = 1.0
        other[0, 15] = 5.0
        with torch.no_grad():
            lin(other)
        lin.weight.grad = None
        (lin(pos).sum() - lin(neg).sum()).backward()


def test_gradient_share_batch_and_per_sample_of_two_samples_that_cancel():
    # Batch gradient x_pos - x_neg = e0 - e1: all on the label columns (share 1, over 10/20: 2.0).
    # Per sample: |1|^2 (e0 + e10) and |-1|^2 (e1 + e10): columns 0, 1, 10 get 1, 1, 2, label share
    # 2/4 (over 10/20: 1.0). The inputs carry columns 0, 1, 10 only: even share 10/3, so 0.3 and 0.15.
    model = TwoSampleModel()
    r = first_layer_gradient_shares(model, None, None, None)
    assert r == pytest.approx(
        {
            "gradient_share": 2.0,
            "gradient_share_per_sample": 1.0,
            "gradient_share_input_cols": 0.3,
            "gradient_share_per_sample_input_cols": 0.15,
        }
    )


def test_gradient_share_readings_of_a_real_ff_step():
    # random_wrong_label and hard (which picks its negatives with a no-grad pass) both run layer 1
    # through the shared-image fast path in training; the readings turn it off and still give the
    # fast path's batch reading, and the hooks see one grad-requiring call of 2 x 50 rows.
    x, y = images(50), torch.arange(50) % 10
    for negatives in ("random_wrong_label", "hard"):
        torch.manual_seed(0)
        net = FFNet(hparams(negatives=negatives), 784, 10)
        copy = FFNet(hparams(negatives=negatives), 784, 10)
        copy.load_state_dict(net.state_dict())
        net.train_step(x, y, torch.Generator().manual_seed(0))  # fast path, no hooks
        sq = net.layers[0].linear.weight.grad.pow(2).sum(dim=0)
        fast = float(sq[:10].sum() / sq.sum()) * 78.4
        capture = FirstLayerCapture(copy.layers[0].linear)
        r = first_layer_gradient_shares(copy, x, y, torch.Generator().manual_seed(0))
        capture.remove()
        assert r["gradient_share"] == pytest.approx(fast, rel=1e-4), negatives
        assert [len(c["x"]) for c in capture.calls] == [100], negatives
        assert all(c["delta"] is not None for c in capture.calls)
        # images() carries every image column and the batch every label: all 784 columns.
        assert r["gradient_share_input_cols"] == pytest.approx(r["gradient_share"])
        assert r["gradient_share_per_sample_input_cols"] == pytest.approx(r["gradient_share_per_sample"])
        assert 0 < r["gradient_share_per_sample"] < 78.4


def test_gradient_share_input_cols_leaves_out_columns_without_input():
    # Image columns 400-783 black in every image: 10 + 390 columns carry input, so the even
    # share is 10/400 and the input-column readings are the plain ones times 400/784.
    x, y = images(50), torch.arange(50) % 10
    x[:, 400:] = 0.0
    net = network("image").train()
    r = first_layer_gradient_shares(net, x, y, torch.Generator().manual_seed(0))
    assert r["gradient_share_input_cols"] == pytest.approx(r["gradient_share"] * 400 / 784)
    assert r["gradient_share_per_sample_input_cols"] == pytest.approx(r["gradient_share_per_sample"] * 400 / 784)
    assert r["gradient_share_per_sample"] > 0


def test_gradient_share_per_sample_is_nan_when_the_hooks_miss_the_gradient():
    # The stub sets the gradient without calling its layer: the captured samples do not add up
    # to it, so the per-sample and input-column readings are nan, not 0.
    grad = torch.zeros(3, 784)
    grad[:, :10] = 2.0
    r = first_layer_gradient_shares(GradientStub(grad), None, None, None)
    assert r["gradient_share"] == pytest.approx(78.4)
    assert all(
        r[k] != r[k]
        for k in ("gradient_share_per_sample", "gradient_share_input_cols", "gradient_share_per_sample_input_cols")
    )


def test_spearman_rho_trained_leaves_out_epoch_0(monkeypatch):
    # Transfer 90 % at epoch 0 (the random init), then rising 50, 60, 70 % with training: with
    # epoch 0, acc ranks 4, 1, 2, 3 against 1, 2, 3, 4: rho = 1 - 6 * 12 / (4 * 15) = -0.2;
    # without it, 1.0.
    curve = {0: 0.9, 1: 0.5, 2: 0.6, 5: 0.7}
    monkeypatch.setattr(
        "ffmodels.analysis.transfer_over_training.transfer",
        lambda model, target, cfg, seed, batch_size: {"test_acc": curve[model]},
    )

    def final(epochs):
        ctx = Context(
            epochs=epochs,
            states={e: e for e in epochs},
            make_model=lambda state: state,
            source={},
            target={},
            cfg={},
            transfer={},
            seed=0,
            batch_size=1,
        )
        return TransferOverTraining.compute(ctx)["final"]

    r = final([0, 1, 2, 5])
    assert r["spearman_rho"] == pytest.approx(-0.2) and r["spearman_rho_trained"] == pytest.approx(1.0)
    # One trained checkpoint, or trained ones without spread: 0.0.
    r = final([0, 5])
    assert r["spearman_rho"] == pytest.approx(-1.0) and r["spearman_rho_trained"] == 0.0
    curve[1] = 0.7
    r = final([0, 1, 5])  # 90, 70, 70: ranks 3, 1.5, 1.5
    assert r["spearman_rho"] == pytest.approx(-(3**0.5) / 2) and r["spearman_rho_trained"] == 0.0


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
    return Context(
        epochs=list(epochs),
        states=states,
        make_model=make_model,
        source=splits(1),
        target=target,
        cfg=dict(CONFIG["analysis"], subset=30, gradient_batch=50),
        transfer=tcfg,
        seed=0,
        batch_size=100,
    )


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
    from ffmodels.jobs.pretrain import pretrain_job

    hp = dict(variant_hparams(CONFIG, "random_wrong_label"), epochs=2)
    pretrain_job(
        pretrain_spec(
            tmp_path,
            real_splits["mnist"],
            "random_wrong_label",
            hp,
            seed=3,
            checkpoint_epochs=[0, 1, 7],
            checkpoints=tmp_path / "c.pt",
        )
    )
    saved = torch.load(tmp_path / "c.pt", weights_only=True)
    assert saved["epochs"] == [0, 1, 2]  # 7 is past the end; the last epoch is always kept
    init = new_model(hp, 3, 784, torch.device("cpu")).state_dict()
    assert all(torch.equal(saved["states"][0][k], init[k]) for k in init)
    final = torch.load(tmp_path / "m.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(saved["states"][2][k], final[k]) for k in final)
    assert not torch.equal(saved["states"][1]["layers.0.linear.weight"], init["layers.0.linear.weight"])


def test_each_metric_declares_the_settings_it_reads_and_gets_those_alone():
    for name, cls in METRICS.items():
        for block in ("analysis", "transfer"):
            keys = getattr(cls, f"{block}_keys")
            assert set(keys) <= set(CONFIG[block]), f"{name}.{block}_keys: {keys}"
    assert set(TransferOverTraining.transfer_keys) == set(CONFIG["transfer"])  # it runs the probe itself
    cfg = MetricConfig("label_dependency", "analysis", CONFIG["analysis"])
    assert dict(cfg) == {"subset": CONFIG["analysis"]["subset"]}
    with pytest.raises(
        KeyError, match="label_dependency reads config analysis.ridge, which is not in its analysis_keys"
    ):
        cfg["ridge"]
    with pytest.raises(KeyError, match="dead_units reads config transfer.probe, which is not in its transfer_keys"):
        MetricConfig("dead_units", "transfer", CONFIG["transfer"])["probe"]
