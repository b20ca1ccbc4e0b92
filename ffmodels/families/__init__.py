"""Model families. A family is a class registered with @register; its hyperparameters are a
dataclass whose fields are exactly the keys of `families.<name>` in config.yaml.

To add a variant with a new learning rule: add one module here (it is imported automatically)
with a @register'd subclass, and a `families.<name>` block plus variants in config.yaml.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing

from ffmodels.errors import ConfigError

FAMILIES: dict[str, type] = {}


def register(cls):
    FAMILIES[cls.family] = cls
    return cls


def _type_ok(value, annotation) -> bool:
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, annotation)


def check_hparams(family: str, hp: dict, where: str) -> None:
    """Raise ConfigError unless `hp` has exactly the family's keys with the declared types."""
    cls = FAMILIES[family].HParams
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(hp) - fields)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown hyperparameter for family '{family}'; known: {sorted(fields)}")
    missing = sorted(fields - set(hp))
    if missing:
        raise ConfigError(f"{where}.{missing[0]}: missing hyperparameter for family '{family}'")
    for key, value in hp.items():
        if not _type_ok(value, hints[key]):
            raise ConfigError(f"{where}.{key}: {value!r} is not a valid {hints[key]}")
    try:
        cls(**hp)  # the family's own cross-field checks (__post_init__)
    except ValueError as err:
        raise ConfigError(f"{where}.{err}") from None


def build(hp: dict, in_dim: int, n_classes: int):
    """Instantiate the family named in hp['family'] (call torch.manual_seed first)."""
    hp = dict(hp)
    cls = FAMILIES[hp.pop("family")]
    return cls(cls.HParams(**hp), in_dim=in_dim, n_classes=n_classes)


for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
