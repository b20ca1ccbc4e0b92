"""Names and facts that every layer reads: random_init_<name> is the untrained network of a
family or of a variant's architecture (ffmodels.variants says which); random_init_<name>_calibrated
is the same network with its normalisation statistics estimated on the source training images
(families with running statistics, e.g. CwC-FF's BatchNorm); and the label slot of a
label-input model's input. A leaf module, so that tables and figures read them without
importing the model code (and torch)."""

from __future__ import annotations

RANDOM_INIT_PREFIX = "random_init_"
CALIBRATED_SUFFIX = "_calibrated"
N_LABEL_PIXELS = 10  # the label slot: the first 10 input pixels carry the label (PROTOCOL section 3)


def is_random_init(name: str) -> bool:
    return name.startswith(RANDOM_INIT_PREFIX)


def random_init_name(name: str) -> str:
    return RANDOM_INIT_PREFIX + name


def calibrated_name(random_init: str) -> str:
    return random_init + CALIBRATED_SUFFIX


def is_calibrated(name: str) -> bool:
    return is_random_init(name) and name.endswith(CALIBRATED_SUFFIX)


def uncalibrated(name: str) -> str:
    """The random init a calibrated one starts from (the name itself for any other run)."""
    return name[: -len(CALIBRATED_SUFFIX)] if is_calibrated(name) else name
