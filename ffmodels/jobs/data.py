"""Data jobs: fetch and verify one IDX file; cut the fixed splits of a dataset."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

from ffmodels import data as ffdata
from ffmodels.jobs.common import get_logger
from ffmodels.jobs.spec import JobSpec


@dataclasses.dataclass(frozen=True)
class FetchSpec(JobSpec):
    dataset: str
    idx_file: str
    md5: str  # of the uncompressed file
    idx: str  # where it goes
    log: str
    mirrors: dict  # runtime: config local_mirror and data.mirrors (a new mirror refetches nothing)
    threads: int = 1


def fetch_job(spec: FetchSpec) -> None:
    log = get_logger(spec.log)
    socket.setdefaulttimeout(60)  # a stalled mirror then fails over instead of hanging the job
    sources = ffdata.data_sources(spec.mirrors, spec.dataset)
    try:
        used = ffdata.fetch_idx(spec.idx_file, Path(spec.idx), sources, spec.md5)
    except ffdata.DataError as err:
        log.error(str(err))
        raise
    log.info(f"{spec.idx}: MD5 {spec.md5} verified, from {used}")


@dataclasses.dataclass(frozen=True)
class PrepareSpec(JobSpec):
    dataset: str
    val_size: int
    split_seed: int
    code: dict
    idx: list[str]  # the dataset's four verified IDX files
    splits: str
    log: str
    threads: int = 1


def prepare_job(spec: PrepareSpec) -> None:
    import torch  # here: the fetch jobs of this module need no torch

    raw_dir = Path(spec.idx[0]).parent
    torch.save(ffdata.prepare_splits(raw_dir, spec.val_size, spec.split_seed), spec.splits)
    get_logger(spec.log).info(
        f"{spec.splits}: {spec.dataset} split (validation {spec.val_size}, seed {spec.split_seed})"
    )
