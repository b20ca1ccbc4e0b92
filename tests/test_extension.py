"""A researcher's new FF variant with its own learning rule: one module in ffmodels/families/
and one config entry, nothing else. Proved on a copy of the finished test workflow: the module
is dropped into ffmodels/families/, the family block (extends: ff, its own key) and the table row
it should appear in come as an overlay, and the run trains only the new variant and its own
random-init baseline, which get their rows in the table, with the inherited FF settings."""

import csv
import json

import pytest
import yaml

from ffmodels.config import ConfigError, load_config
from tests.conftest import REPO, copy_of, snakemake, snapshot

# The whole of the new variant: a family whose layer loss is FF's times a constant, and whose
# untrained network counts as its own architecture (so it gets its own random init).
MODULE = '''"""Scaled FF: the FF loss of every layer times loss_scale."""

import dataclasses

from ffmodels.families import register
from ffmodels.families.ff import FFHParams, FFNet, ff_loss, goodness
from ffmodels.hparams import PositiveFloat


@dataclasses.dataclass(frozen=True)
class ScaledHParams(FFHParams):
    loss_scale: PositiveFloat


@register
class ScaledFF(FFNet):
    family = "scaled_ff"
    HParams = ScaledHParams
    baseline_family = None  # its own random-init baseline

    def layer_losses(self, hs, sign):
        return [self.hp.loss_scale * ff_loss(goodness(h, self.hp.goodness), sign, self.hp.threshold) for h in hs]
'''

# The config entry (and the table that should show it), as a user's overlay.
ENTRY = {
    "families": {"scaled_ff": {"extends": "ff", "loss_scale": 0.5}},
    "tables": {"rq2_transfer": {"variants": ["random_wrong_label", "scaled_ff"]}},
}


@pytest.fixture(scope="module")
def extended(workflow_dir, tmp_path_factory):
    """The finished test workflow with the new module and its config entry added, asked again for
    the table: (workflow copy, the results as they were before)."""
    wf = copy_of(workflow_dir, tmp_path_factory.mktemp("extended"), "wf")
    before = snapshot(wf)
    (wf / "ffmodels" / "families" / "scaled_ff.py").write_text(MODULE)
    (wf / "variant.yaml").write_text(yaml.safe_dump(ENTRY))
    snakemake(wf, "variant.yaml", "--", "results/tables/rq2_transfer.csv")
    return wf, before


def test_adding_the_variant_reruns_nothing_that_was_computed(extended):
    """New module, new config entry: only the new variant's jobs and the table that shows it run."""
    wf, before = extended
    after = snapshot(wf)
    changed = {path for path in after if after[path] != before.get(path)}
    new_runs = {path.split("/")[2] for path in changed if path.startswith(("results/pretrain/", "results/transfer/"))}
    assert new_runs == {"scaled_ff", "random_init_scaled_ff"}
    assert {path for path in changed if not path.startswith(("results/pretrain/", "results/transfer/"))} == {
        "results/tables/rq2_transfer.csv",
        "results/tables/rq2_transfer.md",
    }


def test_the_new_family_appears_in_the_table_with_its_own_random_init(extended):
    with open(extended[0] / "results/tables/rq2_transfer.csv") as fh:
        rows = {r["variant"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"random_wrong_label", "scaled_ff", "random_init_ff", "random_init_scaled_ff", "raw_pixels"}
    assert rows["scaled_ff"]["reference"] == "random_init_scaled_ff" and rows["scaled_ff"]["n"] == "2"
    assert rows["scaled_ff"]["p"] and 0 < float(rows["scaled_ff"]["mean"]) <= 100


def test_the_new_family_trains_with_the_inherited_ff_settings(extended):
    config = load_config(REPO / "presets/quick.yaml", REPO / ".test/config.yaml")
    metrics = json.loads((extended[0] / "results/pretrain/scaled_ff/seed0/metrics.json").read_text())
    hp = metrics["hparams"]
    assert hp["family"] == "scaled_ff" and hp["loss_scale"] == 0.5
    assert {k: hp[k] for k in config["families"]["ff"]} == config["families"]["ff"]  # every FF key, as resolved
    # trained to the end (one epoch on the test slice leaves FF predicting one class, which the
    # collapse rule marks: a result, not a divergence)
    assert metrics["collapse_reason"] != "non-finite loss"
    assert len(metrics["history"]) == config["families"]["ff"]["epochs"]


def test_a_family_block_that_misses_its_own_key_is_named():
    with pytest.raises(ConfigError, match=r"families\.\w+: unknown family"):
        load_config(ENTRY)  # without the module the family is unknown, and the message says so
