"""Analysis job: one root-cause metric (ffmodels.analysis) on one pretrained model's checkpoints."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ffmodels import data as ffdata
from ffmodels.analysis import METRICS, Context
from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.model import new_model, setup
from ffmodels.runtime import provenance


def analysis_job(metric: str, variant: str, seed: int, preset: str, checkpoints_path: str, source_path: str,
                 target_path: str, cfg: dict, tcfg: dict, eval_batch_size: int, device_name: str, threads: int,
                 out: str, log_path: str) -> None:
    start = time.perf_counter()
    log = get_logger(log_path)
    device = setup(device_name, threads)
    saved = torch.load(checkpoints_path, map_location=device, weights_only=True)
    hp = saved["hp"]
    source = ffdata.load_splits(Path(source_path), device)
    target = ffdata.load_splits(Path(target_path), device, tcfg["train_subset"])

    def make_model(state):
        model = new_model(hp, seed, source["train_x"].shape[1], device)
        model.load_state_dict(state)
        return model.eval()

    ctx = Context(epochs=saved["epochs"], states=saved["states"], make_model=make_model, source=source,
                  target=target, cfg=cfg, transfer=tcfg, seed=seed, batch_size=eval_batch_size)
    result = METRICS[metric].compute(ctx)
    log.info(f"{metric} {variant} seed {seed}: {result['final']}")
    write_json(out, {
        "metric": metric, "variant": variant, "family": hp["family"], "seed": seed, "preset": preset,
        "status": saved["status"], "epochs": saved["epochs"], **result,
        "provenance": provenance(device, time.perf_counter() - start),
    })
