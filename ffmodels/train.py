"""Pretraining on the source task: the loop shared by every family."""

from __future__ import annotations

import copy
import math
from typing import Callable

import torch

from ffmodels.collapse import judge, top_class_share
from ffmodels.resume import ResumeFile
from ffmodels.runtime import generators
from ffmodels.transfer import transfer

EpochHook = Callable[[int, torch.nn.Module], None]


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


def training_state(model, epoch: int, order, sampling, history: list) -> dict:
    return {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in model.all_optimizers().items()},
        "order_rng": order.get_state(),
        "sampling_rng": sampling.get_state(),
        "history": history,
    }


def restore(model, state: dict, order, sampling) -> None:
    model.load_state_dict(state["model"])
    for name, opt in model.all_optimizers().items():
        opt.load_state_dict(state["optimizers"][name])
    order.set_state(state["order_rng"])
    sampling.set_state(state["sampling_rng"])


def pretrain(
    model,
    data: dict,
    seed: int,
    eval_batch_size: int,
    log=print,
    on_epoch_end: EpochHook | None = None,
    probe: dict | None = None,
    resume: ResumeFile | None = None,
    test_every_epoch: bool = False,
    collapse: dict | None = None,
) -> dict:
    """Train for hp.epochs on data['train_*'], checking validation accuracy after each epoch.

    on_epoch_end(epoch, model) is called with the untrained model (epoch 0) and after each
    completed epoch (checkpoints). `probe` is the transfer probe config, used for the source
    accuracy of models without a classifier.

    A non-finite loss is a result, not a crash: training stops, the model is rolled back to the
    end of the last finite epoch, and the run is marked collapsed; the history up to that epoch
    is kept. collapse (config stats.collapse): the final model is also collapsed when its
    validation predictions are one class or its validation accuracy is at chance
    (ffmodels.collapse.judge; collapse_reason says which; None: the loss only).

    resume (ffmodels.resume): the state is saved there after every epoch, and a valid saved
    state is continued from: the result equals that of an uninterrupted run.

    test_every_epoch: also record the test accuracy after every epoch (diagnostic_test_acc in the
    history), for the test-selection optimism; it selects nothing.
    """
    hp = model.hp
    order, sampling = generators(seed, data["train_x"].device)
    x, y = data["train_x"], data["train_y"]
    n = len(x)
    history, first = [], 1
    saved = resume.load() if resume is not None else None
    if saved is not None:
        restore(model, saved, order, sampling)
        history, first = saved["history"], saved["epoch"] + 1
        log(f"resuming after epoch {saved['epoch']} from {resume.path}")
    elif on_epoch_end is not None:
        on_epoch_end(0, model)
    good_state = copy.deepcopy(model.state_dict())
    status, last_good_epoch = "ok", first - 1
    for epoch in range(first, hp.epochs + 1):
        model.train()
        model.on_epoch_start(epoch)
        perm = torch.randperm(n, generator=order).to(x.device)
        total, batches = 0.0, 0
        for start in range(0, n, hp.batch_size):
            idx = perm[start : start + hp.batch_size]
            loss = model.train_step(x[idx], y[idx], sampling)
            if not math.isfinite(loss):
                status = "collapsed"
                break
            total += loss
            batches += 1
        if status == "collapsed":
            log(f"epoch {epoch}: non-finite loss, rolling back to epoch {last_good_epoch}")
            model.load_state_dict(good_state)
            break
        model.eval()
        entry = {"epoch": epoch, "train_loss": total / batches}
        if model.has_classifier:
            entry.update(validation_scores(model, data, eval_batch_size))
            if test_every_epoch:
                # A diagnostic (test-selection optimism, PROTOCOL section 7): never read by
                # training nor to choose the reported epoch, which is always the last one.
                entry["diagnostic_test_acc"] = accuracy(model, data["test_x"], data["test_y"], eval_batch_size)
        entry.update(model.epoch_diagnostics(data, eval_batch_size))
        history.append(entry)
        log(f"epoch {epoch}: " + " ".join(f"{k} {v:.4f}" for k, v in entry.items() if isinstance(v, float)))
        good_state = copy.deepcopy(model.state_dict())
        last_good_epoch = epoch
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
        if resume is not None:
            resume.save(training_state(model, epoch, order, sampling, history))
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
            f"collapsed: {reason} (validation accuracy {final['val_acc']:.4f}, "
            f"top-class share {final['val_top_class_share']})"
        )
    return {
        "status": "collapsed" if reason else "ok",
        "collapse_reason": reason,
        "last_good_epoch": last_good_epoch,
        **final,
        "history": history,
    }
