"""Analysis job: one root-cause metric (ffmodels.analysis) on one pretrained model's checkpoints,
or on a random init (random_init_<name>: the untrained network of that architecture for the seed,
as its probe job builds it), analysed as a model with one checkpoint, epoch 0."""

from __future__ import annotations

import dataclasses
import time
import typing
from pathlib import Path

import torch

from ffmodels import data as ffdata
from ffmodels.analysis import METRICS, Context, MetricConfig
from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.model import ModelJobSpec, new_model
from ffmodels.names import is_calibrated, is_random_init
from ffmodels.runtime import provenance
from ffmodels.variants import variant_hparams


@dataclasses.dataclass(frozen=True)
class AnalysisSpec(ModelJobSpec):
    """One root-cause metric on one pretrained model's checkpoints, or on a random init (no
    checkpoints: the network is rebuilt from `hp` for the seed; its rerun trigger is `arch`, what
    shapes the untrained network, as for its probe job)."""

    runtime: typing.ClassVar[dict] = {
        "hp": lambda smk: (
            variant_hparams(smk.config, smk.wildcards.variant) if is_random_init(smk.wildcards.variant) else None
        )
    }

    # what it computes (the rule's params and wildcards)
    metric: str
    variant: str
    seed: int
    preset: str
    analysis: dict  # config `analysis`: the keys the metric declares (ffmodels.analysis analysis_keys)
    transfer: dict  # config `transfer`: the keys the metric declares (transfer_keys; none for most)
    code: dict
    # files
    source: str
    target: str
    result: str
    log: str
    checkpoints: str | None = None  # None: a random init
    arch: dict | None = None  # a random init: what shapes its network (the rerun trigger)
    hp: dict | None = None  # runtime, a random init: the hyperparameters that build its network


def analysis_job(spec: AnalysisSpec) -> None:
    start = time.perf_counter()
    log = get_logger(spec.log)
    metric, variant, seed = spec.metric, spec.variant, spec.seed
    device = spec.setup()
    source = ffdata.load_splits(Path(spec.source), device)
    tcfg = MetricConfig(metric, "transfer", spec.transfer)
    # the probe's train images, where the metric reads them (an unset subset: all)
    target = ffdata.load_splits(Path(spec.target), device, tcfg["train_subset"] if "train_subset" in tcfg else None)
    if spec.checkpoints is None:  # a random init: its untrained network, the one checkpoint
        if is_calibrated(variant):
            raise ValueError(
                f"{variant}: a calibrated random init is not analysed (its statistics need the source pass)"
            )
        untrained = new_model(spec.hp, seed, source["train_x"].shape[1], device)
        saved = {"hp": spec.hp, "epochs": [0], "states": {0: untrained.state_dict()}, "status": "ok"}
    else:
        saved = torch.load(spec.checkpoints, map_location=device, weights_only=True)
    hp = saved["hp"]

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
        cfg=MetricConfig(metric, "analysis", spec.analysis),
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
