"""Root-cause analyses (RQ3, PROTOCOL section 5): metrics computed on a pretrained model's
checkpoints, one module per metric, registered with @metric and imported automatically.

A metric class declares `applies(family_cls)` (e.g. only label-input models: where the RQ3
tables read it), the config it reads (`analysis_keys` and `transfer_keys`, the keys of config
`analysis` and `transfer`: its job gets those alone, so that a change to another key does not
rerun it), and `compute(ctx) -> dict` returning

    {"curves": {name: [value at each checkpoint epoch]},   # over training
     "final": {name: value},                                # at the end of training (the table)
     "epochs": [...],  # optional: the checkpoints the curves are at, when not all of them
     ...}                                                   # anything else worth keeping

The table kinds `root_cause` and `over_training` read "final" and "curves"; the kind
`hypothesis` reads "final" on every model where the metric is `measurable` (a label metric with a
label-blind reading, `reads_label_blind`, also on models without a label input). A random init
is analysed as a model with one checkpoint, epoch 0 (ffmodels.jobs.analysis).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import torch

METRICS: dict[str, type] = {}


def metric(name: str):
    def deco(cls):
        cls.name = name
        METRICS[name] = cls
        return cls

    return deco


class LabelInputMetric:
    """Base of the metrics that read the label slot: they apply to label-input models only and
    need no transfer config. One with `reads_label_blind` can also be read on a model without a
    label input, the same one-hot written into the same 10 input pixels (ordinary image pixels
    for that model): the level a label-blind network gives, the floor of the label metric."""

    transfer_keys: tuple[str, ...] = ()  # the label slot is theirs to fill: no probe setting
    reads_label_blind = False

    @staticmethod
    def applies(family) -> bool:
        return family.uses_label_input


class MetricConfig(dict):
    """The keys of one config block (`analysis` or `transfer`) that a metric declared
    (`analysis_keys`, `transfer_keys`): its job's params, so that a change to another key does not
    rerun it. Reading an undeclared key is an error that says what to declare, not a rerun
    trigger silently missed."""

    def __init__(self, metric_name: str, block: str, values: dict):
        self.metric_name, self.block = metric_name, block
        super().__init__({k: values[k] for k in self.declared()})

    def declared(self) -> tuple[str, ...]:
        return getattr(METRICS[self.metric_name], f"{self.block}_keys")

    def __missing__(self, key):
        raise KeyError(
            f"metric {self.metric_name} reads config {self.block}.{key}, which is not in its {self.block}_keys "
            f"{self.declared()}: add it there, so that a change to it reruns the metric"
        )


def measurable(metric_cls, family) -> bool:
    """Whether a metric can be read on a model of `family` at all: where it applies, and for a
    label metric with a label-blind reading on every model."""
    return metric_cls.applies(family) or getattr(metric_cls, "reads_label_blind", False)


@dataclasses.dataclass
class Context:
    """What a metric sees: the checkpoints, a builder for the model at an epoch, the data."""

    epochs: list[int]
    states: dict[int, dict]
    make_model: object  # callable(state_dict) -> model in eval mode on the device
    source: dict[str, torch.Tensor]  # splits of the source task (train/val/test)
    target: dict[str, torch.Tensor]  # splits of the target task (probe train subset applied)
    cfg: dict  # config `analysis`: the metric's `analysis_keys` (MetricConfig)
    transfer: dict  # config `transfer`: the metric's `transfer_keys` (MetricConfig)
    seed: int
    batch_size: int

    def model_at(self, epoch: int):
        return self.make_model(self.states[epoch])


def fixed_subset(split: dict, prefix: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n images of a split: fixed, the same for every model and seed."""
    return split[f"{prefix}_x"][:n], split[f"{prefix}_y"][:n]


for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
