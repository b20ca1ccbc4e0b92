"""Negative-sample strategies for label-embedding FF (PROTOCOL section 3, RQ1).

Each strategy maps a minibatch of positives (images x in [0, 1], true labels y) to negatives
(images, labels); the caller embeds the labels. All randomness comes from `gen`, so a seed fixes
the negatives. Negatives are drawn afresh for every minibatch.
"""

from __future__ import annotations

import torch

N_CLASSES = 10
STRATEGIES: dict = {}


def strategy(name):
    def deco(fn):
        STRATEGIES[name] = fn
        return fn

    return deco


def random_wrong_labels(y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Uniform over the 9 labels other than y."""
    shift = torch.randint(1, N_CLASSES, y.shape, generator=gen, device=y.device)
    return (y + shift) % N_CLASSES


def random_partner(y: torch.Tensor, gen: torch.Generator, must_differ: bool) -> torch.Tensor:
    """An index into the batch for every sample; with must_differ, a sample of another class."""
    n = y.shape[0]
    idx = torch.randint(0, n, (n,), generator=gen, device=y.device)
    if must_differ:
        if (y == y[0]).all():
            raise ValueError("class_confusion needs at least two classes in a minibatch")
        bad = y[idx] == y
        while bad.any():  # resample only the collisions; a few rounds at batch size 100
            idx[bad] = torch.randint(0, n, (int(bad.sum()),), generator=gen, device=y.device)
            bad = y[idx] == y
    return idx


@strategy("random_wrong_label")
def _random_wrong_label(model, x, y, hp, gen):
    return x, random_wrong_labels(y, gen)


@strategy("hard")
def _hard(model, x, y, hp, gen):
    """The wrong label the current model finds best (argmax of goodness), or sampled by the
    softmax of goodness over the wrong labels (hp.hard_mode = softmax)."""
    with torch.no_grad():
        scores = model.label_goodness(x)  # (B, 10), one batched pass over all labels
    scores = scores.masked_fill(torch.nn.functional.one_hot(y, N_CLASSES).bool(), float("-inf"))
    if hp.hard_mode == "argmax":
        return x, scores.argmax(dim=1)
    probs = torch.softmax(scores, dim=1)
    return x, torch.multinomial(probs, 1, generator=gen).squeeze(1)


@strategy("gaussian_noise")
def _gaussian_noise(model, x, y, hp, gen):
    noise = torch.randn(x.shape, generator=gen, device=x.device) * hp.noise_sigma
    return (x + noise).clamp(0.0, 1.0), random_wrong_labels(y, gen)


@strategy("class_confusion")
def _class_confusion(model, x, y, hp, gen):
    """Another image (of another class) carrying this image's label."""
    return x[random_partner(y, gen, must_differ=True)], y


@strategy("image_mix")
def _image_mix(model, x, y, hp, gen):
    perm = torch.randperm(x.shape[0], generator=gen, device=x.device)
    w = hp.mix_weight
    return w * x + (1.0 - w) * x[perm], random_wrong_labels(y, gen)


@strategy("masked")
def _masked(model, x, y, hp, gen):
    keep = torch.rand(x.shape, generator=gen, device=x.device) < hp.mask_keep
    return x * keep, random_wrong_labels(y, gen)


@strategy("hybrid")
def _hybrid(model, x, y, hp, gen):
    """Per sample, one of hp.hybrid_components chosen uniformly at random."""
    parts = [STRATEGIES[name](model, x, y, hp, gen) for name in hp.hybrid_components]
    choice = torch.randint(0, len(parts), (x.shape[0],), generator=gen, device=x.device)
    xs = torch.stack([p[0] for p in parts])  # (K, B, D)
    ys = torch.stack([p[1] for p in parts])  # (K, B)
    rows = torch.arange(x.shape[0], device=x.device)
    return xs[choice, rows], ys[choice, rows]


def make_negatives(model, x, y, hp, gen):
    return STRATEGIES[hp.negatives](model, x, y, hp, gen)
