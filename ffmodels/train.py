"""Pretraining on the source task: the loop shared by every family."""

from __future__ import annotations

import copy
import math

import torch

from ffmodels.runtime import generators


@torch.no_grad()
def accuracy(model, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    correct = sum(
        (model.predict(x[i:i + batch_size]) == y[i:i + batch_size]).sum().item()
        for i in range(0, len(x), batch_size)
    )
    return correct / len(x)


def pretrain(model, data: dict, seed: int, eval_batch_size: int, log=print) -> dict:
    """Train for hp.epochs on data['train_*'], checking validation accuracy after each epoch.

    A non-finite loss is a result, not a crash: training stops, the model is rolled back to the
    end of the last finite epoch, and the run is marked collapsed.
    """
    hp = model.hp
    order, sampling = generators(seed, data["train_x"].device)
    x, y = data["train_x"], data["train_y"]
    n = len(x)
    history = []
    good_state = copy.deepcopy(model.state_dict())
    status, last_good_epoch = "ok", 0
    for epoch in range(1, hp.epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=order).to(x.device)
        total, batches = 0.0, 0
        for start in range(0, n, hp.batch_size):
            idx = perm[start:start + hp.batch_size]
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
        val_acc = accuracy(model, data["val_x"], data["val_y"], eval_batch_size)
        history.append({"epoch": epoch, "train_loss": total / batches, "val_acc": val_acc})
        log(f"epoch {epoch}: loss {total / batches:.4f} val_acc {val_acc:.4f}")
        good_state = copy.deepcopy(model.state_dict())
        last_good_epoch = epoch
    model.eval()
    return {
        "status": status,
        "last_good_epoch": last_good_epoch,
        "val_acc": accuracy(model, data["val_x"], data["val_y"], eval_batch_size),
        "test_acc": accuracy(model, data["test_x"], data["test_y"], eval_batch_size),
        "history": history,
    }
