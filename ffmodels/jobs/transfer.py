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


def transfer_job(variant: str, hp: dict, seed: int, preset: str, model_path: str | None, data_path: str,
                 tcfg: dict, eval_batch_size: int, device_name: str, threads: int, metrics_out: str,
                 log_path: str) -> None:
    """Probe a pretrained model (model_path) or, with model_path None, a random init of hp's family."""
    start = time.perf_counter()
    log = get_logger(log_path)
    device = setup(device_name, threads)
    data = ffdata.load_splits(Path(data_path), device, tcfg["train_subset"])
    model = new_model(hp, seed, data["train_x"].shape[1], device)
    source, status = "random_init", "ok"
    if model_path is not None:
        checkpoint = torch.load(model_path, map_location=device, weights_only=True)
        model.load_state_dict(checkpoint["state_dict"])
        source, status = "pretrained", checkpoint["status"]  # a collapsed source run stays marked
    result = transfer(model, data, tcfg, seed, eval_batch_size)
    log.info(f"{variant} seed {seed}: best epoch {result['best_epoch']}, val {result['val_acc']:.4f}, test {result['test_acc']:.4f}")
    write_json(metrics_out, {
        "variant": variant, "family": hp["family"], "seed": seed, "preset": preset, "hparams": hp,
        "model": source, "status": status, "transfer_config": tcfg, "probe_train_images": len(data["train_x"]),
        **result, "provenance": provenance(device, time.perf_counter() - start),
    })
