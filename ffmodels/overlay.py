"""Nested dictionaries merged key by key: a preset over config.yaml, a sensitivity setting over
the protocol's transfer config. Kept apart from ffmodels.config so that a job applying an
overlay depends on this alone, not on everything the config checks import."""

from __future__ import annotations

import copy


def merge(base: dict, overlay: dict) -> dict:
    """base with overlay merged in, nested dicts key by key (Snakemake's update_config rule)."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merge(out[key], value) if nested else copy.deepcopy(value)
    return out
