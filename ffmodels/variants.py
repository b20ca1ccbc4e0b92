"""Variants and their hyperparameters: a variant is a family plus overrides; random_init_<family>
is the untrained network of a family. Jobs import this, not ffmodels.config, so that a job's
code (see ffmodels.codedeps) does not include the config and table checks."""

from __future__ import annotations

import copy

from ffmodels.errors import ConfigError

RANDOM_INIT_PREFIX = "random_init_"


def is_random_init(name: str) -> bool:
    return name.startswith(RANDOM_INIT_PREFIX)


def random_init_name(family: str) -> str:
    return RANDOM_INIT_PREFIX + family


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
