"""Transfer job: the common linear probe on the frozen features of a pretrained model or of a
random init of its family, or, as the transfer control, on the target images' raw pixels."""

from __future__ import annotations

import dataclasses
import time
import typing
from pathlib import Path

import torch

from ffmodels import data as ffdata
from ffmodels.calibration import calibrate_running_statistics
from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.model import ModelJobSpec, new_model
from ffmodels.runtime import provenance
from ffmodels.names import is_control
from ffmodels.transfer import RawPixels, transfer
from ffmodels.variants import variant_hparams


@dataclasses.dataclass(frozen=True)
class ProbeSpec(ModelJobSpec):
    """The common probe of one model, pretrained (`model`) or the random init of its network.
    The network is rebuilt from `hp` (runtime), but the rerun trigger is `arch`, what shapes the
    untrained network: a training-only setting does not rerun a random init's probe, and a
    pretrained model's probe reruns when its model file does."""

    runtime: typing.ClassVar[dict] = {
        "hp": lambda smk: (
            {} if is_control(smk.wildcards.variant) else variant_hparams(smk.config, smk.wildcards.variant)
        )
    }

    # what it computes (the rule's params and wildcards)
    variant: str
    seed: int
    arch: dict  # what shapes the (untrained) network: the rerun trigger of a random init's probe
    transfer: dict  # config `transfer`
    code: dict
    hp: dict  # runtime: the resolved hyperparameters that build the network, with `family` ({} for a control)
    preset: str
    # files
    data: str  # the target task's splits
    log: str
    model: str | None = None  # None: the random init of hp's network for this seed
    calibration: str | None = None  # a calibrated random init: the source task's splits, to estimate its statistics on
    calibration_images: int | None = (
        None  # the first N source training images (config pretrain.train_subset; None: all)
    )
    metrics: str | None = None  # the transfer job's output
    json: str | None = None  # the sensitivity job's output
    settings: dict | None = None  # sensitivity: config `sensitivity`, one knob changed per entry


def probe_inputs(spec: ProbeSpec) -> tuple:
    """(device, data, model, source, status) of a probe job: the target splits on the device and
    the pretrained model or, without one, the random init of hp's network for this seed (source
    says which; status is the pretraining run's, so a collapsed run stays marked). The transfer
    control raw_pixels has no network: its features are the images as the probe receives them."""
    device = spec.setup()
    data = ffdata.load_splits(Path(spec.data), device, spec.transfer["train_subset"])
    if is_control(spec.variant):
        return device, data, RawPixels(), spec.variant, "ok"
    model = new_model(spec.hp, spec.seed, data["train_x"].shape[1], device)
    if spec.model is None and spec.calibration is not None:
        # The source training images the pretrained models saw (the same subset), in order.
        source = ffdata.load_splits(Path(spec.calibration), device, spec.calibration_images)
        calibrate_running_statistics(model, source["train_x"], spec.hp["batch_size"])
        return device, data, model, "calibrated_random_init", "ok"
    if spec.model is None:
        return device, data, model, "random_init", "ok"
    checkpoint = torch.load(spec.model, map_location=device, weights_only=True)
    model.load_state_dict(checkpoint["state_dict"])
    return device, data, model, "pretrained", checkpoint["status"]


def transfer_job(spec: ProbeSpec) -> None:
    """Probe a pretrained model or the random init of its network; write the metrics."""
    start = time.perf_counter()
    log = get_logger(spec.log)
    device, data, model, source, status = probe_inputs(spec)
    result = transfer(model, data, spec.transfer, spec.seed, spec.eval_batch_size)
    log.info(
        f"{spec.variant} seed {spec.seed}: best epoch {result['best_epoch']}, val {result['val_acc']:.4f}, "
        f"test {result['test_acc']:.4f}"
    )
    write_json(
        spec.metrics,
        {
            "variant": spec.variant,
            "family": spec.hp.get("family"),
            "seed": spec.seed,
            "preset": spec.preset,
            "hparams": spec.hp,
            "model": source,
            "status": status,
            "transfer_config": spec.transfer,
            "probe_train_images": len(data["train_x"]),
            **result,
            "provenance": provenance(device, time.perf_counter() - start),
        },
    )
