"""A killed training job continues from its last completed epoch (ffmodels.resume) and ends
with exactly the result of an uninterrupted run, for every family; a stale, truncated or
corrupted resume file is refused and training restarts cleanly."""

import copy

import pytest
import torch

from ffmodels.config import family_hparams, load_config
from ffmodels.families import build
from ffmodels.resume import ResumeFile, job_key
from ffmodels.train import pretrain

CONFIG = load_config()  # config.yaml, resolved as the workflow resolves it
PROBE = dict(CONFIG["transfer"], probe=dict(CONFIG["transfer"]["probe"], max_epochs=2))
SMALL = {"hidden": [16, 16], "channels": [10, 10, 10, 10], "epochs": 3, "batch_size": 20, "train_until": [1, 2, 3, 3]}


def small_hp(family):
    """The family's config block, shrunk to a few seconds of training."""
    hp = dict(family_hparams(CONFIG, family), family=family)
    hp.update({k: v for k, v in SMALL.items() if k in hp})
    return hp


def data():
    g = torch.Generator().manual_seed(3)
    out = {}
    for split, n in (("train", 100), ("val", 40), ("test", 40)):
        out[f"{split}_x"] = torch.rand(n, 784, generator=g)
        out[f"{split}_y"] = torch.arange(n) % 10
    return out


class Killed(Exception):
    pass


def run(family, resume=None, kill_at=None, keep=None, every_s=0.0):
    """Train a fresh model of `family` (seed 0); raise Killed at the end of epoch kill_at,
    before that epoch's state is saved, as a kill between two epochs would. every_s: the
    resume state's interval (0: after every epoch)."""
    torch.manual_seed(0)
    model = build(small_hp(family), in_dim=784, n_classes=10)

    def hook(epoch, net):
        if keep is not None:
            keep[epoch] = copy.deepcopy(net.state_dict())
        if epoch == kill_at:
            raise Killed

    result = pretrain(
        model, data(), 0, 50, log=lambda s: None, on_epoch_end=hook, probe=PROBE, resume=resume, resume_every_s=every_s
    )
    return model, result


def same_run(a, b):
    (model_a, res_a), (model_b, res_b) = a, b
    assert res_a["history"] == res_b["history"]
    assert (res_a["val_acc"], res_a["test_acc"]) == (res_b["val_acc"], res_b["test_acc"])
    for key, value in model_a.state_dict().items():
        assert torch.equal(value, model_b.state_dict()[key]), key


@pytest.mark.parametrize("family", sorted(CONFIG["families"]))
def test_a_killed_run_resumes_from_its_last_epoch_to_the_uninterrupted_result(family, tmp_path):
    path = tmp_path / "state.pt"
    with pytest.raises(Killed):
        run(family, ResumeFile(path, "k"), kill_at=2)
    assert ResumeFile(path, "k").load()["epoch"] == 1  # the last completed epoch before the kill
    messages = []
    resumed = ResumeFile(path, "k", log=messages.append)
    model = build(small_hp(family), in_dim=784, n_classes=10)
    out = pretrain(model, data(), 0, 50, log=messages.append, probe=PROBE, resume=resumed, resume_every_s=0)
    assert any("resuming after epoch 1" in m for m in messages)
    same_run((model, out), run(family))


def test_the_job_state_kept_per_epoch_is_restored_with_the_training_state(tmp_path):
    """The checkpoints a job keeps (its `extra`) survive the kill: the resumed run ends with
    the checkpoints of every epoch, equal to those of an uninterrupted run."""
    path = tmp_path / "state.pt"
    first = ResumeFile(path, "k")
    kept = first.extra
    with pytest.raises(Killed):
        run("ff", first, kill_at=2, keep=kept)
    again = ResumeFile(path, "k")
    run("ff", again, keep=again.extra)
    clean = {}
    run("ff", keep=clean)
    assert sorted(again.extra) == [0, 1, 2, 3]
    for epoch in clean:
        for key, value in clean[epoch].items():
            assert torch.equal(value, again.extra[epoch][key]), (epoch, key)


def test_the_state_is_saved_at_most_once_per_interval_and_after_the_last_epoch(tmp_path):
    """A fast job does not write its state after every epoch: within the interval, nothing is
    saved before the last epoch, which is."""
    path = tmp_path / "state.pt"
    with pytest.raises(Killed):
        run("ff", ResumeFile(path, "k"), kill_at=2, every_s=3600)
    assert not path.exists()
    run("ff", ResumeFile(path, "k"), every_s=3600)
    assert ResumeFile(path, "k").load()["epoch"] == SMALL["epochs"]


def damage_truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def damage_flip(path):
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))


def damage_header(path):
    path.write_bytes(b"garbage" + path.read_bytes())


@pytest.mark.parametrize("damage", [damage_truncate, damage_flip, damage_header])
def test_a_damaged_resume_file_is_refused_and_training_restarts_cleanly(damage, tmp_path):
    path = tmp_path / "state.pt"
    with pytest.raises(Killed):
        run("ff", ResumeFile(path, "k"), kill_at=2)
    damage(path)
    messages = []
    resumed = run("ff", ResumeFile(path, "k", log=messages.append))
    assert len(messages) == 1 and "refused" in messages[0] and str(path) in messages[0]
    assert "training from epoch 0" in messages[0]
    same_run(resumed, run("ff"))


def test_a_state_saved_under_other_parameters_is_never_resumed(tmp_path):
    path = tmp_path / "state.pt"
    old = job_key(hp={"lr": 0.03}, seed=0)
    new = job_key(hp={"lr": 0.01}, seed=0)
    assert old != new and job_key(seed=0, hp={"lr": 0.03}) == old  # order-free
    with pytest.raises(Killed):
        run("ff", ResumeFile(path, old), kill_at=2)
    messages = []
    assert ResumeFile(path, new, log=messages.append).load() is None
    assert "stale" in messages[0] and not path.exists()


def test_the_state_is_replaced_atomically_and_removed_by_clear(tmp_path):
    path = tmp_path / "state.pt"
    resume = ResumeFile(path, "k")
    resume.save({"epoch": 1})
    resume.save({"epoch": 2})
    assert not (tmp_path / "state.pt.tmp").exists()
    assert ResumeFile(path, "k").load() == {"epoch": 2}
    resume.clear()
    assert not path.exists() and ResumeFile(path, "k").load() is None
