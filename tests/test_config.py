"""Config resolution: misspelt keys and wrong types are named before anything runs."""

import copy

import pytest
import yaml

from ffmodels.config import ConfigError, check_config, load_config, table_runs, variant_hparams
from tests.conftest import REPO

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())  # as written: families not yet resolved
RESOLVED = load_config()


def cfg(**changes):
    c = copy.deepcopy(CONFIG)
    for path, value in changes.items():
        node = c
        *parents, leaf = path.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return c


def test_shipped_config_and_presets_are_valid():
    check_config(CONFIG)
    for preset in (REPO / "presets").glob("*.yaml"):
        load_config(preset)


def test_variant_is_family_defaults_plus_overrides():
    hp = variant_hparams(RESOLVED, "hard")
    assert hp["family"] == "ff" and hp["negatives"] == "hard" and hp["lr"] == CONFIG["families"]["ff"]["lr"]
    assert variant_hparams(RESOLVED, "random_init_bp") == {**CONFIG["families"]["bp"], "family": "bp"}


def test_every_transferred_family_gets_its_random_init():
    runs = {stage: set() for stage in ("pretrain", "transfer")}
    for by_stage in table_runs(RESOLVED).values():
        for stage in runs:
            runs[stage].update(by_stage.get(stage, []))
    assert {"random_init_bp", "random_init_ff"} <= runs["transfer"]
    assert all(not r.startswith("random_init_") for r in runs["pretrain"])


@pytest.mark.parametrize("change, key", [
    ({"families__ff__lrr": 0.1}, "families.ff.lrr"),
    ({"variants__hard": {"family": "ff", "negative": "hard"}}, "variants.hard.negative"),
    ({"variants__hard": {"family": "ff", "negatives": "hardest"}}, "variants.hard.negatives"),
    ({"families__bp__epochs": "ten"}, "families.bp.epochs"),
    ({"variants__hard": {"family": "fff"}}, "variants.hard.family"),
    ({"tables__rq2_transfer__variants": ["bp", "nonexistent"]}, "tables.rq2_transfer.variants"),
])
def test_bad_values_are_refused_naming_the_key(change, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_config(cfg(**change))
