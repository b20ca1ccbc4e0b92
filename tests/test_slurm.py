"""The workflow through a real SLURM cluster (snakemake-executor-plugin-slurm, profiles/slurm):
training jobs go through sbatch and produce their outputs, and a job cancelled mid-training
(scancel) is resubmitted by the profile's `retries` and completes.

Needs a reachable SLURM cluster with an idle node, the executor plugin and the local data
mirror; skipped with the reason otherwise. `make test-slurm` installs SLURM, starts a one-node
cluster on this machine (tests/slurm/cluster.sh), runs this file and stops the cluster. About
3.5 minutes on a 2-core machine; the jobs run under the cluster's default partition and account.
"""

import importlib.util
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_workflow


def _slurm_unavailable() -> str | None:
    """Why the SLURM tests cannot run here, or None."""
    missing = [tool for tool in ("sbatch", "squeue", "scancel", "sinfo") if shutil.which(tool) is None]
    if missing:
        return f"SLURM client commands not installed ({', '.join(missing)}); `make test-slurm` sets up a local cluster"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm not installed (pip install snakemake-executor-plugin-slurm==2.6.1)"
    try:
        out = subprocess.run(["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return "no SLURM cluster answers (sinfo timed out)"
    if out.returncode != 0:
        return f"no SLURM cluster reachable: {(out.stderr or out.stdout).strip().splitlines()[-1:]}"
    if not {"idle", "mix", "mixed"} & set(out.stdout.split()):
        return f"no idle SLURM node (node states: {sorted(set(out.stdout.split()))})"
    return None


_WHY_NOT = _slurm_unavailable()
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(_WHY_NOT is not None, reason=_WHY_NOT or "")]

# On the committed test data (.test/config.yaml), one seed, one epoch, 1000 images, on the CPU (a node
# without GPUs: device cpu makes the jobs declare gpu=0, so no GPU is asked of SLURM).
TINY = {
    "seeds": [0],
    "device": "cpu",
    "families": {"ff": {"epochs": 1}, "bp": {"epochs": 1}},
    "pretrain": {"train_subset": 1000},
    "transfer": {"train_subset": 1000, "probe": {"max_epochs": 3, "patience": 2}},
}
# The cancelled job trains long enough (about 1.5 s an epoch here) to be caught mid-training.
LONG = {"families": {"ff": {"epochs": 12}}}

# Settings for this throw-away cluster that a real cluster must not get from the project's
# profile: status from squeue (no slurmdbd here, so sacct has nothing to say; the cluster keeps
# finished jobs in squeue for MinJobAge = 300 s), a 5 s first status check (a real controller
# should not be polled that often), and the SLURM logs of successful jobs kept, for the
# assertions. No account is named: the plugin's guess finds none here and submits without one
# (its --slurm-no-account flag has no effect in 2.6.1).
LOCAL_CLUSTER_ARGS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "5",
    "--slurm-keep-successful-logs",
]

SUBMITTED = re.compile(r"Job \S+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")
RUN_ID = re.compile(r"SLURM run ID: (\S+)")


def snakemake_cmd(*args):
    return [sys.executable, "-m", "snakemake", *args]


def run_slurm(wf: Path, *args, overlays=("tiny.yaml",), timeout=600, log_name="slurm-run.log", on_poll=None):
    """Run snakemake with the SLURM profile; its output goes to wf/log_name. On timeout send
    SIGINT (Snakemake waits for its jobs on SIGTERM, cancels them on SIGINT), to snakemake alone:
    a signal to the whole process group would also stop the scancel it runs on the way out."""
    log = wf / log_name
    cmd = snakemake_cmd(
        "--profile",
        "profiles/slurm",
        "--configfile",
        "presets/quick.yaml",
        ".test/config.yaml",
        *overlays,
        *LOCAL_CLUSTER_ARGS,
        *args,
    )
    start = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=wf, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while proc.poll() is None:
                if time.monotonic() - start > timeout:
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(90)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                    break
                if on_poll is not None:
                    on_poll(log.read_text())
                time.sleep(1)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            cancel_leftovers(log.read_text())
    text = log.read_text()
    elapsed = time.monotonic() - start
    print(f"snakemake {' '.join(args)}: exit {proc.returncode} after {elapsed:.0f} s")
    return proc.returncode, text, elapsed


def cancel_leftovers(text):
    """Cancel any job of this run still queued or running (a failed or interrupted test)."""
    for run_id in set(RUN_ID.findall(text)):
        subprocess.run(["scancel", "--name", run_id], capture_output=True, timeout=30)


