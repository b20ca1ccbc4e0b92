"""Families, variants and random inits: the one place that turns the config's `families` and
`variants` into the hyperparameters a job runs with.

- A family block may name the family it `extends`: it starts from that family's resolved keys
  (those its own family class declares) and lists only its own keys and the values it changes.
  resolve_families runs once, after every overlay and --config value is merged, so a change to
  `families.ff` reaches every family that extends it.
- A family block may carry `tasks: {<dataset>: {<key>: value}}`: settings that hold when the
  family trains on that task (e.g. CwC-FF's published Fashion-MNIST schedule and input
  normalisation). Jobs that train on a task (pretraining on the source, the ceiling and
  fine-tuning on the target) ask for variant_hparams(config, variant, task); a family extending
  another inherits its per-task keys that it declares. Order: family, its task's settings, the
  variant's overrides.
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
from ffmodels.names import (  # noqa: F401 (re-exported)
    RANDOM_INIT_PREFIX,
    calibrated_name,
    is_calibrated,
    is_random_init,
    random_init_name,
    uncalibrated,
)

EXTENDS = "extends"
TASKS = "tasks"


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
            tasks = block.pop(TASKS, None) or {}
            if not isinstance(tasks, dict) or not all(isinstance(t, dict) for t in tasks.values()):
                raise ConfigError(f"families.{name}.{TASKS}: must map a dataset to the settings that hold on it")
            inherited = {}
            if parent is not None:
                if parent not in families:
                    raise ConfigError(
                        f"families.{name}.{EXTENDS}: '{parent}' is not defined under families ({sorted(families)})"
                    )
                if parent in chain:
                    raise ConfigError(f"families.{name}.{EXTENDS}: a cycle ({' -> '.join((*chain, parent))})")
                keep = declared_keys(name)
                resolved_parent = resolve(parent, (*chain, parent))
                inherited = {k: v for k, v in resolved_parent.items() if k in keep}
                for task, settings in resolved_parent.get(TASKS, {}).items():
                    tasks = {**tasks, task: {**{k: v for k, v in settings.items() if k in keep}, **tasks.get(task, {})}}
            resolved[name] = copy.deepcopy({**inherited, **block, **({TASKS: tasks} if tasks else {})})
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


def family_hparams(config: dict, family: str, task: str | None = None) -> dict:
    """A family's resolved hyperparameters, with its settings for `task` applied (none: as the
    block says), without `tasks` and `family`."""
    hp = copy.deepcopy(config["families"][family])
    per_task = hp.pop(TASKS, {})
    if task is not None:
        hp.update(copy.deepcopy(per_task.get(task, {})))
    return hp


def variant_hparams(config: dict, variant: str, task: str | None = None) -> dict:
    """The resolved hyperparameters a job of this variant (or random init) sees, with `family`;
    with `task`, those of a job that trains on that task (module doc)."""
    if is_random_init(variant):
        return _random_init_hparams(config, uncalibrated(variant)[len(RANDOM_INIT_PREFIX) :])
    spec = _spec(config, variant)
    family = spec.pop("family")
    hp = family_hparams(config, family, task)
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


def calibrated_init_of(config: dict, variant: str) -> str | None:
    """The calibrated random init a variant is also compared with (its untrained network with
    the normalisation statistics estimated on the source images), None for a family without
    running statistics."""
    base, _ = _network(config, variant)
    return calibrated_name(random_init_of(config, variant)) if FAMILIES[base].has_running_statistics else None


def _random_init_hparams(config: dict, name: str) -> dict:
    """random_init_<family>: the family's hyperparameters; random_init_<variant>: those of the
    family its untrained network belongs to, with the variant's architecture."""
    if name in config["families"]:
        return {**family_hparams(config, name), "family": name}
    base, arch = _network(config, name)
    return {**family_hparams(config, base), **copy.deepcopy(arch), "family": base}
