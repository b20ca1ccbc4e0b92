"""Pretraining job: train one (variant, seed) on a task, save the model, its checkpoints and
its metrics. The same job trained on the target task gives that family's target ceiling."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch

from ffmodels import data as ffdata
from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.model import new_model, setup
from ffmodels.resume import ResumeFile, job_key
from ffmodels.runtime import provenance
from ffmodels.train import pretrain


def checkpoint_epochs(requested: list[int], epochs: int) -> list[int]:
    """The requested epochs that training reaches, always with 0 and the last epoch."""
    return sorted({e for e in requested if 0 <= e <= epochs} | {0, epochs})


def pretrain_job(variant: str, hp: dict, seed: int, preset: str, data_path: str, train_subset: int | None,
                 eval_batch_size: int, device_name: str, threads: int, model_out: str, metrics_out: str,
                 log_path: str, checkpoints_out: str | None = None, checkpoint_at: list[int] = (),
                 probe: dict | None = None, task: str | None = None, resume_path: str | None = None,
                 code: dict | None = None, init_path: str | None = None) -> None:
    """task: the dataset trained on, as recorded in the metrics. resume_path: where the
    training state is kept after every epoch (ffmodels.resume), so that a killed job continues
    from its last epoch; keyed by everything that defines the job, `code` (the digest of the
    code it runs) included. init_path: a trained model to start from (fine-tuning) instead of
    the seed's random init. checkpoints_out: one file holding the model's state at each epoch of checkpoint_at that
    training reaches; a collapsed run stores its rolled-back (last good) state for the later
    epochs and says so. probe: the transfer probe config, for models without a classifier."""
    start = time.perf_counter()
    log = get_logger(log_path)
    device = setup(device_name, threads)
    data = ffdata.load_splits(Path(data_path), device, train_subset)
    model = new_model(hp, seed, data["train_x"].shape[1], device)
    if init_path is not None:
        model.load_state_dict(torch.load(init_path, map_location=device, weights_only=True)["state_dict"])
    log.info(f"{variant} seed {seed} on {device}: {len(data['train_x'])} training images, hp {hp}")
    wanted = checkpoint_epochs(list(checkpoint_at), hp["epochs"])
    resume = None
    if resume_path is not None:
        key = job_key(variant=variant, hp=hp, seed=seed, data=ffdata.md5_of(Path(data_path)), train_subset=train_subset,
                      checkpoint_at=wanted, probe=probe, code=code,
                      init=ffdata.md5_of(Path(init_path)) if init_path else None)
        resume = ResumeFile(resume_path, key, log=log.info)
    saved: dict[int, dict] = resume.extra if resume is not None else {}  # restored with the training state

    def keep(epoch, net):
        if epoch in wanted:
            saved[epoch] = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}

    result = pretrain(model, data, seed, eval_batch_size, log=log.info, on_epoch_end=keep, probe=probe, resume=resume)
    final = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"hp": hp, "seed": seed, "status": result["status"], "state_dict": final}, model_out)
    if checkpoints_out is not None:
        states = {e: saved.get(e, copy.deepcopy(final)) for e in wanted}
        torch.save({"hp": hp, "seed": seed, "status": result["status"],
                    "last_good_epoch": result["last_good_epoch"], "epochs": wanted, "states": states},
                   checkpoints_out)
    write_json(metrics_out, {
        "variant": variant, "family": hp["family"], "seed": seed, "preset": preset, "hparams": hp,
        "task": task, "init": "pretrained" if init_path else "random_init", "train_images": len(data["train_x"]), "checkpoint_epochs": wanted, **result,
        "provenance": provenance(device, time.perf_counter() - start),
    })
    if resume is not None:
        resume.clear()  # the outputs are complete
