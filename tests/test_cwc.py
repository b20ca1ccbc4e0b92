"""CwC-FF (ffmodels/families/cwc.py) against its published definition (PROTOCOL section 7)."""

import math
from pathlib import Path

import pytest
import torch

from ffmodels.config import load_config, variant_hparams
from ffmodels.families import FAMILIES, build
from ffmodels.families.cwc import CwCHParams, CwCNet, cwc_loss, group_goodness

REPO = Path(__file__).resolve().parent.parent

torch.set_num_threads(1)


def hparams(**kw):
    """A small network with the published structure (grouped and pooled every other block)."""
    base = dict(
        channels=[10, 20, 20, 40],
        grouped=[False, True, False, True],
        max_pool=[False, True, False, True],
        kernel_size=3,
        bn_eps=1e-4,
        bn_momentum=0.1,
        input_mean=0.1307,
        input_std=0.3081,
        epochs=5,
        batch_size=16,
        lr=0.01,
        train_from=[1, 1, 1, 1],
        train_until=[2, 3, 4, 5],
        probe_features="gap",
    )
    base.update(kw)
    return CwCHParams(**base)


def make(seed=0, **kw):
    torch.manual_seed(seed)
    return CwCNet(hparams(**kw), 784, 10)


def batch(n=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 784, generator=g), torch.arange(n) % 10


def params_of(block):
    return [p.detach().clone() for p in block.parameters()]


@pytest.mark.parametrize("training", [True, False])
def test_grouped_convolution_keeps_each_class_group_to_its_own_input_channels(training):
    """The gradient of group k's goodness w.r.t. the grouped block's input lies only on the input
    channels of group k (channel-wise feature separator); a plain block mixes all channels."""
    net = make(channels=[20, 40, 40, 80])
    net.train(training)
    grouped, plain = net.blocks[1], net.blocks[2]  # 20 -> 40 grouped; 40 -> 40 plain
    h = torch.randn(4, 20, 28, 28, requires_grad=True)
    for k in range(10):
        h.grad = None
        _, out = grouped(h)
        group_goodness(out, 10)[:, k].sum().backward()
        per_channel = h.grad.abs().sum(dim=(0, 2, 3))
        own = torch.zeros(20, dtype=torch.bool)
        own[2 * k : 2 * k + 2] = True  # 20 input channels in 10 groups: group k's are 2k and 2k + 1
        assert (per_channel[~own] == 0).all(), k
        assert (per_channel[own] > 0).all(), k
    h2 = torch.randn(4, 40, 14, 14, requires_grad=True)
    _, out = plain(h2)
    group_goodness(out, 10)[:, 3].sum().backward()
    assert (h2.grad.abs().sum(dim=(0, 2, 3)) > 0).all()


def test_published_architecture_shapes_and_groups():
    torch.manual_seed(0)
    net = build(variant_hparams(load_config(), "cwc"), 784, 10)
    convs = [b.conv for b in net.blocks]
    assert [c.out_channels for c in convs] == [20, 80, 240, 480]
    assert [c.groups for c in convs] == [1, 10, 1, 10]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert [b.bn.eps for b in net.blocks] == [1e-4] * 4
    x = torch.rand(3, 784)
    sizes = [a.shape[-1] for a, _ in net.block_outputs(x)]
    assert sizes == [28, 14, 14, 7]
    assert net.features(x, "all").shape == (3, 820)
    assert net.features(x, "last").shape == (3, 480)


