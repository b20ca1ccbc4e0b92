"""Analysis job: one root-cause metric (ffmodels.analysis) on one pretrained model's checkpoints."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from ffmodels import data as ffdata
from ffmodels.analysis import METRICS, Context
from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.model import new_model, setup
from ffmodels.jobs.spec import JobSpec
from ffmodels.runtime import provenance


@dataclasses.dataclass(frozen=True)
class AnalysisSpec(JobSpec):
    """One root-cause metric on one pretrained model's checkpoints."""

    # what it computes (the rule's params and wildcards)
    metric: str
    variant: str
    seed: int
    preset: str
    analysis: dict  # config `analysis`
    transfer: dict | None  # config `transfer`, for the metrics that probe or fill the label slot
    code: dict
    # files
    checkpoints: str
    source: str
    target: str
    result: str
    log: str
    # how it runs
    device: str = "cpu"
    cuda_tf32: bool = False  # config cuda_tf32 (ffmodels.jobs.model.setup)
    eval_batch_size: int = 1000
    threads: int = 1


def analysis_job(spec: AnalysisSpec) -> None:
    start = time.perf_counter()
    log = get_logger(spec.log)
    metric, variant, seed = spec.metric, spec.variant, spec.seed
    device = setup(spec.device, spec.threads, spec.cuda_tf32)
    saved = torch.load(spec.checkpoints, map_location=device, weights_only=True)
    hp = saved["hp"]
    tcfg = spec.transfer
    source = ffdata.load_splits(Path(spec.source), device)
    target = ffdata.load_splits(Path(spec.target), device, tcfg["train_subset"] if tcfg else None)

    def make_model(state):
        model = new_model(hp, seed, source["train_x"].shape[1], device)
        model.load_state_dict(state)
        return model.eval()

    ctx = Context(
        epochs=saved["epochs"],
        states=saved["states"],
        make_model=make_model,
        source=source,
        target=target,
        cfg=spec.analysis,
        transfer=tcfg,
        seed=seed,
        batch_size=spec.eval_batch_size,
    )
    result = METRICS[metric].compute(ctx)
    log.info(f"{metric} {variant} seed {seed}: {result['final']}")
    write_json(
        spec.result,
        {
            "metric": metric,
            "variant": variant,
            "family": hp["family"],
            "seed": seed,
            "preset": spec.preset,
            "status": saved["status"],
            "epochs": saved["epochs"],
            **result,
            "provenance": provenance(device, time.perf_counter() - start),
        },
    )
