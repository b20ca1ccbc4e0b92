"""Collapse by behaviour (ffmodels/collapse.py, PROTOCOL section 6): one rule, judged by the
training loop on the validation split, carried by the probe of the model, counted and marked in
the tables; and the same rule read from a published summary row."""

import json
import math
import types

import numpy as np
import pytest
import torch

from ffmodels.collapse import (
    AT_CHANCE,
    NON_FINITE,
    ONE_CLASS,
    chance_threshold,
    collapsed_from_summary,
    judge,
    max_deviation,
    top_class_share,
)
from ffmodels.config import load_config
from ffmodels.families.base import PretrainModel
from ffmodels.train import pretrain
from tests.conftest import pretrain_spec

RULE = load_config()["stats"]["collapse"]


def test_the_rule_names_its_reason():
    assert judge(0.97, 0.11, 10, finite=False, rule=RULE) == NON_FINITE  # the loss first, whatever the scores
    assert judge(0.1135, 1.0, 10, finite=True, rule=RULE) == ONE_CLASS
    assert judge(0.10, 0.12, 10, finite=True, rule=RULE) == AT_CHANCE
    assert judge(0.97, 0.12, 10, finite=True, rule=RULE) is None
    assert judge(0.10, 1.0, 10, finite=True, rule=None) is None  # no rule: the loss only
    assert judge(float("nan"), None, 10, finite=True, rule=RULE) is None  # a fact not measured is not judged


def test_the_margins_are_inclusive():
    threshold = chance_threshold(10, RULE)
    assert threshold == 10.0 + RULE["chance_margin"]
    assert judge(threshold / 100, 0.2, 10, True, RULE) == AT_CHANCE
    assert judge(threshold / 100 + 1e-6, 0.2, 10, True, RULE) is None
    assert judge(0.5, RULE["one_class_share"], 10, True, RULE) == ONE_CLASS
    assert judge(0.5, RULE["one_class_share"] - 1e-6, 10, True, RULE) is None


def test_top_class_share():
    assert top_class_share(torch.tensor([3, 3, 3, 1]), 10) == 0.75
    assert top_class_share(torch.arange(10), 10) == 0.1


# --- the training loop ------------------------------------------------------------------------


class Stub(PretrainModel):
    """A classifier whose predictions are a fixed function of the input; a finite loss."""

    family = "stub"

    def __init__(self, predict, epochs=1, loss=0.5):
        super().__init__(types.SimpleNamespace(epochs=epochs, batch_size=10), in_dim=784, n_classes=10)
        self._predict, self._loss = predict, loss
        self.w = torch.nn.Parameter(torch.zeros(1))

    def train_step(self, x, y, gen):
        return torch.tensor(self._loss)  # a 0-d tensor, as PretrainModel.train_step returns

    def predict(self, x):
        return self._predict(x)


def data(n=100):
    """Images whose first pixel encodes the label (y / 10), so a stub can be right or wrong."""
    g = torch.Generator().manual_seed(0)
    out = {}
    for split in ("train", "val", "test"):
        y = torch.arange(n) % 10
        x = torch.rand(n, 784, generator=g)
        x[:, 0] = y / 10
        out[f"{split}_x"], out[f"{split}_y"] = x, y
    return out


def label(x):
    return (x[:, 0] * 10).round().long()


@pytest.mark.parametrize(
    "predict, reason",
    [
        (lambda x: torch.full((len(x),), 7), ONE_CLASS),  # one class on every image
        (lambda x: (label(x) + 1) % 10, AT_CHANCE),  # every class as often, never right
        (label, None),  # right: not collapsed
    ],
)
@pytest.mark.parametrize("epochs", [0, 2])  # judged on the last epoch's record, or without any
def test_a_trained_model_is_judged_on_its_validation_predictions(predict, reason, epochs):
    result = pretrain(
        Stub(predict, epochs=epochs), data(), seed=0, eval_batch_size=32, log=lambda _: None, collapse=RULE
    )
    assert result["collapse_reason"] == reason
    assert result["status"] == ("collapsed" if reason else "ok")
    assert result["last_good_epoch"] == epochs  # a behavioural collapse trains to the end: no rollback
    assert 0 < result["val_top_class_share"] <= 1
    if epochs:
        assert all("val_top_class_share" in e for e in result["history"])


def test_a_non_finite_loss_keeps_its_reason_and_rolls_back():
    result = pretrain(
        Stub(label, epochs=3, loss=float("nan")), data(), seed=0, eval_batch_size=32, log=lambda _: None, collapse=RULE
    )
    assert result["status"] == "collapsed" and result["collapse_reason"] == NON_FINITE
    assert result["last_good_epoch"] == 0 and result["history"] == []


