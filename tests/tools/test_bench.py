"""The throughput benchmark (tools/bench.py) runs and counts a step's matmul FLOPs right."""

import csv
import math
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tools import bench

B = 100  # the batch the quick run below uses


def test_benchmark_quick_run_writes_the_table(tmp_path):
    out = tmp_path / "throughput.csv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bench",
            "--quick",
            "--batch",
            "100",
            "--threads",
            "1",
            "--families",
            "ff,bp",
            "--out",
            str(out),
        ],
        cwd=REPO,
        check=True,
        timeout=120,
    )
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == bench.COLUMNS
    by_family = {r["family"]: r for r in rows if r["device"] == "cpu"}
    assert set(by_family) == {"reference", "ff", "bp"}
    for r in rows:
        for key in ("samples_per_s", "ratio_to_reference", "share_of_peak"):
            assert math.isfinite(float(r[key])) and float(r[key]) > 0, (r["family"], key)
    # Matmul FLOPs of one step at batch 100, counted by hand: the reference runs layer 1
    # (784 -> 500) on 2B rows three times (forward, weight gradient, forward again) and layer 2
    # (500 -> 500) likewise; FF shares layer 1's image part (B rows, plus the 10 label pixels
    # of the 2B rows) and runs layer 2 on 2B rows twice.
    flop = lambda rows, d_in, d_out: 2 * rows * d_in * d_out  # noqa: E731
    reference = 3 * flop(2 * B, 784, 500) + 3 * flop(2 * B, 500, 500)
    ff = 2 * (flop(B, 784, 500) + flop(2 * B, 10, 500)) + 2 * flop(2 * B, 500, 500)
    assert float(by_family["reference"]["matmul_gflop_per_step"]) == pytest.approx(reference / 1e9, rel=1e-3)
    assert float(by_family["ff"]["matmul_gflop_per_step"]) == pytest.approx(ff / 1e9, rel=1e-3)
    # the lockstep comparison of the same run: both lockstep families, a positive rate each way
    with (tmp_path / "lockstep-cpu-t1-b100.csv").open() as f:
        lockstep = {r["family"]: r for r in csv.DictReader(f)}
    assert set(lockstep) == {"ff", "bp"}
    for r in lockstep.values():
        assert r["seeds"] == "5"
        for key in ("alone_steps_per_s_per_seed", "lockstep_steps_per_s_per_seed", "lockstep_ratio"):
            assert math.isfinite(float(r[key])) and float(r[key]) > 0, (r["family"], key)


def test_cwc_in_lockstep_is_timed_as_its_vmapped_forward_and_backward():
    """The row behind CwC-FF's one seed per job: the same block losses, each seed alone and under
    vmap (grouped convolutions), with a positive rate each way (a small CwC-FF, to be quick)."""
    from ffmodels.config import load_config

    hp = bench.family_hparams(load_config(path=REPO / "config.yaml"))["cwc"]
    small = {**hp, "channels": [10, 20], "grouped": [False, True], "max_pool": [False, True]}
    small |= {"train_from": [1, 1], "train_until": [1, 1], "batch_size": 8}
    row = bench.bench_cwc_vmap(bench.torch.device("cpu"), small, seeds=2, quick=True, log=lambda m: None)
    assert row["family"] == "cwc (forward+backward only)" and row["batch"] == 8 and row["seeds"] == 2
    assert min(row[k] for k in ("alone_steps_per_s_per_seed", "lockstep_steps_per_s_per_seed", "lockstep_ratio")) > 0
