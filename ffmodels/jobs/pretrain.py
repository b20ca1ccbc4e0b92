"""Pretraining job: train a chunk of seeds of one variant on a task, save each seed's model, its
checkpoints and its metrics. The same job trained on the target task gives that family's target ceiling."""

from __future__ import annotations

import copy
import dataclasses
import os
import time
import typing
from pathlib import Path

import torch

from ffmodels import data as ffdata
from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.model import ModelJobSpec, new_model
from ffmodels.resume import ResumeFile, job_key
from ffmodels.runtime import provenance
from ffmodels.train import pretrain_chunk


def checkpoint_epochs(requested: list[int], epochs: int) -> list[int]:
    """The requested epochs that training reaches, always with 0 and the last epoch."""
    return sorted({e for e in requested if 0 <= e <= epochs} | {0, epochs})


def seed_chunks(seeds: list[int], size: int) -> list[list[int]]:
    """The seeds split into the chunks trained together: fixed by seed value (size 5: 0-4, 5-9,
    ...), so that adding seeds beyond a chunk adds jobs and leaves finished chunks untouched."""
    chunks: dict[int, list[int]] = {}
    for seed in sorted(set(seeds)):
        chunks.setdefault(seed // size, []).append(seed)
    return list(chunks.values())


def chunk_tag(seeds: list[int]) -> str:
    """The name of a chunk's rule, log, benchmark and resume file: seeds0-4 (consecutive seeds),
    seeds0_2_4 (others), seed3 (one seed); tools.cost reads the number of seeds from it."""
    if len(seeds) == 1:
        return f"seed{seeds[0]}"
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds{seeds[0]}-{seeds[-1]}"
    return "seeds" + "_".join(map(str, seeds))


@dataclasses.dataclass(frozen=True)
class PretrainSpec(ModelJobSpec):
    """A chunk of seeds of one variant trained on one task, together (ffmodels.lockstep; one
    seed for a family that trains alone): pretraining on the source, or, as the ceiling and
    fine-tuning jobs, on the target. Each file field holds one path per seed, in `seeds` order."""

    # what it computes (the rule's params and wildcards: a change reruns the job)
    variant: str
    seeds: list[int]
    hp: dict  # the variant's resolved hyperparameters, with `family`
    preset: str
    task: str  # the dataset trained on, as recorded in the metrics
    train_subset: int | None
    checkpoint_epochs: list[int]  # [] for no checkpoints file
    source_probe: dict | None  # the transfer probe config, for models without a classifier
    test_every_epoch: bool  # record the test accuracy after every epoch (a diagnostic, selects nothing)
    collapse: dict | None  # config stats.collapse: when a trained model counts as collapsed (ffmodels.collapse)
    code: dict  # digest of the ffmodels code it runs (ffmodels.codedeps)
    resume_file: str  # where the chunk's training state is kept (ffmodels.resume)
    # files
    data: str
    model: list[str]
    metrics: list[str]
    log: str
    checkpoints: list[str] | None = None  # per seed, one file: the model at each checkpoint epoch training reaches
    init: list[str] | None = None  # fine-tuning: the trained models to start from, not the seeds' inits
    # how it runs, besides ModelJobSpec's (ffmodels.jobs.spec.RUNTIME)
    resume: bool = True
    resume_every_s: float = 60.0  # config pretrain.resume_every_s

    # A one-seed rule names its seed by the {seed} wildcard, and one file of each kind.
    wildcard_fields: typing.ClassVar[dict] = {"seed": ("seeds", lambda v: [int(v)])}

    def __post_init__(self):
        for name in ("model", "metrics", "checkpoints", "init"):
            value = getattr(self, name)
            if isinstance(value, (str, os.PathLike)):
                object.__setattr__(self, name, [value])


def pretrain_job(spec: PretrainSpec) -> None:
    """Train the chunk's seeds, save each seed's model (and checkpoints) and metrics. The resume
    state is keyed by everything that defines the job, `code` and the seeds included, so a
    killed job continues from its last saved epoch and a state saved under other parameters is
    never resumed. A collapsed seed stores its rolled-back (last good) state for the later
    checkpoint epochs and says so."""
    start = time.perf_counter()
    log = get_logger(spec.log)
    hp, seeds = spec.hp, list(spec.seeds)
    device = spec.setup()
    data = ffdata.load_splits(Path(spec.data), device, spec.train_subset)
    models = [new_model(hp, seed, data["train_x"].shape[1], device) for seed in seeds]
    inits = list(spec.init) if spec.init else [None] * len(seeds)
    for model, init in zip(models, inits):
        if init is not None:
            model.load_state_dict(torch.load(init, map_location=device, weights_only=True)["state_dict"])
    log.info(f"{spec.variant} seeds {seeds} on {device}: {len(data['train_x'])} training images, hp {hp}")
    wanted = checkpoint_epochs(list(spec.checkpoint_epochs), hp["epochs"]) if spec.checkpoints else []
    resume = None
    if spec.resume:
        key = job_key(
            variant=spec.variant,
            hp=hp,
            seeds=seeds,
            data=ffdata.md5_of(Path(spec.data)),
            train_subset=spec.train_subset,
            checkpoint_at=wanted,
            probe=spec.source_probe,
            code=spec.code,
            test_every_epoch=spec.test_every_epoch,
            init=[ffdata.md5_of(Path(p)) for p in inits] if spec.init else None,
        )
        resume = ResumeFile(spec.resume_file, key, log=log.info)
    # per seed position, the kept checkpoint states, restored with the training state
    saved: dict[int, dict[int, dict]] = resume.extra if resume is not None else {}

    def keep(position, epoch, net):
        if epoch in wanted:
            saved.setdefault(position, {})[epoch] = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}

    results = pretrain_chunk(
        models,
        data,
        seeds,
        spec.eval_batch_size,
        log=log.info,
        on_epoch_end=keep,
        probe=spec.source_probe,
        resume=resume,
        test_every_epoch=spec.test_every_epoch,
        collapse=spec.collapse,
        resume_every_s=spec.resume_every_s,
    )
    wall = time.perf_counter() - start
    for i, (seed, model, result) in enumerate(zip(seeds, models, results)):
        final = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        # the status travels with the model: a probe of a collapsed model stays marked collapsed
        status = {"status": result["status"], "collapse_reason": result["collapse_reason"]}
        torch.save({"hp": hp, "seed": seed, **status, "state_dict": final}, spec.model[i])
        if spec.checkpoints is not None:
            states = {e: saved.get(i, {}).get(e, copy.deepcopy(final)) for e in wanted}
            torch.save(
                {
                    "hp": hp,
                    "seed": seed,
                    "status": result["status"],
                    "last_good_epoch": result["last_good_epoch"],
                    "epochs": wanted,
                    "states": states,
                },
                spec.checkpoints[i],
            )
        write_json(
            spec.metrics[i],
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
                # the wall time is the chunk's, every seed of chunk_seeds trained in it
                "provenance": {**provenance(device, wall), "chunk_seeds": seeds},
            },
        )
    if resume is not None:
        resume.clear()  # the outputs are complete