def slurm_states(job_ids):
    """{job id: state} from squeue (this cluster keeps finished jobs listed for MinJobAge)."""
    out = subprocess.run(
        ["squeue", "--noheader", "--states=all", "--format=%i|%T", "--jobs", ",".join(job_ids)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return dict(line.split("|", 1) for line in out.stdout.split())


def submitted(text, rule):
    """SLURM job ids (in submission order) of the jobs of one rule."""
    return [jid for jid, log in SUBMITTED.findall(text) if f"/rule_{rule}/" in log]


def fail(what, code, text):
    pytest.fail(f"{what}: snakemake exit {code}\n{text[-6000:]}")


@pytest.fixture(scope="module")
def slurm_wf(tmp_path_factory):
    """A copy of the workflow and the profiles, with the data stage done locally (the jobs
    under test are the training jobs; the data stage is a plain download and split)."""
    wf = copy_workflow(tmp_path_factory.mktemp("slurm_wf"), extra=("profiles",))
    (wf / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    (wf / "long.yaml").write_text(yaml.safe_dump(LONG))
    out = subprocess.run(
        snakemake_cmd(
            "--cores",
            "2",
            "--configfile",
            "presets/quick.yaml",
            ".test/config.yaml",
            "tiny.yaml",
            "--",
            "resources/data/mnist.pt",
            "resources/data/fashion-mnist.pt",
        ),
        cwd=wf,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        pytest.fail(f"local data stage failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return wf


def test_training_jobs_run_through_sbatch(slurm_wf):
    """A pretraining job and its transfer, and the random-init transfer beside them, each as a
    SLURM job: submitted, run on the node, finished COMPLETED, outputs in place."""
    targets = [
        "results/transfer/random_wrong_label/seed0/metrics.json",
        "results/transfer/random_init_ff/seed0/metrics.json",
    ]
    code, text, elapsed = run_slurm(slurm_wf, "--", *targets)
    if code != 0:
        fail("SLURM run", code, text)
    for path in [
        "results/pretrain/random_wrong_label/seed0/model.pt",
        "results/pretrain/random_wrong_label/seed0/metrics.json",
        *targets,
    ]:
        assert (slurm_wf / path).is_file(), path

    jobs = {rule: submitted(text, rule) for rule in ("pretrain", "transfer")}
    assert len(jobs["pretrain"]) == 1 and len(jobs["transfer"]) == 2, jobs
    ids = jobs["pretrain"] + jobs["transfer"]
    assert set(slurm_states(ids).values()) == {"COMPLETED"}, slurm_states(ids)
    # Each job's SLURM log (kept by --slurm-keep-successful-logs) shows the job step ran the rule.
    logs = {Path(log) for _, log in SUBMITTED.findall(text)}
    for log in logs:
        assert log.is_file() and log.is_relative_to(slurm_wf / ".snakemake" / "slurm_logs"), log
    pretrain_log = next(log for log in logs if "/rule_pretrain/" in str(log)).read_text()
    assert "rule pretrain:" in pretrain_log and "1 of 1 steps (100%) done" in pretrain_log
    # On a node without GPUs a GPU request would have been refused at submission.
    assert "Invalid generic resource" not in text
    print(f"3 SLURM jobs (pretrain + 2 transfers) in {elapsed:.0f} s")


def test_cancelled_training_job_is_resubmitted_and_completes(slurm_wf):
    """scancel of a SLURM job mid-training: Snakemake sees it CANCELLED, the profile's
    `retries: 1` submits it again, and the run ends with the model in place."""
    target = "results/pretrain/random_wrong_label/seed1/model.pt"
    train_log = slurm_wf / "logs/pretrain/random_wrong_label/seed1.log"
    cancelled = []

    def cancel_mid_training(text):
        if cancelled:
            return
        ids = submitted(text, "pretrain")
        if ids and train_log.is_file() and "epoch 2:" in train_log.read_text():
            assert slurm_states(ids[:1]).get(ids[0]) == "RUNNING"
            subprocess.run(["scancel", ids[0]], check=True, timeout=30)
            cancelled.append((ids[0], train_log.read_text().count("epoch ")))

    code, text, elapsed = run_slurm(
        slurm_wf,
        "--",
        target,
        overlays=("tiny.yaml", "long.yaml"),
        log_name="slurm-cancel.log",
        on_poll=cancel_mid_training,
    )
    assert cancelled, f"the training job was never caught mid-training:\n{text[-4000:]}"
    first, epochs_done = cancelled[0]
    assert 1 <= epochs_done < LONG["families"]["ff"]["epochs"], epochs_done
    if code != 0:
        fail("SLURM run with a cancelled job", code, text)
    assert f"SLURM-job '{first}' failed, SLURM status is: 'CANCELLED'" in text
    ids = submitted(text, "pretrain")
    assert len(ids) == 2 and ids[0] == first, ids
    assert slurm_states(ids) == {first: "CANCELLED", ids[1]: "COMPLETED"}
    assert (slurm_wf / target).is_file()
    assert "epoch 12:" in train_log.read_text()
    print(f"cancelled SLURM job {first} after {epochs_done} epochs; job {ids[1]} completed; {elapsed:.0f} s in all")
