"""Names and facts that every layer reads: random_init_<name> is the untrained network of a
family or of a variant's architecture (ffmodels.variants says which), and the label slot of a
label-input model's input. A leaf module, so that tables and figures read them without
importing the model code (and torch)."""

from __future__ import annotations

RANDOM_INIT_PREFIX = "random_init_"
N_LABEL_PIXELS = 10  # the label slot: the first 10 input pixels carry the label (PROTOCOL section 3)


def is_random_init(name: str) -> bool:
    return name.startswith(RANDOM_INIT_PREFIX)


def random_init_name(name: str) -> str:
    return RANDOM_INIT_PREFIX + name
