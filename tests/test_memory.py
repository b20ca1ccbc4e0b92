"""config keep_freed_memory: a job keeps the memory it frees for its next step (glibc malloc, by
ffmodels.runtime.keep_freed_memory, set up with the job's device), so a large tensor allocated
again reuses pages instead of faulting in fresh ones; the numbers it computes do not change."""

import platform
import subprocess
import sys

import pytest

from ffmodels.config import load_config
from tests.conftest import REPO

# In a fresh process, FF training steps over a 20 000-image batch (every activation tensor above
# glibc's 32 MB mapping threshold): the minor page faults of the third and fourth step, after
# keep_freed_memory() or not.
STEPS = """
import resource, sys, torch
from ffmodels.config import load_config, variant_hparams
from ffmodels.families import build
from ffmodels.runtime import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
torch.set_num_threads(1)
hp = {**variant_hparams(load_config(), "random_wrong_label"), "hidden": [64, 64], "batch_size": 20000}
torch.manual_seed(0)
model = build(hp, in_dim=784, n_classes=10).train()
g = torch.Generator().manual_seed(0)
x, y = torch.rand(20000, 784, generator=g), torch.randint(0, 10, (20000,), generator=g)
faults = []
for _ in range(4):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model.train_step(x, y, g)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(kept, sum(faults[2:]))
"""


def late_step_faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, cwd=REPO, check=True)
    kept, faults = out.stdout.split()
    return kept, int(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory changes glibc's malloc only")
def test_memory_kept_is_reused_by_the_next_steps_instead_of_faulted_in_again():
    kept, faults_kept = late_step_faults("keep")
    _, faults_returned = late_step_faults("return")
    assert kept == "True"
    # returned: every step faults its large tensors in again (about 60 000 pages a step); kept:
    # the heap reaches its peak in the first steps and is reused (0 to a few thousand)
    assert faults_kept < faults_returned / 3, (faults_kept, faults_returned)
    assert load_config()["keep_freed_memory"] is True  # the shipped default


def test_a_job_keeps_freed_memory_only_when_its_config_says_so(monkeypatch):
    from ffmodels.jobs import model

    calls = []
    monkeypatch.setattr(model, "keep_freed_memory", lambda: calls.append(1) or True)
    import torch

    threads = torch.get_num_threads()
    model.setup("cpu", threads, keep_freed=False)
    assert calls == []
    model.setup("cpu", threads, keep_freed=True)
    assert calls == [1]
