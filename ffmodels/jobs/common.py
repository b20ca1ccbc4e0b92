"""What every job shares: logging and JSON files."""

from __future__ import annotations

import json
import logging
from pathlib import Path


def get_logger(log_path: str | None) -> logging.Logger:
    logger = logging.getLogger("ffrepro")
    logger.setLevel(logging.INFO)
    for old in list(logger.handlers):  # one job per process, but tests call several
        old.close()
        logger.removeHandler(old)
    handler = logging.FileHandler(log_path) if log_path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    return logger


def write_json(path, obj) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")


def read_json(path) -> dict:
    with open(path) as fh:
        return json.load(fh)