def test_a_model_without_a_classifier_is_judged_on_its_source_probe():
    """label_free_ff: its source accuracy is the common probe's; a dead network (every unit off)
    gives the probe constant features (and stays dead: no gradient reaches it), so it predicts one
    class."""
    from ffmodels.families import build
    from ffmodels.variants import family_hparams

    config = load_config()
    hp = dict(family_hparams(config, "label_free_ff"), family="label_free_ff", hidden=[8, 8], epochs=1)
    model = build(hp, in_dim=784, n_classes=10)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    probe = dict(config["transfer"], probe=dict(config["transfer"]["probe"], max_epochs=2))
    result = pretrain(model, data(), seed=0, eval_batch_size=32, log=lambda _: None, probe=probe, collapse=RULE)
    assert result["collapse_reason"] in (ONE_CLASS, AT_CHANCE) and result["status"] == "collapsed"


def test_the_probe_of_a_collapsed_model_keeps_its_status(tmp_path):
    """The transfer job reads the pretraining run's status from the model file."""
    from ffmodels.jobs.model import new_model
    from ffmodels.jobs.transfer import ProbeSpec, probe_inputs
    from ffmodels.variants import variant_hparams

    config = load_config()
    hp = variant_hparams(config, "random_wrong_label")
    splits = data()
    torch.save(splits, tmp_path / "target.pt")
    model = new_model(hp, 0, 784, torch.device("cpu"))
    torch.save(
        {"hp": hp, "seed": 0, "status": "collapsed", "collapse_reason": ONE_CLASS, "state_dict": model.state_dict()},
        tmp_path / "model.pt",
    )
    spec = ProbeSpec(
        variant="random_wrong_label",
        seed=0,
        arch={},
        transfer=config["transfer"],
        code={},
        hp=hp,
        preset="test",
        data=str(tmp_path / "target.pt"),
        log=str(tmp_path / "log"),
        model=str(tmp_path / "model.pt"),
    )
    *_, source, status = probe_inputs(spec)
    assert (source, status) == ("pretrained", "collapsed")


# --- from a published summary ---------------------------------------------------------------


def test_the_bound_holds_and_is_tight():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(2, 12))
        x = rng.normal(rng.uniform(0, 100), rng.uniform(0, 20), n) * rng.choice([1, 0], n, p=[0.8, 0.2])
        m, s = x.mean(), x.std(ddof=1)
        assert np.abs(x - m).max() <= max_deviation(s, n) * (1 + 1e-9) + 1e-9
    for n in (2, 5, 9):  # n - 1 equal values and one apart: the bound is reached
        x = np.array([0.0] * (n - 1) + [1.0])
        assert np.abs(x - x.mean()).max() == pytest.approx(max_deviation(x.std(ddof=1), n))


def test_a_summary_says_all_none_or_cannot_tell():
    threshold = chance_threshold(10, RULE)  # 15 %
    assert collapsed_from_summary(11.35, 0.0, 5, 10, RULE) == 5  # one class on every seed
    assert collapsed_from_summary(10.0, 0.0, 5, 10, RULE) == 5
    assert collapsed_from_summary(9.54, 1.31, 5, 10, RULE) == 5  # 9.54 + 1.31 * 4 / sqrt(5) = 11.9
    assert collapsed_from_summary(97.1, 0.15, 5, 10, RULE) == 0
    assert collapsed_from_summary(14.0, 1.0, 5, 10, RULE) is None  # a seed may lie above 15
    assert collapsed_from_summary(16.0, 1.0, 5, 10, RULE) is None  # ... or below
    assert collapsed_from_summary(threshold, 0.0, 3, 10, RULE) == 3
    assert collapsed_from_summary(12.0, float("nan"), 1, 10, RULE) == 1  # one seed: no spread
    assert collapsed_from_summary(12.0, float("nan"), 5, 10, RULE) is None
    assert collapsed_from_summary(float("nan"), 1.0, 5, 10, RULE) is None


def test_a_summary_agrees_with_the_seeds_wherever_it_answers():
    rng = np.random.default_rng(1)
    threshold = chance_threshold(10, RULE)
    answered = 0
    for _ in range(3000):
        n = int(rng.integers(1, 8))
        x = rng.normal(rng.uniform(5, 25), rng.uniform(0, 5), n)
        got = collapsed_from_summary(x.mean(), x.std(ddof=1) if n > 1 else math.nan, n, 10, RULE)
        truth = int((x <= threshold).sum())
        if got is not None:
            answered += 1
            assert got == truth
    assert answered > 1000


