"""Model families. A family is a class registered with @register; its hyperparameters are a
dataclass whose fields are exactly the keys of `families.<name>` in config.yaml (after its
`extends`, ffmodels.variants), each annotated with its type and domain (ffmodels.hparams).

To add a variant with a new learning rule: add one module here (it is imported automatically)
with a @register'd subclass, and a `families.<name>` block in config.yaml (for an FF variant,
`extends: ff` plus its own keys); the family is then a variant of its own name (docs/extending.md).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

from ffmodels.errors import ConfigError

FAMILIES: dict[str, type] = {}


def register(cls):
    FAMILIES[cls.family] = cls
    return cls


def check_hparams(family: str, hp: dict, where: str) -> None:
    """Raise ConfigError unless `hp` has exactly the family's keys, each of its type and in its domain."""
    cls = FAMILIES[family].HParams
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(hp) - fields)
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}: unknown hyperparameter for family '{family}'; known: {sorted(fields)}"
        )
    missing = sorted(fields - set(hp))
    if missing:
        raise ConfigError(f"{where}.{missing[0]}: missing hyperparameter for family '{family}'")
    try:
        cls(**hp)  # types and domains of every field (ffmodels.hparams.Checked), then cross-field checks
    except ValueError as err:
        raise ConfigError(f"{where}.{err}") from None


def build(hp: dict, in_dim: int, n_classes: int):
    """Instantiate the family named in hp['family'] (call torch.manual_seed first)."""
    hp = dict(hp)
    cls = FAMILIES[hp.pop("family")]
    return cls(cls.HParams(**hp), in_dim=in_dim, n_classes=n_classes)


for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
