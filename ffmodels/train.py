"""Pretraining on the source task: the loop shared by every family."""

from __future__ import annotations

import copy
import time
from typing import Callable

import torch

from ffmodels.collapse import judge, top_class_share
from ffmodels.lockstep import Lockstep
from ffmodels.resume import ResumeFile
from ffmodels.runtime import generators
from ffmodels.transfer import transfer

EpochHook = Callable[[int, torch.nn.Module], None]
ChunkHook = Callable[[int, int, torch.nn.Module], None]  # (position in the chunk, epoch, model)


@torch.no_grad()
def predictions(model, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    return torch.cat([model.predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def accuracy(model, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    return (predictions(model, x, batch_size) == y).sum().item() / len(x)


def validation_scores(model, data: dict, batch_size: int) -> dict:
    """Validation accuracy and the share of the validation images put in the most-predicted
    class (ffmodels.collapse), from one pass of the model's own classifier."""
    pred = predictions(model, data["val_x"], batch_size)
    return {
        "val_acc": (pred == data["val_y"]).sum().item() / len(pred),
        "val_top_class_share": top_class_share(pred, model.n_classes),
    }


def source_accuracy(model, data: dict, eval_batch_size: int, probe: dict | None, seed: int) -> dict:
    """Validation and test accuracy on the source task (and the validation top-class share):
    the model's own classifier, or, for a model without one, the common linear probe fitted on
    its frozen source features."""
    model.eval()
    if model.has_classifier:
        return {
            **validation_scores(model, data, eval_batch_size),
            "test_acc": accuracy(model, data["test_x"], data["test_y"], eval_batch_size),
        }
    result = transfer(model, data, probe, seed, eval_batch_size)  # the probe, on the source splits
    return {
        "val_acc": result["val_acc"],
        "val_top_class_share": result["val_top_class_share"],
        "test_acc": result["test_acc"],
        "source_probe": result,
    }


class _Solo:
    """One seed trained by its own train_step (a chunk of one, and families that cannot train in
    lockstep): the interface of ffmodels.lockstep.Lockstep, with the last good state kept aside."""

    def __init__(self, models: list):
        if len(models) != 1:
            raise ValueError(f"family {models[0].family} trains one seed per job, got a chunk of {len(models)}")
        self.models = models
        self.good = copy.deepcopy(models[0].state_dict())

    def start_epoch(self, epoch: int) -> None:
        self.models[0].train()
        self.models[0].on_epoch_start(epoch)

    def step(self, xs, ys, gens):
        return self.models[0].train_step(xs[0], ys[0], gens[0])[None]

    def sync(self, positions) -> None:
        if positions:
            self.good = copy.deepcopy(self.models[0].state_dict())

    def rollback(self, position: int) -> None:
        self.models[0].load_state_dict(self.good)

    def optimizer_states(self) -> dict:
        return {name: opt.state_dict() for name, opt in self.models[0].all_optimizers().items()}

    def load_optimizer_states(self, states: dict) -> None:
        for name, opt in self.models[0].all_optimizers().items():
            opt.load_state_dict(states[name])


def trainer(models: list):
    """Lockstep for a chunk of several seeds of a family that allows it, else the seed's own steps."""
    return Lockstep(models) if len(models) > 1 else _Solo(models)


def pretrain(model, data: dict, seed: int, eval_batch_size: int, on_epoch_end: EpochHook | None = None, **kw) -> dict:
    """One seed trained alone: pretrain_chunk of one seed (its arguments)."""
    hook = None if on_epoch_end is None else (lambda position, epoch, net: on_epoch_end(epoch, net))
    return pretrain_chunk([model], data, [seed], eval_batch_size, on_epoch_end=hook, **kw)[0]


def pretrain_chunk(
    models: list,
    data: dict,
    seeds: list[int],
    eval_batch_size: int,
    log=print,
    on_epoch_end: ChunkHook | None = None,
    probe: dict | None = None,
    resume: ResumeFile | None = None,
    test_every_epoch: bool = False,
    collapse: dict | None = None,
    resume_every_s: float = 60.0,
) -> list[dict]:
    """Train each seed's model (models[i] built for seeds[i], as alone) for hp.epochs on
    data['train_*'], checking its validation accuracy after each epoch; one result per seed.
    Several seeds train in lockstep (ffmodels.lockstep): each seed's result equals that of the
    seed trained alone up to the matrix kernels' rounding.

    on_epoch_end(position, epoch, model) is called with each untrained model (epoch 0) and after
    each epoch a seed completes (checkpoints). `probe` is the transfer probe config, used for the
    source accuracy of models without a classifier.

    A non-finite loss is a result, not a crash: that seed stops, its model is rolled back to the
    end of its last finite epoch, and it is marked collapsed; its history up to that epoch is
    kept; the other seeds go on. The losses stay on the device and are read once per epoch.
    collapse (config stats.collapse): the final model is also collapsed when its validation
    predictions are one class or its validation accuracy is at chance (ffmodels.collapse.judge;
    collapse_reason says which; None: the loss only).

    resume (ffmodels.resume): the state of the chunk is saved there after an epoch when
    resume_every_s seconds have passed since the last save, and after the last epoch; a valid
    saved state is continued from: the result equals that of an uninterrupted run.

    test_every_epoch: also record the test accuracy after every epoch (diagnostic_test_acc in the
    history), for the test-selection optimism; it selects nothing.
    """
    hp = models[0].hp
    x, y = data["train_x"], data["train_y"]
    n = len(x)
    gens = [generators(seed, x.device) for seed in seeds]
    seeds_state = [{"history": [], "status": "ok", "last_good_epoch": 0} for _ in seeds]
    first = 1
    saved = resume.load() if resume is not None else None
    if saved is not None:
        for model, (order, sampling), mine, state in zip(models, gens, seeds_state, saved["seeds"]):
            model.load_state_dict(state["model"])
            order.set_state(state["order_rng"])
            sampling.set_state(state["sampling_rng"])
            mine.update(history=state["history"], status=state["status"], last_good_epoch=state["last_good_epoch"])
        first = saved["epoch"] + 1
        log(f"resuming after epoch {saved['epoch']} from {resume.path}")
    elif on_epoch_end is not None:
        for i, model in enumerate(models):
            on_epoch_end(i, 0, model)
    train = trainer(models)  # from the models as restored or built
    if saved is not None:
        train.load_optimizer_states(saved["optimizers"])
    last_save = time.monotonic()
    for epoch in range(first, hp.epochs + 1):
        live = [i for i, mine in enumerate(seeds_state) if mine["status"] == "ok"]
        if not live:
            break
        train.start_epoch(epoch)
        perms = torch.stack([torch.randperm(n, generator=order) for order, _ in gens]).to(x.device)
        samplings = [sampling for _, sampling in gens]
        total = x.new_zeros(len(models))
        finite = torch.ones(len(models), dtype=torch.bool, device=x.device)
        batches = 0
        for start in range(0, n, hp.batch_size):
            idx = perms[:, start : start + hp.batch_size]
            loss = train.step(x[idx], y[idx], samplings)
            finite &= torch.isfinite(loss)
            total += loss
            batches += 1
        finite_seeds, mean_loss = finite.tolist(), (total / batches).tolist()  # the epoch's one read
        train.sync([i for i in live if finite_seeds[i]])
        for i in live:
            model, mine = models[i], seeds_state[i]
            if not finite_seeds[i]:
                log(f"seed {seeds[i]} epoch {epoch}: non-finite loss, rolling back to epoch {mine['last_good_epoch']}")
                train.rollback(i)
                mine["status"] = "collapsed"
                continue
            model.eval()
            entry = {"epoch": epoch, "train_loss": mean_loss[i]}
            if model.has_classifier:
                entry.update(validation_scores(model, data, eval_batch_size))
                if test_every_epoch:
                    # A diagnostic (test-selection optimism, PROTOCOL section 7): never read by
                    # training nor to choose the reported epoch, which is always the last one.
                    entry["diagnostic_test_acc"] = accuracy(model, data["test_x"], data["test_y"], eval_batch_size)
            entry.update(model.epoch_diagnostics(data, eval_batch_size))
            mine["history"].append(entry)
            mine["last_good_epoch"] = epoch
            prefix = f"seed {seeds[i]} " if len(seeds) > 1 else ""
            log(f"{prefix}epoch {epoch}: " + " ".join(f"{k} {v:.4f}" for k, v in entry.items() if isinstance(v, float)))
            if on_epoch_end is not None:
                on_epoch_end(i, epoch, model)
        finished = epoch == hp.epochs or all(mine["status"] != "ok" for mine in seeds_state)
        if resume is not None and (finished or time.monotonic() - last_save >= resume_every_s):
            resume.save(chunk_state(models, epoch, gens, seeds_state, train))
            last_save = time.monotonic()
    return [
        final_result(model, data, seed, eval_batch_size, probe, collapse, mine, test_every_epoch, log)
        for model, seed, mine in zip(models, seeds, seeds_state)
    ]


def chunk_state(models: list, epoch: int, gens: list, seeds_state: list, train) -> dict:
    """Everything a resumed chunk needs: each seed's model (its last good state), generators,
    history and status, and the optimisers' states."""
    return {
        "epoch": epoch,
        "seeds": [
            {
                "model": model.state_dict(),
                "order_rng": order.get_state(),
                "sampling_rng": sampling.get_state(),
                **mine,
            }
            for model, (order, sampling), mine in zip(models, gens, seeds_state)
        ],
        "optimizers": train.optimizer_states(),
    }


def final_result(model, data, seed, eval_batch_size, probe, collapse, mine, test_every_epoch, log) -> dict:
    history, status = mine["history"], mine["status"]
    if model.has_classifier and history:
        # The final model is that of the last completed epoch (rolled back to it on a collapse),
        # already scored on the validation split (and with the diagnostic, on the test split)
        # after that epoch: the same numbers, not computed twice.
        last = history[-1]
        test = (
            last["diagnostic_test_acc"]
            if test_every_epoch
            else accuracy(model, data["test_x"], data["test_y"], eval_batch_size)
        )
        final = {"val_acc": last["val_acc"], "val_top_class_share": last.get("val_top_class_share"), "test_acc": test}
    else:
        final = source_accuracy(model, data, eval_batch_size, probe, seed)
    reason = judge(final["val_acc"], final["val_top_class_share"], model.n_classes, status != "collapsed", collapse)
    if reason is not None and status != "collapsed":
        log(
            f"seed {seed} collapsed: {reason} (validation accuracy {final['val_acc']:.4f}, "
            f"top-class share {final['val_top_class_share']})"
        )
    return {
        "status": "collapsed" if reason else "ok",
        "collapse_reason": reason,
        "last_good_epoch": mine["last_good_epoch"],
        **final,
        "history": history,
    }