# --- the tables -------------------------------------------------------------------------------


def metrics(variant, values, status="ok"):
    return [
        {"variant": variant, "seed": s, "test_acc": v / 100, "status": status, "history": []}
        for s, v in enumerate(values)
    ]


CTX = {
    "stats": {"paired_test": "ttest", "alpha": 0.05},
    "transfer_control": "raw_pixels",
    "random_init_of": {"pcl": "random_init_ff", "pcl_l1": "random_init_ff"},
    "calibrated_init_of": {"pcl": None, "pcl_l1": None},
}


def test_a_sweep_table_says_where_collapse_begins():
    from ffmodels.tables import KINDS

    spec = {"kind": "source_transfer", "variants": ["pcl", "pcl_l1"], "reference": "pcl"}
    records = {
        "pretrain": metrics("pcl", [96, 96.5, 97]) + metrics("pcl_l1", [11.35] * 3, "collapsed"),
        "transfer": metrics("pcl", [30, 31, 32])
        + metrics("pcl_l1", [10, 10, 10], "collapsed")
        + metrics("random_init_ff", [85, 85.2, 85.4])
        + metrics("raw_pixels", [84, 84.1, 84.3]),
    }
    table, notes = KINDS["source_transfer"].build(spec, records, CTX)
    rows = {
        (r["variant"], r["metric"], r["reference"] if isinstance(r["reference"], str) else None): r
        for r in table.to_dict("records")
    }
    assert rows[("pcl_l1", "source_acc", "pcl")]["status"] == "collapsed (3/3)"
    assert rows[("pcl_l1", "transfer_acc", "random_init_ff")]["n_collapsed"] == 3
    assert rows[("pcl", "source_acc", None)]["status"] == ""
    assert any("pcl_l1 3/3" in n and "pcl " not in n for n in notes)
    control = rows[("raw_pixels", "transfer_acc", None)]
    assert math.isnan(control["p"]) and math.isnan(control["p_holm"]) and control["status"] == ""
    pcl = rows[("pcl", "transfer_acc", "random_init_ff")]
    assert pcl["delta_vs_control"] == pytest.approx(31 - 84.133333, abs=1e-4)
    assert math.isnan(rows[("pcl", "source_acc", None)]["delta_vs_control"])


def test_a_transfer_compare_table_has_the_control_row_outside_holm():
    from ffmodels.tables import KINDS, to_markdown

    spec = {"kind": "compare", "stage": "transfer", "variants": ["pcl"], "reference": "random_init"}
    assert KINDS["compare"].runs(spec, CTX)["transfer"] == ["pcl", "random_init_ff", "raw_pixels"]
    records = {
        "transfer": metrics("pcl", [30, 31, 32])
        + metrics("random_init_ff", [85, 85.2, 85.4])
        + metrics("raw_pixels", [84, 84.1, 84.3])
    }
    table, notes = KINDS["compare"].build(spec, records, CTX)
    control = table[table.variant == "raw_pixels"].iloc[0]
    assert math.isnan(control.p) and not isinstance(control.reference, str)
    assert table.p_holm.notna().sum() == 1  # pcl vs its random init only
    assert table.set_index("variant").delta_vs_control["random_init_ff"] == pytest.approx(85.2 - 84.133333, abs=1e-4)
    md = to_markdown(table, "t", "test", notes)
    assert "Δ vs control" in md and "raw_pixels" in md
    on_pretrain = dict(spec, stage="pretrain")
    assert "raw_pixels" not in KINDS["compare"].runs(on_pretrain, CTX)["pretrain"]
    assert KINDS["compare"].runs(spec, dict(CTX, transfer_control=None))["transfer"] == ["pcl", "random_init_ff"]


def test_the_pretraining_job_records_the_facts(tmp_path, real_splits):
    """Through the job: metrics.json holds val_acc, val_top_class_share and collapse_reason."""
    from ffmodels.jobs.pretrain import pretrain_job
    from ffmodels.variants import variant_hparams

    hp = dict(variant_hparams(load_config(), "bp"), epochs=1)
    pretrain_job(pretrain_spec(tmp_path, real_splits["mnist"], "bp", hp, collapse=RULE))
    m = json.loads((tmp_path / "m.json").read_text())
    assert {"val_acc", "val_top_class_share", "collapse_reason"} <= set(m)
    assert m["status"] == "ok" and m["collapse_reason"] is None  # BP learns in one epoch
    assert torch.load(tmp_path / "m.pt", weights_only=True)["collapse_reason"] is None
