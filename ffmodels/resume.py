"""Resume state of a training job: everything needed to continue a killed run from its last
completed epoch and end with the same result as an uninterrupted one (model, every optimiser,
the data-order and sampling generators, the history, and what the job keeps per epoch).

The file lives outside the job's declared outputs (Snakemake deletes those when a job fails),
is replaced atomically (after an epoch, at most once per interval: ffmodels.train) and removed
when the job has written its outputs. It carries a key, the digest of everything that defines
the job (hyperparameters, data, seeds, code digest): a state saved under other parameters is
stale and never resumed. It also carries the SHA-256 of its payload, so a truncated or
corrupted file is refused (the reason is logged) and training restarts cleanly from epoch 0.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import torch

MAGIC = b"ffrepro-resume-1\n"


def job_key(**params) -> str:
    """The digest of a job's defining parameters (JSON-serialisable)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


class ResumeFile:
    """path: where the state is kept; key: job_key of the job; log: where refusals are said.
    `extra` is the job's own per-epoch state (e.g. the checkpoints it keeps), saved and
    restored with the training state; it is updated in place on load."""

    def __init__(self, path, key: str, log=print):
        self.path = Path(path)
        self.key = key
        self.log = log
        self.extra: dict = {}

    def save(self, state: dict) -> None:
        buf = io.BytesIO()
        torch.save({"key": self.key, "state": state, "extra": self.extra}, buf)
        payload = buf.getvalue()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)  # a kill mid-write leaves the previous state intact

    def load(self) -> dict | None:
        """The saved training state, or None (no file, or a refused one, which is removed)."""
        if not self.path.is_file():
            return None
        try:
            state = self._read()
        except ValueError as err:
            self.log(f"resume file {self.path} refused: {err}; training from epoch 0")
            self.clear()
            return None
        self.extra.update(state["extra"])
        return state["state"]

    def _read(self) -> dict:
        raw = self.path.read_bytes()
        if not raw.startswith(MAGIC):
            raise ValueError("not a resume file (bad header)")
        digest, sep, payload = raw[len(MAGIC) :].partition(b"\n")
        if not sep or hashlib.sha256(payload).hexdigest().encode() != digest:
            raise ValueError("checksum mismatch (truncated or corrupted)")
        try:
            content = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        except Exception as err:  # a payload that hashes right but does not load
            raise ValueError(f"unreadable ({err})") from None
        if content.get("key") != self.key:
            raise ValueError("saved for other job parameters (stale)")
        return content

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        Path(str(self.path) + ".tmp").unlink(missing_ok=True)
