"""Hyperparameter types with their domains, checked before any job runs.

A family's hyperparameters are a dataclass (ffmodels.families); each field's annotation is its
type and, through typing.Annotated, the values it allows, so the domain sits beside the field it
constrains, and a family's HParams class (a subclass of Checked) refuses on construction any
value outside it, with the key, the value and what is allowed:

    lr: PositiveFloat          # a finite number > 0
    mask_keep: Annotated[float, Domain(0, 1, low_open=True)]   # in (0, 1]

Every float is finite (YAML's .nan and .inf are refused), whatever its domain.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Annotated


@dataclasses.dataclass(frozen=True)
class Domain:
    """The allowed range of a number (low/high, each bound closed unless *_open), or the least
    number of items of a list."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    min_items: int = 0

    def allows(self, value) -> bool:
        if isinstance(value, list):
            return len(value) >= self.min_items
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        if self.min_items:
            return f"a list of at least {self.min_items} item{'s' if self.min_items > 1 else ''}"
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return f"{'<' if self.high_open else '<='} {self.high}"


PositiveInt = Annotated[int, Domain(low=1)]
NonNegativeInt = Annotated[int, Domain(low=0)]
PositiveFloat = Annotated[float, Domain(low=0, low_open=True)]
NonNegativeFloat = Annotated[float, Domain(low=0)]
UnitInterval = Annotated[float, Domain(0, 1)]  # [0, 1]
LayerSizes = Annotated[list[PositiveInt], Domain(min_items=1)]  # one positive width per layer


def problem(value, annotation) -> str | None:
    """Why `value` is not a valid `annotation` (None when it is): the wrong type, a non-finite
    number, or a value outside the annotated Domain; list items are checked one by one."""
    domains = []
    if typing.get_origin(annotation) is Annotated:
        annotation, *meta = typing.get_args(annotation)
        domains = [m for m in meta if isinstance(m, Domain)]
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        if not isinstance(value, list):
            return f"{value!r} is not a list"
        for i, v in enumerate(value):
            why = problem(v, item)
            if why:
                return f"item {i}: {why}"
    elif origin is typing.Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            return f"{value!r} is not one of {list(allowed)}"
    elif annotation is float or annotation is int:
        if isinstance(value, bool) or not isinstance(value, (int, float) if annotation is float else int):
            hint = ""
            if isinstance(value, str):
                hint = " (YAML reads a number like 1e-3 as text: write 1.0e-3)" if _is_number(value) else ""
            return f"{value!r} is not {'a number' if annotation is float else 'an integer'}{hint}"
        if not math.isfinite(value):
            return f"{value!r} is not a finite number"
    elif not isinstance(value, annotation):
        return f"{value!r} is not a {annotation.__name__}"
    for domain in domains:
        if not domain.allows(value):
            return f"{value!r} is not allowed: must be {domain.describe()}"
    return None


@dataclasses.dataclass(frozen=True)
class Checked:
    """Base of every family's HParams dataclass: construction checks each field against its
    annotation (problem) and raises ValueError('<key>: <why>'). A subclass with cross-field
    checks calls super().__post_init__() first."""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self), include_extras=True)
        for field in dataclasses.fields(self):
            why = problem(getattr(self, field.name), hints[field.name])
            if why:
                raise ValueError(f"{field.name}: {why}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
