"""Data jobs: fetch and verify one IDX file; cut the fixed splits of a dataset."""

from __future__ import annotations

import socket
from pathlib import Path

from ffmodels import data as ffdata
from ffmodels.jobs.common import get_logger


def fetch_job(filename: str, dest: str, sources: list[str], expected_md5: str, log_path: str) -> None:
    log = get_logger(log_path)
    socket.setdefaulttimeout(60)  # a stalled mirror then fails over instead of hanging the job
    try:
        used = ffdata.fetch_idx(filename, Path(dest), sources, expected_md5)
    except ffdata.DataError as err:
        log.error(str(err))
        raise
    log.info(f"{dest}: MD5 {expected_md5} verified, from {used}")


def prepare_job(raw_dir: str, out: str, val_size: int, split_seed: int) -> None:
    import torch  # here: the fetch jobs of this module need no torch

    torch.save(ffdata.prepare_splits(Path(raw_dir), val_size, split_seed), out)
