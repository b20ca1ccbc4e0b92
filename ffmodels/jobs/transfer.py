"""Transfer job: the common linear probe on the frozen features of a pretrained model or of a
random init of its family."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ffmodels import data as ffdata
from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.model import new_model, setup
from ffmodels.runtime import provenance
from ffmodels.transfer import transfer


def probe_inputs(hp: dict, seed: int, model_path: str | None, data_path: str, train_subset: int | None,
                 device_name: str, threads: int) -> tuple:
    """(device, data, model, source, status) of a probe job: the target splits on the device and
    the pretrained model at model_path or, with None, the random init of hp's family for this
    seed (source says which; status is the pretraining run's, so a collapsed run stays marked)."""
    device = setup(device_name, threads)
    data = ffdata.load_splits(Path(data_path), device, train_subset)
    model = new_model(hp, seed, data["train_x"].shape[1], device)
    if model_path is None:
        return device, data, model, "random_init", "ok"
    checkpoint = torch.load(model_path, map_location=device, weights_only=True)
    model.load_state_dict(checkpoint["state_dict"])
    return device, data, model, "pretrained", checkpoint["status"]


def transfer_job(variant: str, hp: dict, seed: int, preset: str, model_path: str | None, data_path: str,
                 tcfg: dict, eval_batch_size: int, device_name: str, threads: int, metrics_out: str,
                 log_path: str) -> None:
    """Probe a pretrained model (model_path) or, with model_path None, a random init of hp's family."""
    start = time.perf_counter()
    log = get_logger(log_path)
    device, data, model, source, status = probe_inputs(hp, seed, model_path, data_path, tcfg["train_subset"],
                                                       device_name, threads)
    result = transfer(model, data, tcfg, seed, eval_batch_size)
    log.info(f"{variant} seed {seed}: best epoch {result['best_epoch']}, val {result['val_acc']:.4f}, test {result['test_acc']:.4f}")
    write_json(metrics_out, {
        "variant": variant, "family": hp["family"], "seed": seed, "preset": preset, "hparams": hp,
        "model": source, "status": status, "transfer_config": tcfg, "probe_train_images": len(data["train_x"]),
        **result, "provenance": provenance(device, time.perf_counter() - start),
    })
