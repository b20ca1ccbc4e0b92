"""Families, variants and random inits: the one place that turns the config's `families` and
`variants` into the hyperparameters a job runs with.

- A family block may name the family it `extends`: it starts from that family's resolved keys
  (those its own family class declares) and lists only its own keys and the values it changes.
  resolve_families runs once, after every overlay and --config value is merged, so a change to
  `families.ff` reaches every family that extends it.
- A variant is a family plus overrides (`variants.<name>`); every family is also a variant of
  its own name, with no overrides.
- random_init_<name> is an untrained network, keyed by what shapes it: the family whose
  untrained network it is (a family's `baseline_family`, else the family itself) and that
  family's architecture keys. With the family's own architecture it is random_init_<family>;
  a variant that changes an architecture key (e.g. prospective_t3, iterations 3) gets
  random_init_<variant>, shared with every variant of the same network (the first by name).

Jobs import this, not ffmodels.config, so that a job's code (see ffmodels.codedeps) does not
include the config and table checks.
"""

from __future__ import annotations

import copy
import dataclasses

from ffmodels.errors import ConfigError
from ffmodels.families import FAMILIES
from ffmodels.names import RANDOM_INIT_PREFIX, is_random_init, random_init_name  # noqa: F401 (re-exported)

EXTENDS = "extends"


def declared_keys(family: str) -> set[str]:
    return {f.name for f in dataclasses.fields(FAMILIES[family].HParams)}


def resolve_families(families: dict) -> dict:
    """Every family block with what it inherits through `extends` (no `extends` key left); every
    name under `families` must be a registered family (ffmodels.config.resolve checks that first)."""
    resolved: dict[str, dict] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> dict:
        if name not in resolved:
            block = dict(families[name])
            parent = block.pop(EXTENDS, None)
            inherited = {}
            if parent is not None:
                if parent not in families:
                    raise ConfigError(f"families.{name}.{EXTENDS}: '{parent}' is not defined under families "
                                      f"({sorted(families)})")
                if parent in chain:
                    raise ConfigError(f"families.{name}.{EXTENDS}: a cycle ({' -> '.join((*chain, parent))})")
                keep = declared_keys(name)
                inherited = {k: v for k, v in resolve(parent, (*chain, parent)).items() if k in keep}
            resolved[name] = copy.deepcopy({**inherited, **block})
        return resolved[name]

    return {name: resolve(name, (name,)) for name in families}


def variant_names(config: dict) -> list[str]:
    """Every variant: those under `variants`, then each family not named there."""
    return [*config["variants"], *(f for f in config["families"] if f not in config["variants"])]


def _spec(config: dict, variant: str) -> dict:
    if variant in config["variants"]:
        return dict(config["variants"][variant])
    if variant in config["families"]:
        return {"family": variant}
    raise ConfigError(f"variants.{variant}: no such variant (nor a family of that name) in the config")


def variant_hparams(config: dict, variant: str) -> dict:
    """The resolved hyperparameters a job of this variant (or random init) sees, with `family`."""
    if is_random_init(variant):
        return _random_init_hparams(config, variant[len(RANDOM_INIT_PREFIX):])
    spec = _spec(config, variant)
    family = spec.pop("family")
    hp = copy.deepcopy(config["families"][family])
    hp.update(copy.deepcopy(spec))
    hp["family"] = family
    return hp


def _network(config: dict, variant: str) -> tuple[str, dict]:
    """(family, architecture) of a variant's untrained network."""
    family = FAMILIES[_spec(config, variant)["family"]]
    base = family.baseline_family or family.family
    hp = variant_hparams(config, variant)
    return base, {k: hp[k] for k in FAMILIES[base].ARCH_KEYS}


def random_init_of(config: dict, variant: str) -> str:
    """The random-init baseline a variant is compared with (module doc)."""
    base, arch = _network(config, variant)
    if all(config["families"][base][k] == v for k, v in arch.items()):
        return random_init_name(base)
    twins = sorted(v for v in variant_names(config) if _network(config, v) == (base, arch))
    return random_init_name(twins[0])


def _random_init_hparams(config: dict, name: str) -> dict:
    """random_init_<family>: the family's hyperparameters; random_init_<variant>: those of the
    family its untrained network belongs to, with the variant's architecture."""
    if name in config["families"]:
        return {**copy.deepcopy(config["families"][name]), "family": name}
    base, arch = _network(config, name)
    return {**copy.deepcopy(config["families"][base]), **copy.deepcopy(arch), "family": base}
