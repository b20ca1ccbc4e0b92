"""Label-free FF and Hinton's hybrid-image negatives (PROTOCOL section 7)."""

from pathlib import Path

import pytest
import torch

from ffmodels.config import load_config, random_init_of
from ffmodels.families import FAMILIES
from ffmodels.families.ff import ff_loss, goodness
from ffmodels.families.label_free_ff import LabelFreeFFHParams, LabelFreeFFNet
from ffmodels.negatives import STRATEGIES, blurred_mask, make_negatives

REPO = Path(__file__).resolve().parent.parent

torch.set_num_threads(1)


def hparams(**kw):
    base = dict(
        hidden=[32, 32],
        epochs=1,
        batch_size=64,
        lr=0.03,
        goodness="mean",
        threshold=2.0,
        norm_eps=1e-4,
        negatives="hybrid_image",
        blur_passes=6,
        mask_threshold=0.5,
    )
    base.update(kw)
    return LabelFreeFFHParams(**base)


def make(seed=0, **kw):
    torch.manual_seed(seed)
    return LabelFreeFFNet(hparams(**kw), 784, 10)


def batch(n=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 784, generator=g), torch.arange(n) % 10


def test_mask_is_binary_balanced_and_spatially_correlated():
    m = blurred_mask(2000, 28, 6, 0.5, torch.Generator().manual_seed(0)).double()
    assert m.shape == (2000, 28, 28)
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    assert abs(m.mean().item() - 0.5) < 0.01
    # Neighbouring pixels agree far more often than independent fair bits would (1/2).
    horizontal = (m[:, :, 1:] == m[:, :, :-1]).double().mean().item()
    vertical = (m[:, 1:, :] == m[:, :-1, :]).double().mean().item()
    assert horizontal > 0.8 and vertical > 0.8
    # Blurring more gives larger regions; no blurring gives independent bits.
    raw = blurred_mask(2000, 28, 0, 0.5, torch.Generator().manual_seed(0)).double()
    assert abs((raw[:, :, 1:] == raw[:, :, :-1]).double().mean().item() - 0.5) < 0.01
    more = blurred_mask(2000, 28, 12, 0.5, torch.Generator().manual_seed(0)).double()
    assert (more[:, :, 1:] == more[:, :, :-1]).double().mean().item() > horizontal


@pytest.mark.parametrize("passes", [1, 2])
def test_mask_stays_balanced_when_blurred_values_tie_with_the_threshold(passes):
    m = blurred_mask(4000, 28, passes, 0.5, torch.Generator().manual_seed(3)).double()
    assert abs(m.mean().item() - 0.5) < 0.01


def test_hybrid_takes_every_pixel_from_this_image_or_another_one():
    x, y = batch(64)
    x_neg, y_neg = make_negatives(None, x, y, hparams(), torch.Generator().manual_seed(0))
    assert torch.equal(y_neg, y)  # labels passed through, never used for the images
    from_a = x_neg == x
    assert from_a.float().mean().item() == pytest.approx(0.5, abs=0.08)
    # The other pixels all come from one other image of the batch (not this one).
    for i in range(len(x)):
        candidates = [j for j in range(len(x)) if j != i and torch.equal(x_neg[i][~from_a[i]], x[j][~from_a[i]])]
        assert len(candidates) == 1, i
    assert not (x_neg == x).all(dim=1).any()


def test_hybrid_images_do_not_depend_on_the_labels():
    x, y = batch(64)
    hp = hparams()
    a, _ = make_negatives(None, x, y, hp, torch.Generator().manual_seed(5))
    b, _ = make_negatives(
        None,
        x,
        torch.randint(0, 10, y.shape, generator=torch.Generator().manual_seed(9)),
        hp,
        torch.Generator().manual_seed(5),
    )
    assert torch.equal(a, b)