def test_cwc_loss_is_cross_entropy_over_group_goodness_by_hand():
    # 2 samples, 20 channels = 10 groups of 2, 1x2 positions.
    h = torch.zeros(2, 20, 1, 2)
    h[0, 0] = torch.tensor([[1.0, 1.0]])  # group 0, channel 0: squares 1, 1
    h[0, 1] = torch.tensor([[1.0, -1.0]])  # group 0, channel 1: squares 1, 1 -> G0 = 1
    h[0, 6] = torch.tensor([[2.0, 0.0]])  # group 3: squares 4, 0 (+ zeros) -> G3 = 1
    h[1, 19] = torch.tensor([[2.0, 2.0]])  # sample 2, group 9: (0 + 0 + 4 + 4) / 4 = 2
    g = group_goodness(h, 10)
    assert g[0].tolist() == pytest.approx([1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    assert g[1].tolist() == pytest.approx([0] * 9 + [2])
    y = torch.tensor([3, 4])
    # -log softmax: sample 1 true group 3 (G = 1), sample 2 true group 4 (G = 0)
    l1 = -1.0 + math.log(2 * math.e + 8)
    l2 = -0.0 + math.log(math.exp(2.0) + 9)
    assert cwc_loss(h, y, 10).item() == pytest.approx((l1 + l2) / 2, rel=1e-6)


def test_prediction_is_argmax_of_last_block_group_goodness_in_eval_mode():
    net = make()
    x, y = batch(32)
    for _ in range(3):
        net.train_step(x, y, torch.Generator().manual_seed(0))  # running statistics move off their defaults
    net.train()
    with torch.no_grad():
        net.eval()
        out = net.block_outputs(x)[-1][1]
        net.train()
    manual = out.reshape(32, 10, -1).pow(2).mean(dim=2)
    assert torch.equal(net.predict(x), manual.argmax(dim=1))
    assert net.training  # the caller's mode is restored
    # Evaluation mode: a sample's prediction and features do not depend on the rest of the batch.
    assert torch.equal(net.predict(x[:1]), net.predict(x)[:1])
    assert torch.allclose(net.features(x[:3], "all"), net.features(x, "all")[:3], atol=1e-5)


@pytest.mark.parametrize("epoch", [1, 2, 3, 4, 5, 6])
def test_blocks_train_only_in_their_scheduled_epochs(epoch):
    """Published MNIST 'Acc' schedule: block i trains in epochs 1..2, 1..3, 1..4, 1..5."""
    net = make()
    x, y = batch()
    net.on_epoch_start(epoch)
    before = [params_of(b) for b in net.blocks]
    net.train()
    net.train_step(x, y, torch.Generator().manual_seed(0))
    changed = [any(not torch.equal(p, q) for p, q in zip(old, b.parameters())) for old, b in zip(before, net.blocks)]
    assert changed == [epoch <= until for until in (2, 3, 4, 5)]


def test_a_staggered_schedule():
    net = make(train_from=[1, 2, 3, 4], train_until=[3, 4, 5, 6])  # the published 'Fast' ILT
    assert [net.scheduled(e) for e in (1, 4, 7)] == [
        [True, False, False, False],
        [False, True, True, True],
        [False, False, False, False],
    ]


def test_no_gradient_crosses_blocks():
    net = make()
    x, y = batch()
    outs = net.block_outputs(x)
    cwc_loss(outs[-1][1], y, 10).backward()
    for block in net.blocks[:-1]:
        assert all(p.grad is None for p in block.parameters())
    assert net.blocks[-1].conv.weight.grad.abs().sum() > 0
    # Without the detach the same loss would reach the blocks below: the test has power.
    net.zero_grad(set_to_none=True)
    cwc_loss(net.block_outputs(x, detach=False)[-1][1], y, 10).backward()
    assert net.blocks[0].conv.weight.grad.abs().sum() > 0


def test_train_step_equals_separate_per_block_updates():
    """One joint step = each block stepping its own Adam on its own loss, on the detached output
    (before the step) of the block below, as the published layer loop does."""
    x, y = batch()
    joint = make()
    joint.train()
    joint.train_step(x, y, torch.Generator().manual_seed(0))
    ref = make()
    ref.train()
    h = ref.prepare(x)
    for block in ref.blocks:
        opt = torch.optim.Adam(block.parameters(), lr=0.01)
        _, out = block(h)
        opt.zero_grad()
        cwc_loss(out, y, 10).backward()
        opt.step()
        h = out.detach()
    for a, b in zip(joint.state_dict().values(), ref.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


def test_training_reduces_the_loss():
    net = make()
    x, y = batch(64)
    net.train()
    gen = torch.Generator().manual_seed(0)
    first = net.train_step(x, y, gen)
    for _ in range(15):
        last = net.train_step(x, y, gen)
    assert math.isfinite(first) and last < first


def test_flat_features_and_layer_features():
    net = make(probe_features="flat")
    x = torch.rand(2, 784)
    dims = [f.shape[1] for f in net.layer_features(x)]
    assert dims == [10 * 28 * 28, 20 * 14 * 14, 20 * 14 * 14, 40 * 7 * 7]
    assert net.features(x, "all").shape == (2, sum(dims))
    assert torch.equal(net.features(x, "last"), net.layer_features(x)[-1])
    assert (net.features(x, "all") >= 0).all()  # rectified activity, before BatchNorm


def test_hparam_checks():
    with pytest.raises(ValueError, match="train_until"):
        hparams(train_until=[2, 3, 4])
    with pytest.raises(ValueError, match="train_from"):
        hparams(train_from=[3, 1, 1, 1])
    with pytest.raises(ValueError, match="channels"):
        make(channels=[15, 20, 20, 40])


def test_config_block_passes_the_checks():
    cfg = load_config()
    block = {k: v for k, v in cfg["families"]["cwc"].items() if k != "tasks"}
    assert variant_hparams(cfg, "cwc") == {**block, "family": "cwc"}  # a family is a variant
    fam = FAMILIES["cwc"]
    assert not fam.uses_label_input and fam.has_classifier and fam.baseline_family is None


# --- calibrated random init (ffmodels/calibration.py) -------------------------------------------


def test_calibration_changes_only_batchnorm_running_statistics():
    """Weights, biases and BatchNorm's affine parameters stay bit for bit; the running statistics
    become the plain average of the training-mode batch statistics, block 1's checked by hand."""
    from ffmodels.calibration import calibrate_running_statistics

    net = make()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(40, 784, generator=torch.Generator().manual_seed(3))
    assert calibrate_running_statistics(net, x, batch_size=16) == 4
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    buffers = {k for k in before if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert changed == buffers  # every buffer moved, nothing else
    assert not net.training and all(b.bn.momentum == 0.1 for b in net.blocks)  # left as it was found
    block = net.blocks[0]
    means, variances = [], []
    with torch.no_grad():
        for start in (0, 16, 32):  # the batches of 16, 16 and 8 images
            a = torch.relu(block.conv(net.prepare(x[start : start + 16])))
            means.append(a.mean(dim=(0, 2, 3)))
            variances.append(a.var(dim=(0, 2, 3), unbiased=True))
    assert int(after["blocks.0.bn.num_batches_tracked"]) == 3
    assert torch.allclose(after["blocks.0.bn.running_mean"], torch.stack(means).mean(0), atol=1e-6)
    assert torch.allclose(after["blocks.0.bn.running_var"], torch.stack(variances).mean(0), rtol=1e-5)


def test_calibration_normalises_what_an_uncalibrated_init_passes_on_raw():
    """With the initial statistics (0, 1) block 1's output is its raw activity; calibrated, each
    channel of the output has about zero mean on the calibration images."""
    from ffmodels.calibration import calibrate_running_statistics

    net = make()
    x = torch.rand(64, 784, generator=torch.Generator().manual_seed(4))
    raw = net.per_block(x, lambda a, out: out.mean(dim=(0, 2, 3)))[0]
    calibrate_running_statistics(net, x, batch_size=64)
    calibrated = net.per_block(x, lambda a, out: out.mean(dim=(0, 2, 3)))[0]
    assert raw.abs().max() > 0.05 and calibrated.abs().max() < 1e-3


def test_a_family_without_batchnorm_cannot_be_calibrated():
    from ffmodels.calibration import calibrate_running_statistics

    config = load_config()
    torch.manual_seed(0)
    ff = build(variant_hparams(config, "random_wrong_label"), in_dim=784, n_classes=10)
    assert not type(ff).has_running_statistics and FAMILIES["cwc"].has_running_statistics
    with pytest.raises(ValueError, match="no BatchNorm layer"):
        calibrate_running_statistics(ff, torch.rand(4, 784), batch_size=4)


# --- per-task settings: the published Fashion-MNIST recipe --------------------------------------


def test_training_on_fashion_mnist_uses_the_published_fashion_recipe():
    config = load_config()
    mnist, fashion = variant_hparams(config, "cwc", "mnist"), variant_hparams(config, "cwc", "fashion-mnist")
    assert (mnist["input_mean"], mnist["input_std"], mnist["train_until"]) == (0.1307, 0.3081, [2, 3, 4, 5])
    assert (fashion["input_mean"], fashion["input_std"]) == (0.5, 0.5)  # src/Datasets.py
    assert fashion["train_until"] == [10, 15, 19, 23] and fashion["epochs"] == 20  # src/Models.py, src/configure.py
    assert {k for k in mnist if mnist[k] != fashion[k]} == {"input_mean", "input_std", "train_until", "epochs"}
    assert mnist == variant_hparams(config, "cwc")  # no task: the block as written (random inits, probes)
    assert "tasks" not in fashion
    net = build(fashion, in_dim=784, n_classes=10)
    assert net.scheduled(10) == [True] * 4 and net.scheduled(19) == [False, False, True, True]
    assert net.scheduled(20) == [False, False, False, True]  # block 4 trains in every epoch
