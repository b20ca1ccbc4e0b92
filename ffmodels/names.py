"""Names and facts that every layer reads: random_init_<name> is the untrained network of a
family or of a variant's architecture (ffmodels.variants says which); random_init_<name>_calibrated
is the same network with its normalisation statistics estimated on the source training images
(families with running statistics, e.g. CwC-FF's BatchNorm); raw_pixels is the transfer control
(the probe on the target images, no network); and the label slot of a
label-input model's input. A leaf module, so that tables and figures read them without
importing the model code (and torch)."""

from __future__ import annotations

RANDOM_INIT_PREFIX = "random_init_"
# The transfer control (config transfer_control): the common probe on the target images' raw
# pixels, a probe job with no network (ffmodels.transfer.RawPixels) and no pretraining.
RAW_PIXELS = "raw_pixels"
CONTROLS = (RAW_PIXELS,)
CALIBRATED_SUFFIX = "_calibrated"
N_LABEL_PIXELS = 10  # the label slot: the first 10 input pixels carry the label (PROTOCOL section 3)


def is_random_init(name: str) -> bool:
    return name.startswith(RANDOM_INIT_PREFIX)


def is_control(name: str) -> bool:
    return name in CONTROLS


def needs_pretraining(name: str) -> bool:
    """Whether a run's probe reads a pretrained model (not a random init, not a control)."""
    return not (is_random_init(name) or is_control(name))


def random_init_name(name: str) -> str:
    return RANDOM_INIT_PREFIX + name


def calibrated_name(random_init: str) -> str:
    return random_init + CALIBRATED_SUFFIX


def is_calibrated(name: str) -> bool:
    return is_random_init(name) and name.endswith(CALIBRATED_SUFFIX)


def uncalibrated(name: str) -> str:
    """The random init a calibrated one starts from (the name itself for any other run)."""
    return name[: -len(CALIBRATED_SUFFIX)] if is_calibrated(name) else name


def stage_file(stage: str, run: str, seed: int) -> str:
    """The result file of one run of a stage, relative to the workflow folder (a training or probe
    stage, the protocol sensitivity, or an analysis metric); a published run keeps the same paths
    in its metrics.tar.gz."""
    if stage in ("pretrain", "transfer", "ceiling", "finetune"):
        return f"results/{stage}/{run}/seed{seed}/metrics.json"
    if stage == "sensitivity":
        return f"results/sensitivity/{run}/seed{seed}.json"
    return f"results/analysis/{stage}/{run}/seed{seed}.json"
