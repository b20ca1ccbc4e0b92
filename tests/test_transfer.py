"""The linear probe selects on the validation split only (PROTOCOL section 4)."""

import torch

from ffmodels.transfer import fill_label_slot, fit_linear_probe, standardise

PROBE = {"lr": 0.01, "batch_size": 64, "max_epochs": 12, "patience": 3}


def toy_features(seed):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, 20, generator=g) * 1.5
    def split(n):
        y = torch.randint(0, 10, (n,), generator=g)
        return centres[y] + torch.randn(n, 20, generator=g) * 2.0, y
    (tr, ytr), (va, yva), (te, yte) = split(600), split(200), split(300)
    return {"train": tr, "val": va, "test": te}, {"train": ytr, "val": yva, "test": yte}


def test_probe_learns_and_reports_the_best_validation_epoch():
    feats, labels = toy_features(0)
    out = fit_linear_probe(feats, labels, PROBE, seed=0)
    assert out["val_acc"] == max([h["val_acc"] for h in out["history"]])
    assert out["history"][out["best_epoch"] - 1]["val_acc"] == out["val_acc"]
    assert out["test_acc"] > 0.5  # 10 well-separated clusters; chance is 0.1


def test_probe_never_looks_at_the_test_split_for_selection():
    feats, labels = toy_features(1)
    a = fit_linear_probe(feats, labels, PROBE, seed=0)
    scrambled = dict(labels, test=(labels["test"] + 3) % 10)  # test labels made all wrong
    b = fit_linear_probe(feats, scrambled, PROBE, seed=0)
    assert (a["best_epoch"], a["val_acc"], a["history"]) == (b["best_epoch"], b["val_acc"], b["history"])
    assert b["test_acc"] < 0.2 < a["test_acc"]


def test_standardise_uses_train_statistics_and_keeps_dead_units():
    train = torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    other = torch.tensor([[2.0, 5.0]])
    t, o = standardise(train, other)
    assert torch.allclose(t.mean(dim=0), torch.zeros(2))
    assert o[0, 0].item() == 0.0 and o[0, 1].item() == 5.0  # constant unit: scale 1


def test_label_slot_fill_modes():
    x = torch.full((2, 784), 0.5)
    assert (fill_label_slot(x, "zero", 0.1)[:, :10] == 0).all()
    assert torch.allclose(fill_label_slot(x, "neutral", 0.1)[:, :10], torch.full((2, 10), 0.1))
    assert torch.equal(fill_label_slot(x, "image", 0.1), x)
    assert (fill_label_slot(x, "zero", 0.1)[:, 10:] == 0.5).all()
