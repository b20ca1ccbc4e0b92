"""Pretraining job: train one (variant, seed) on a task, save the model, its checkpoints and
its metrics. The same job trained on the target task gives that family's target ceiling."""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path

import torch

from ffmodels import data as ffdata
from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.model import new_model, setup
from ffmodels.jobs.spec import JobSpec
from ffmodels.resume import ResumeFile, job_key
from ffmodels.runtime import provenance
from ffmodels.train import pretrain


def checkpoint_epochs(requested: list[int], epochs: int) -> list[int]:
    """The requested epochs that training reaches, always with 0 and the last epoch."""
    return sorted({e for e in requested if 0 <= e <= epochs} | {0, epochs})


@dataclasses.dataclass(frozen=True)
class PretrainSpec(JobSpec):
    """One (variant, seed) trained on one task: pretraining on the source, or, as the ceiling
    and fine-tuning jobs, on the target."""

    # what it computes (the rule's params and wildcards: a change reruns the job)
    variant: str
    seed: int
    hp: dict  # the variant's resolved hyperparameters, with `family`
    preset: str
    task: str  # the dataset trained on, as recorded in the metrics
    train_subset: int | None
    checkpoint_epochs: list[int]  # [] for no checkpoints file
    source_probe: dict | None  # the transfer probe config, for models without a classifier
    test_every_epoch: bool  # record the test accuracy after every epoch (a diagnostic, selects nothing)
    collapse: dict | None  # config stats.collapse: when a trained model counts as collapsed (ffmodels.collapse)
    code: dict  # digest of the ffmodels code it runs (ffmodels.codedeps)
    resume_file: str  # where the training state is kept after every epoch (ffmodels.resume)
    # files
    data: str
    model: str
    metrics: str
    log: str
    checkpoints: str | None = None  # one file: the model at each checkpoint epoch training reaches
    init: str | None = None  # fine-tuning: the trained model to start from, not the seed's init
    # how it runs (ffmodels.jobs.spec.RUNTIME)
    device: str = "cpu"
    eval_batch_size: int = 1000
    threads: int = 1
    resume: bool = True


def pretrain_job(spec: PretrainSpec) -> None:
    """Train, save the model (and checkpoints) and the metrics. The resume state is keyed by
    everything that defines the job, `code` included, so a killed job continues from its last
    epoch and a state saved under other parameters is never resumed. A collapsed run stores its
    rolled-back (last good) state for the later checkpoint epochs and says so."""
    start = time.perf_counter()
    log = get_logger(spec.log)
    hp, seed = spec.hp, spec.seed
    device = setup(spec.device, spec.threads)
    data = ffdata.load_splits(Path(spec.data), device, spec.train_subset)
    model = new_model(hp, seed, data["train_x"].shape[1], device)
    if spec.init is not None:
        model.load_state_dict(torch.load(spec.init, map_location=device, weights_only=True)["state_dict"])
    log.info(f"{spec.variant} seed {seed} on {device}: {len(data['train_x'])} training images, hp {hp}")
    wanted = checkpoint_epochs(list(spec.checkpoint_epochs), hp["epochs"]) if spec.checkpoints else []
    resume = None
    if spec.resume:
        key = job_key(
            variant=spec.variant,
            hp=hp,
            seed=seed,
            data=ffdata.md5_of(Path(spec.data)),
            train_subset=spec.train_subset,
            checkpoint_at=wanted,
            probe=spec.source_probe,
            code=spec.code,
            test_every_epoch=spec.test_every_epoch,
            init=ffdata.md5_of(Path(spec.init)) if spec.init else None,
        )
        resume = ResumeFile(spec.resume_file, key, log=log.info)
    saved: dict[int, dict] = resume.extra if resume is not None else {}  # restored with the training state

    def keep(epoch, net):
        if epoch in wanted:
            saved[epoch] = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}

    result = pretrain(
        model,
        data,
        seed,
        spec.eval_batch_size,
        log=log.info,
        on_epoch_end=keep,
        probe=spec.source_probe,
        resume=resume,
        test_every_epoch=spec.test_every_epoch,
        collapse=spec.collapse,
    )
    final = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    # the status travels with the model: a probe of a collapsed model stays marked collapsed
    torch.save(
        {
            "hp": hp,
            "seed": seed,
            "status": result["status"],
            "collapse_reason": result["collapse_reason"],
            "state_dict": final,
        },
        spec.model,
    )
    if spec.checkpoints is not None:
        states = {e: saved.get(e, copy.deepcopy(final)) for e in wanted}
        torch.save(
            {
                "hp": hp,
                "seed": seed,
                "status": result["status"],
                "last_good_epoch": result["last_good_epoch"],
                "epochs": wanted,
                "states": states,
            },
            spec.checkpoints,
        )
    write_json(
        spec.metrics,
        {
            "variant": spec.variant,
            "family": hp["family"],
            "seed": seed,
            "preset": spec.preset,
            "hparams": hp,
            "task": spec.task,
            "init": "pretrained" if spec.init else "random_init",
            "train_images": len(data["train_x"]),
            "checkpoint_epochs": wanted,
            **result,
            "provenance": provenance(device, time.perf_counter() - start),
        },
    )
    if resume is not None:
        resume.clear()  # the outputs are complete