def test_hybrid_negatives_are_reproducible_from_the_seed():
    x, y = batch(64)
    a, _ = make_negatives(None, x, y, hparams(), torch.Generator().manual_seed(11))
    b, _ = make_negatives(None, x, y, hparams(), torch.Generator().manual_seed(11))
    c, _ = make_negatives(None, x, y, hparams(), torch.Generator().manual_seed(12))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert "hybrid_image" in STRATEGIES


def test_train_step_never_sees_a_label():
    """The same images with garbage or permuted labels give exactly the same update."""
    x, y = batch(64)
    states = []
    for labels in (
        y,
        y[torch.randperm(64, generator=torch.Generator().manual_seed(2))],
        torch.randint(0, 10, (64,), generator=torch.Generator().manual_seed(3)),
    ):
        net = make()
        loss = net.train_step(x, labels, torch.Generator().manual_seed(0))
        states.append((loss, [p.detach().clone() for p in net.parameters()]))
    for loss, params in states[1:]:
        assert loss == states[0][0]
        assert all(torch.equal(p, q) for p, q in zip(params, states[0][1]))


def test_train_step_is_the_ff_update_with_real_positives_and_hybrid_negatives():
    x, y = batch(32)
    net = make()
    net.train_step(x, y, torch.Generator().manual_seed(0))
    ref = make()
    x_neg, _ = make_negatives(None, x, torch.zeros_like(y), hparams(), torch.Generator().manual_seed(0))
    sign = torch.tensor([1.0] * 32 + [-1.0] * 32)
    h = torch.cat([x, x_neg])  # no label slot: the whole image is the input
    for layer in ref.layers:
        h = layer(h.detach())
        opt = torch.optim.Adam(layer.parameters(), lr=0.03)
        opt.zero_grad()
        ff_loss(goodness(h, "mean"), sign, 2.0).backward()
        opt.step()
    for a, b in zip(net.parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_no_label_input_and_no_classifier():
    net = make()
    x, y = batch(4)
    assert not net.uses_label_input and not net.has_classifier
    assert torch.equal(net.embed(x, y), x)
    assert net.layers[0].linear.in_features == 784
    assert net.features(x, "all").shape == (4, 64) and net.features(x, "last").shape == (4, 32)
    with pytest.raises(NotImplementedError):
        net.predict(x)


def test_learning_tells_real_digits_from_hybrids(real_splits):
    """On MNIST, 400 label-free steps give most real test digits more goodness than hybrid images
    made from test digits (the corruption detection the slides describe; about 55 % at 50 steps,
    83 % at 400 when this test was written)."""
    from ffmodels.data import load_splits

    data = load_splits(real_splits["mnist"], torch.device("cpu"), 5000)  # the test slice's training split
    net = make(hidden=[100, 100])
    gen = torch.Generator().manual_seed(0)
    for step in range(400):
        i = step * 100 % 5000
        net.train_step(data["train_x"][i : i + 100], data["train_y"][i : i + 100], gen)
    x = data["test_x"][:1000]
    x_neg, _ = make_negatives(net, x, data["test_y"][:1000], net.hp, torch.Generator().manual_seed(1))
    with torch.no_grad():
        g_pos = sum(goodness(h, "mean") for h in net.activations(x))
        g_neg = sum(goodness(h, "mean") for h in net.activations(x_neg))
    assert (g_pos > g_neg).float().mean().item() > 0.75


def test_hparam_checks():
    with pytest.raises(ValueError, match="mask_threshold"):
        hparams(mask_threshold=1.5)
    with pytest.raises(ValueError, match="blur_passes"):
        hparams(blur_passes=-1)


def test_config_block_passes_the_checks_and_has_its_own_random_init():
    cfg = load_config()
    assert FAMILIES["label_free_ff"].baseline_family is None
    assert random_init_of(cfg, "label_free_ff") == "random_init_label_free_ff"
    lf, ff = cfg["families"]["label_free_ff"], cfg["families"]["ff"]
    assert all(lf[k] == ff[k] for k in ("hidden", "epochs", "batch_size", "lr", "goodness", "threshold", "norm_eps"))
