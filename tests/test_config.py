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


def test_a_preset_that_runs_part_of_the_study_builds_only_the_tables_it_switches_on():
    """tables_enabled_by_default: false keeps every table off that does not say enabled: true,
    the study's later tables too; with none on, the run is refused by name."""
    assert set(table_runs(RESOLVED)) == {t for t, spec in RESOLVED["tables"].items() if spec.get("enabled", True)}
    part = load_config(REPO / "presets" / "full_ff_bp_cpu.yaml")
    assert list(table_runs(part)) == [
        "rq1_negative_strategies",
        "rq2_transfer",
        "rq3_root_cause",
        "rq3_over_training",
        "rq2_sensitivity",
    ]
    assert {run for stages in table_runs(part).values() for runs in stages.values() for run in runs} <= {
        "random_wrong_label",
        "bp",
        "random_init_ff",
        "random_init_bp",
        "raw_pixels",
    }
    with pytest.raises(ConfigError, match="no table is built .tables_enabled_by_default is false"):
        load_config({"tables_enabled_by_default": False})


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


@pytest.mark.parametrize(
    "change, key",
    [
        ({"families__ff__lrr": 0.1}, "families.ff.lrr"),
        ({"variants__hard": {"family": "ff", "negative": "hard"}}, "variants.hard.negative"),
        ({"variants__hard": {"family": "ff", "negatives": "hardest"}}, "variants.hard.negatives"),
        ({"families__bp__epochs": "ten"}, "families.bp.epochs"),
        ({"variants__hard": {"family": "fff"}}, "variants.hard.family"),
        ({"tables__rq2_transfer__variants": ["bp", "nonexistent"]}, "tables.rq2_transfer.variants"),
    ],
)
def test_bad_values_are_refused_naming_the_key(change, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_config(cfg(**change))


# Values a user would mistype, each with the whole message it must get (key, value, what is
# allowed), before any job runs. docs/usage.md quotes some of them.
MISTYPED = [
    ({"families__bp__batch_size": 0}, "families.bp.batch_size: 0 is not allowed: must be >= 1"),
    ({"families__ff__epochs": -5}, "families.ff.epochs: -5 is not allowed: must be >= 1"),
    ({"families__ff__lr": 0.0}, "families.ff.lr: 0.0 is not allowed: must be > 0"),
    ({"families__ff__lr": -0.03}, "families.ff.lr: -0.03 is not allowed: must be > 0"),
    (
        {"families__ff__lr": "1e-3"},
        "families.ff.lr: '1e-3' is not a number (YAML reads a number like 1e-3 as text: write 1.0e-3)",
    ),
    ({"families__ff__lr": float("nan")}, "families.ff.lr: not a finite number"),
    ({"families__ff__threshold": float("inf")}, "families.ff.threshold: not a finite number"),
    ({"families__ff__hidden": []}, "families.ff.hidden: [] is not allowed: must be a list of at least 1 item"),
    ({"families__ff__hidden": [500, 0]}, "families.ff.hidden: item 1: 0 is not allowed: must be >= 1"),
    ({"families__ff__hidden": 500}, "families.ff.hidden: 500 is not a list"),
    ({"families__ff__mask_keep": 1.5}, "families.ff.mask_keep: 1.5 is not allowed: must be in (0, 1]"),
    ({"families__ff__mask_keep": 0.0}, "families.ff.mask_keep: 0.0 is not allowed: must be in (0, 1]"),
    ({"families__ff__mix_weight": -0.1}, "families.ff.mix_weight: -0.1 is not allowed: must be in [0, 1]"),
    ({"families__ff__noise_sigma": -0.3}, "families.ff.noise_sigma: -0.3 is not allowed: must be >= 0"),
    ({"families__ff__goodness": "max"}, "families.ff.goodness: 'max' is not one of ['mean', 'sum']"),
    ({"families__three_factor__kappa": 2.0}, "families.three_factor.kappa: 2.0 is not allowed: must be in [0, 1]"),
    ({"families__prospective__iterations": 0}, "families.prospective.iterations: 0 is not allowed: must be >= 1"),
    ({"families__pcl__pcl_lambda": -1.0}, "families.pcl.pcl_lambda: -1.0 is not allowed: must be >= 0"),
    ({"families__cwc__bn_momentum": 0.0}, "families.cwc.bn_momentum: 0.0 is not allowed: must be in (0, 1]"),
    (
        {
            "families__cwc__epochs": 3,
            "families__cwc__train_from": [1, 1, 1, 4],
            "families__cwc__train_until": [2, 3, 3, 5],
        },
        "families.cwc.train_from: block(s) [4] would start after the last epoch (3) and never train",
    ),
    (
        {"families__label_free_ff__mask_threshold": 1.0},
        "families.label_free_ff.mask_threshold: 1.0 is not allowed: must be in (0, 1)",
    ),
    ({"families__three_factor__extends": "three_factor"}, "families.three_factor.extends: a cycle"),
    (
        {"families__three_factor__extends": "nonexistent"},
        "families.three_factor.extends: 'nonexistent' is not defined under families",
    ),
    (
        {"variants__hard": {"family": "ff", "negatives": "hard", "lr": 0}},
        "variants.hard.lr: 0 is not allowed: must be > 0",
    ),
    ({"pretrain__test_every_epoch": ["cwcc"]}, "pretrain.test_every_epoch: 'cwcc' is not defined under variants"),
    ({"start_first": ["cwcc"]}, "start_first: unknown family 'cwcc'"),
    # caught by the JSON schema (check_schema), named by key as the rest are
    ({"transfer__features": "first"}, "transfer.features: 'first' is not one of ['all', 'last']"),
    ({"seeds": "0-4"}, "seeds: '0-4' is not of type 'array'"),
]


@pytest.mark.parametrize("change, message", MISTYPED, ids=[m.split(":")[0] for _, m in MISTYPED])
def test_mistyped_values_are_refused_with_key_value_and_what_is_allowed(change, message):
    with pytest.raises(ConfigError) as err:
        check_config(cfg(**change))
    assert str(err.value).startswith(message), str(err.value)


def test_a_config_missing_a_required_key_is_refused_by_name_wherever_it_is_loaded(tmp_path):
    """A workflow folder of an older commit whose config.yaml lacks a key the schema now requires:
    load_config (tools.publish, tools.cost) names the key, as the Snakefile does, instead of a
    KeyError from deep inside table_runs."""
    old = copy.deepcopy(CONFIG)
    del old["tables_enabled_by_default"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    with pytest.raises(ConfigError, match="config: 'tables_enabled_by_default' is a required property"):
        load_config(path=tmp_path / "config.yaml")


def test_per_task_settings_are_inherited_checked_and_apply_only_on_their_task():
    config = load_config(
        {
            "families": {
                "ff": {"tasks": {"fashion-mnist": {"epochs": 7, "lr": 0.01}}},
                "collab": {"tasks": {"fashion-mnist": {"gamma": 0.9}}},
            }
        }
    )
    assert variant_hparams(config, "collab_g05", "fashion-mnist")["epochs"] == 7  # inherited from ff
    assert variant_hparams(config, "collab_g05", "mnist")["epochs"] == 60
    # order: family, its task's settings, the variant's own overrides
    assert variant_hparams(config, "collab", "fashion-mnist")["gamma"] == 0.9
    assert variant_hparams(config, "collab_g05", "fashion-mnist")["gamma"] == 0.5
    assert variant_hparams(config, "bp", "fashion-mnist") == variant_hparams(config, "bp")
    known = r"known: \['fashion-mnist', 'mnist'\]"
    with pytest.raises(ConfigError, match=r"families\.cwc\.tasks\.cifar10: not a dataset; " + known):
        load_config({"families": {"cwc": {"tasks": {"cifar10": {"epochs": 3}}}}})
    with pytest.raises(ConfigError, match=r"families\.cwc\.tasks\.fashion-mnist\.epochs: 0 is not allowed"):
        load_config({"families": {"cwc": {"tasks": {"fashion-mnist": {"epochs": 0}}}}})
    with pytest.raises(ConfigError, match=r"families\.cwc\.tasks\.fashion-mnist\.colour: unknown hyperparameter"):
        load_config({"families": {"cwc": {"tasks": {"fashion-mnist": {"colour": 3}}}}})


def test_the_schema_describes_every_key_and_its_defaults_are_the_shipped_values():
    """As the snakemake-workflows template's schema does: every key has a description, and a
    default is config.yaml's own value (so Snakemake's validate, which fills defaults in, never
    changes a shipped config)."""
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    undescribed, wrong_default = [], []

    def walk(node, path, shipped):
        if isinstance(node, list):
            for item in node:
                walk(item, path, shipped)
            return
        if not isinstance(node, dict):
            return
        for key, sub in (node.get("properties") or {}).items():
            here = f"{path}.{key}".lstrip(".")
            annotation = set(sub) <= {"default", "required"}  # defaults over an allOf'd $defs entry
            if "description" not in sub and not annotation:
                undescribed.append(here)
            value = shipped.get(key, ...) if isinstance(shipped, dict) else ...
            if "default" in sub and sub["default"] != value:
                wrong_default.append(here)
            walk(sub, here, value if value is not ... else {})
        for keyword in ("$defs", "additionalProperties", "items", "oneOf", "allOf"):
            if keyword == "$defs":
                for name, sub in (node.get("$defs") or {}).items():
                    walk(sub, f"$defs.{name}", {})
            elif keyword in node:
                walk(node[keyword], path, {})

    walk(schema, "", CONFIG)
    assert not undescribed and not wrong_default, (undescribed, wrong_default)


def test_cuda_tf32_sets_the_cuda_arithmetic_explicitly_where_jobs_set_up_their_device():
    """config cuda_tf32 (default false: exact fp32 and deterministic cuDNN, as on the CPU)."""
    import torch

    from ffmodels.jobs.model import setup

    assert load_config()["cuda_tf32"] is False
    threads = torch.get_num_threads()
    try:
        for tf32 in (True, False):
            setup("cpu", threads, tf32)
            assert torch.backends.cuda.matmul.allow_tf32 is tf32 and torch.backends.cudnn.allow_tf32 is tf32
            assert torch.backends.cudnn.deterministic is (not tf32) and torch.backends.cudnn.benchmark is False
    finally:
        setup("cpu", threads)  # the default, as every job's
