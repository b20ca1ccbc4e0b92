"""The linear probe selects on the validation split only (PROTOCOL section 4)."""

import pytest
import torch

from ffmodels.config import load_config
from ffmodels.families import build
from ffmodels.jobs.sensitivity import probe_features
from ffmodels.overlay import merge
from ffmodels.transfer import SPLITS, fill_label_slot, fit_linear_probe, split_features, standardise
from ffmodels.variants import family_hparams

PROBE = {"lr": 0.01, "batch_size": 64, "max_epochs": 12, "patience": 3, "select_on": "validation"}
CONFIG = load_config()  # the shipped config: its families, transfer protocol and sensitivity settings


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


# --- the protocol-sensitivity knobs (config `sensitivity`) ------------------------------------------


def test_without_early_stopping_the_last_epoch_is_tested():
    """patience None: upstream's probe, every epoch run and the last epoch's weights tested."""
    feats, labels = toy_features(2)
    out = fit_linear_probe(feats, labels, dict(PROBE, patience=None, max_epochs=7), seed=0)
    assert out["epochs_run"] == 7 and out["best_epoch"] == 7
    assert out["val_acc"] == out["history"][-1]["val_acc"]


def test_full_batch_is_one_step_per_epoch():
    feats, labels = toy_features(3)
    full = fit_linear_probe(feats, labels, dict(PROBE, batch_size=None, patience=None, max_epochs=5), seed=0)
    one_batch = fit_linear_probe(
        feats, labels, dict(PROBE, batch_size=len(feats["train"]), patience=None, max_epochs=5), seed=0
    )
    minibatch = fit_linear_probe(feats, labels, dict(PROBE, patience=None, max_epochs=5), seed=0)
    assert full["history"] == one_batch["history"] and full["test_acc"] == one_batch["test_acc"]
    assert full["history"] != minibatch["history"]


def test_standardisation_can_be_switched_off():
    feats, labels = toy_features(4)
    scaled = {k: v * 50 + 20 for k, v in feats.items()}  # far from unit scale
    on = fit_linear_probe(scaled, labels, PROBE, seed=0)
    off = fit_linear_probe(scaled, labels, PROBE, seed=0, standardised=False)
    unscaled = fit_linear_probe(feats, labels, PROBE, seed=0)  # standardised: scale-free up to rounding
    assert all(abs(a["val_acc"] - b["val_acc"]) <= 0.01 for a, b in zip(on["history"], unscaled["history"]))
    assert off["history"] != on["history"]


def test_a_setting_overrides_only_the_keys_it_names():
    base = {"features": "all", "standardise": True, "probe": {"lr": 0.001, "batch_size": 256, "patience": 5}}
    out = merge(
        base,  # what the sensitivity job applies
        {"probe": {"lr": 0.01, "patience": None}, "features": "last"},
    )
    assert out == {"features": "last", "standardise": True, "probe": {"lr": 0.01, "batch_size": 256, "patience": None}}
    assert base["probe"]["lr"] == 0.001  # the protocol's config is left as it was


@pytest.mark.parametrize("family", sorted(CONFIG["families"]))
def test_the_sensitivity_job_probes_the_features_the_transfer_job_extracts(family):
    """One pass of the network per distinct input serves every setting (the sensitivity job's
    saving), with the features ffmodels.transfer extracts for that setting, value for value."""
    config = CONFIG
    torch.manual_seed(0)
    model = build(dict(family_hparams(config, family), family=family), in_dim=784, n_classes=10)
    g = torch.Generator().manual_seed(0)
    data = {f"{s}_x": torch.rand(n, 784, generator=g) for s, n in (("train", 6), ("val", 3), ("test", 4))}
    passes = {}
    for overrides in config["sensitivity"].values():
        cfg = merge(config["transfer"], overrides)
        expected = split_features(model, data, cfg, batch_size=4)
        got = probe_features(model, data, cfg, 4, passes)
        assert all(torch.equal(got[s], expected[s]) for s in SPLITS), overrides
    fills = {
        (c["label_fill"], c["neutral_value"])
        for c in [config["transfer"]] + [merge(config["transfer"], o) for o in config["sensitivity"].values()]
    }
    assert len(passes) == (len(fills) if model.uses_label_input else 1)


