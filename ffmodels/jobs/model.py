"""Device set-up and seeded model building, for the jobs that run a network."""

from __future__ import annotations

import dataclasses

import torch

from ffmodels.families import build
from ffmodels.jobs.spec import JobSpec
from ffmodels.runtime import keep_freed_memory, resolve_device


def setup(device_name: str, threads: int, cuda_tf32: bool = False, keep_freed: bool = False) -> torch.device:
    """The job's device and threads, its CUDA arithmetic set explicitly (config cuda_tf32): exact
    fp32 and deterministic cuDNN by default, whatever torch's own defaults are; and with
    keep_freed (config keep_freed_memory) the memory it frees kept for its next step."""
    if keep_freed:
        keep_freed_memory()
    torch.set_num_threads(threads)
    torch.backends.cuda.matmul.allow_tf32 = cuda_tf32
    torch.backends.cudnn.allow_tf32 = cuda_tf32
    torch.backends.cudnn.deterministic = not cuda_tf32
    torch.backends.cudnn.benchmark = False  # its kernel choice may differ from run to run
    return resolve_device(device_name)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelJobSpec(JobSpec):
    """How a job that runs a network runs (ffmodels.jobs.spec.RUNTIME): never a rerun trigger.
    The spec of every such job (pretraining, probes, analyses) extends it."""

    device: str = "cpu"
    cuda_tf32: bool = False  # config cuda_tf32
    keep_freed_memory: bool = False  # config keep_freed_memory
    eval_batch_size: int = 1000
    threads: int = 1

    def setup(self) -> torch.device:
        return setup(self.device, self.threads, self.cuda_tf32, self.keep_freed_memory)


def new_model(hp: dict, seed: int, in_dim: int, device: torch.device):
    torch.manual_seed(seed)  # on the CPU generator: the same seed gives the same init on any device
    return build(hp, in_dim=in_dim, n_classes=10).to(device)
