"""Resolve and check the experiment config: the one place that turns config.yaml into
per-job hyperparameters.

The JSON schema (workflow/schemas/config.schema.yaml) checks the structure; this module checks
what the schema cannot: that every variant names a known family, that its hyperparameters are
exactly the family's (a misspelt key is named), and that every table row exists.
"""

from __future__ import annotations

import copy
from pathlib import Path

from ffmodels.families import FAMILIES, check_hparams

RANDOM_INIT_PREFIX = "random_init_"


class ConfigError(ValueError):
    """A config value that cannot be run; the message names the key."""


def is_random_init(name: str) -> bool:
    return name.startswith(RANDOM_INIT_PREFIX)


def variant_hparams(config: dict, variant: str) -> dict:
    """Family defaults merged with the variant's overrides, as the job will see them."""
    if is_random_init(variant):
        family = variant[len(RANDOM_INIT_PREFIX):]
        overrides = {}
    else:
        try:
            spec = dict(config["variants"][variant])
        except KeyError:
            raise ConfigError(f"variants.{variant}: no such variant in config.yaml") from None
        family = spec.pop("family")
        overrides = spec
    hp = copy.deepcopy(config["families"][family])
    hp.update(copy.deepcopy(overrides))
    hp["family"] = family
    return hp


def random_init_name(family: str) -> str:
    return RANDOM_INIT_PREFIX + family


def table_variants(config: dict, table: str) -> list[str]:
    return list(config["tables"][table]["variants"])


def transfer_runs(config: dict) -> list[str]:
    """Pretrained variants probed on the target task, then each family's random init."""
    variants = table_variants(config, "rq2_transfer")
    families = sorted({config["variants"][v]["family"] for v in variants})
    return variants + [random_init_name(f) for f in families]


def check_config(config: dict) -> None:
    """Raise ConfigError naming the first key that cannot be run."""
    for family, hp in config["families"].items():
        if family not in FAMILIES:
            raise ConfigError(f"families.{family}: unknown family; known: {sorted(FAMILIES)}")
        check_hparams(family, hp, where=f"families.{family}")
    for name, spec in config["variants"].items():
        family = spec.get("family")
        if family not in config["families"]:
            raise ConfigError(
                f"variants.{name}.family: '{family}' is not defined under families "
                f"({sorted(config['families'])})"
            )
        hp = variant_hparams(config, name)
        hp.pop("family")
        check_hparams(family, hp, where=f"variants.{name}")
        arch_changed = [k for k in FAMILIES[family].ARCH_KEYS if hp[k] != config["families"][family][k]]
        if arch_changed:
            # The random-init baseline is built from the family's defaults; a variant with
            # another architecture would be compared with the wrong baseline.
            raise ConfigError(
                f"variants.{name}: overrides architecture key(s) {arch_changed}; define a new "
                f"family for another architecture so it gets its own random-init baseline"
            )
    for table, spec in config["tables"].items():
        for v in spec["variants"]:
            if v not in config["variants"]:
                raise ConfigError(f"tables.{table}.variants: '{v}' is not defined under variants")
    ref = config["tables"]["rq1_negative_strategies"]["reference"]
    if ref not in config["tables"]["rq1_negative_strategies"]["variants"]:
        raise ConfigError(f"tables.rq1_negative_strategies.reference: '{ref}' is not one of its variants")
    if len(set(config["seeds"])) != len(config["seeds"]):
        raise ConfigError(f"seeds: duplicates in {config['seeds']}")
    for dataset in (config["data"]["source"], config["data"]["target"]):
        if dataset not in config["data"]["md5"]:
            raise ConfigError(f"data.md5.{dataset}: no checksums for this dataset")
        if dataset not in config["data"]["mirrors"]:
            raise ConfigError(f"data.mirrors.{dataset}: no mirror list for this dataset")


def data_sources(config: dict, dataset: str) -> list[str]:
    """Where to look for a dataset's files: the local mirror alone when set, else the URLs."""
    if config.get("local_mirror"):
        return [str(Path(config["local_mirror"]) / dataset)]
    return list(config["data"]["mirrors"][dataset])