def test_a_setting_that_leaves_a_model_unchanged_adds_no_rows_to_the_holm_family():
    """Label fill does not touch a model without label input: its rows under that setting would
    repeat the protocol's test (and a gap shift of exactly 0, p = 1) in the table's family."""
    from ffmodels.tables.sensitivity import Sensitivity

    seeds = range(4)
    ff = {s: 30.0 + s for s in seeds}
    transfer = [
        {"variant": v, "seed": s, "status": "ok", "test_acc": acc / 100}
        for v, accs in (
            ("ff", ff),
            ("bp", {s: 80.0 + s * 0.5 for s in seeds}),
            ("random_init_ff", {s: 85.0 - s * 0.1 for s in seeds}),
            ("random_init_bp", {s: 85.5 + s * 0.2 for s in seeds}),
        )
        for s, acc in accs.items()
    ]
    # label_fill changes only ff (label input); bp and the random inits probe the same features
    sensitivity = [
        {**m, "settings": {"label_fill_image": {"test_acc": m["test_acc"] - (0.1 if m["variant"] == "ff" else 0)}}}
        for m in transfer
    ]
    ctx = {
        "random_init_of": {"ff": "random_init_ff", "bp": "random_init_bp"},
        "stats": {"paired_test": "ttest", "alpha": 0.05},
    }
    table, _ = Sensitivity.build({"variants": ["ff", "bp"]}, {"transfer": transfer, "sensitivity": sensitivity}, ctx)
    fill = table[table.setting == "label_fill_image"]
    # bp and its init unchanged: no rows; ff's init stays, ff's gap under the setting reads against it
    assert set(fill.variant) == {"ff", "random_init_ff"}, fill
    assert set(fill.metric) == {"transfer_acc", "gap_shift"}
    protocol = table[table.setting == "protocol"]
    assert set(protocol.variant) == {"ff", "bp", "random_init_ff", "random_init_bp"}
    # ff and bp under the protocol, ff under label fill and its gap shift; not bp's repeat
    assert table.p.notna().sum() == 4


def test_the_raw_pixel_control_probes_the_flattened_images_with_the_same_probe():
    """raw_pixels (config transfer_control): its features are the images themselves, whatever
    the feature setting, and the label slot is kept (the target images carry no label)."""
    from ffmodels.transfer import RawPixels, transfer

    g = torch.Generator().manual_seed(0)
    data = {f"{s}_x": torch.rand(n, 784, generator=g) for s, n in (("train", 60), ("val", 20), ("test", 30))}
    data.update({f"{s}_y": torch.arange(len(data[f"{s}_x"])) % 10 for s in SPLITS})
    for cfg in (CONFIG["transfer"], merge(CONFIG["transfer"], {"features": "last", "label_fill": "zero"})):
        feats = split_features(RawPixels(), data, cfg, batch_size=7)
        assert all(torch.equal(feats[s], data[f"{s}_x"].flatten(1)) for s in SPLITS)
    images = {k: v.view(-1, 28, 28) if k.endswith("_x") else v for k, v in data.items()}
    assert torch.equal(split_features(RawPixels(), images, CONFIG["transfer"], 7)["val"], data["val_x"])
    cfg = merge(CONFIG["transfer"], {"probe": {"max_epochs": 2}})
    direct = fit_linear_probe(
        {s: data[f"{s}_x"] for s in SPLITS},
        {s: data[f"{s}_y"] for s in SPLITS},
        cfg["probe"],
        seed=3,
        standardised=cfg["standardise"],
    )
    assert transfer(RawPixels(), data, cfg, seed=3, batch_size=7)["test_acc"] == direct["test_acc"]


def test_a_random_init_stays_in_a_setting_while_a_model_that_changes_reads_against_it():
    """Label fill changes FF's probe but, on some data, not its random init's: the init's row stays,
    since FF's gap under that setting is read against it."""
    from ffmodels.tables.sensitivity import Sensitivity

    transfer = [
        {"variant": v, "seed": s, "status": "ok", "test_acc": (base + s) / 100}
        for v, base in (("ff", 30.0), ("random_init_ff", 85.0))
        for s in range(4)
    ]
    sensitivity = [
        {**m, "settings": {"fill": {"test_acc": m["test_acc"] - (0.05 if m["variant"] == "ff" else 0)}}}
        for m in transfer
    ]
    ctx = {"random_init_of": {"ff": "random_init_ff"}, "stats": {"paired_test": "ttest", "alpha": 0.05}}
    table, _ = Sensitivity.build({"variants": ["ff"]}, {"transfer": transfer, "sensitivity": sensitivity}, ctx)
    assert set(table[table.setting == "fill"].variant) == {"ff", "random_init_ff"}
