"""Transfer to the target task by a linear probe on frozen features (PROTOCOL section 4).

Selection uses only the validation split; the test split is evaluated once, with the weights
of the best-validation epoch.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from ffmodels.names import N_LABEL_PIXELS
from ffmodels.optim import Adam


class RawPixels:
    """The transfer control (PROTOCOL section 4): no network, the probe's input itself as the
    features, so that the common probe (standardisation included) fits the target images' raw
    pixels. Has what extract_features asks of a model."""

    uses_label_input = False  # the target images carry no label: every pixel is kept

    def eval(self):
        return self

    def features(self, x: torch.Tensor, layers: str) -> torch.Tensor:
        return x.flatten(1)  # 'all' and 'last' alike: there are no layers


def fill_label_slot(x: torch.Tensor, mode: str, neutral_value: float, model=None) -> torch.Tensor:
    """What a label-input model sees where the label was: zeros, a neutral value, the image, or
    (label0) label 0 written by the model's own embedding, as upstream's R3F
    (three_factor_experiment.py :332-333) and correct_transfer_experiment.py read features."""
    if mode == "image":
        return x
    if mode == "label0":
        return model.embed(x, torch.zeros(len(x), dtype=torch.long, device=x.device))
    out = x.clone()
    out[:, :N_LABEL_PIXELS] = 0.0 if mode == "zero" else neutral_value
    return out


def _probe_input(model, x: torch.Tensor, tcfg: dict) -> torch.Tensor:
    """The model in eval mode and x as the probe shows it (the label slot filled per tcfg)."""
    model.eval()
    return fill_label_slot(x, tcfg["label_fill"], tcfg["neutral_value"], model) if model.uses_label_input else x


@torch.no_grad()
def extract_features(model, x: torch.Tensor, tcfg: dict, batch_size: int) -> torch.Tensor:
    x = _probe_input(model, x, tcfg)
    return torch.cat([model.features(x[i : i + batch_size], tcfg["features"]) for i in range(0, len(x), batch_size)])


@torch.no_grad()
def extract_layer_features(model, x: torch.Tensor, tcfg: dict, batch_size: int) -> list[torch.Tensor]:
    """Per hidden layer, the features extract_features concatenates for 'all' (families/base.py
    layer_features); the last entry is 'last'. One network pass serves both settings."""
    x = _probe_input(model, x, tcfg)
    batches = [model.layer_features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return [torch.cat(layer) for layer in zip(*batches)]


def standardise(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Scale by train-split statistics; constant (e.g. dead) units keep scale 1."""
    mean, std = train.mean(dim=0), train.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return [(t - mean) / std for t in (train, *others)]


@torch.no_grad()
def _accuracy(probe, x, y) -> float:
    return (probe(x).argmax(dim=1) == y).float().mean().item()


@torch.no_grad()
def _top_class_share(probe, x) -> float:
    """The share of the images the probe assigns to its most-predicted class (ffmodels.collapse)."""
    pred = probe(x).argmax(dim=1)
    return torch.bincount(pred, minlength=probe.out_features).max().item() / len(pred)


def fit_linear_probe(feats: dict, labels: dict, probe_cfg: dict, seed: int, standardised: bool = True) -> dict:
    """Softmax regression with Adam and early stopping on validation accuracy.

    feats/labels: dicts with 'train', 'val', 'test'. Returns the best-validation epoch, its
    validation accuracy (and the share of the validation images its weights put in one class,
    for ffmodels.collapse), and the test accuracy of that epoch's weights. For the protocol
    sensitivity: batch_size None = full batch; patience None = no early stopping and no
    selection (the last epoch's weights are tested, as upstream did); standardised False =
    raw features. select_on 'test' (gap ladders only, PROTOCOL section 11): the epoch with the
    best test accuracy, upstream's RCwC and R3F; the result says selected_on 'test'.
    """
    splits = (feats["train"], feats["val"], feats["test"])
    train, val, test = standardise(*splits) if standardised else splits
    torch.manual_seed(seed)
    probe = torch.nn.Linear(train.shape[1], int(labels["train"].max()) + 1).to(train.device)
    opt = Adam(probe.parameters(), lr=probe_cfg["lr"])
    order = torch.Generator().manual_seed(seed)
    best = {"epoch": 0, "val_acc": _accuracy(probe, val, labels["val"]), "state": copy.deepcopy(probe.state_dict())}
    history = []
    batch_size = probe_cfg["batch_size"] or len(train)
    select = probe_cfg["patience"] is not None
    on_test = probe_cfg["select_on"] == "test"  # upstream's best test epoch: a test-selected number
    if on_test and select:
        raise ValueError("transfer.probe.select_on: 'test' picks the best of every epoch; it needs patience null")
    if on_test:
        best["test_acc"] = _accuracy(probe, test, labels["test"])
    for epoch in range(1, probe_cfg["max_epochs"] + 1):
        perm = torch.randperm(len(train), generator=order).to(train.device)
        for start in range(0, len(train), batch_size):
            idx = perm[start : start + batch_size]
            loss = F.cross_entropy(probe(train[idx]), labels["train"][idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        val_acc = _accuracy(probe, val, labels["val"])
        history.append({"epoch": epoch, "val_acc": val_acc})
        if on_test:
            test_acc = _accuracy(probe, test, labels["test"])
            history[-1]["test_acc"] = test_acc
            if test_acc > best["test_acc"]:
                best = {
                    "epoch": epoch,
                    "val_acc": val_acc,
                    "test_acc": test_acc,
                    "state": copy.deepcopy(probe.state_dict()),
                }
        elif val_acc > best["val_acc"] or not select:
            best = {"epoch": epoch, "val_acc": val_acc, "state": copy.deepcopy(probe.state_dict())}
        elif epoch - best["epoch"] >= probe_cfg["patience"]:
            break
    probe.load_state_dict(best["state"])
    return {
        "best_epoch": best["epoch"],
        "val_acc": best["val_acc"],
        "val_top_class_share": _top_class_share(probe, val),
        "test_acc": _accuracy(probe, test, labels["test"]),
        "epochs_run": len(history),
        "feature_dim": train.shape[1],
        "history": history,
        **({"selected_on": "test"} if on_test else {}),
    }


SPLITS = ("train", "val", "test")


def split_features(model, data: dict, tcfg: dict, batch_size: int) -> dict:
    """Frozen features of `model` on the train/val/test splits of `data`."""
    return {s: extract_features(model, data[f"{s}_x"], tcfg, batch_size) for s in SPLITS}


def transfer(model, data: dict, tcfg: dict, seed: int, batch_size: int, feats: dict | None = None) -> dict:
    """The common probe: frozen features of `model` on the train/val/test splits of `data` (the
    target task; or the source task, for the source accuracy of a model without a classifier),
    then the linear probe. feats: those features when already extracted under tcfg."""
    feats = feats if feats is not None else split_features(model, data, tcfg, batch_size)
    labels = {s: data[f"{s}_y"] for s in SPLITS}
    return fit_linear_probe(feats, labels, tcfg["probe"], seed, tcfg["standardise"])
