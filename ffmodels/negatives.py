"""Negative-sample strategies for label-embedding FF (PROTOCOL section 3, RQ1).

Each strategy maps a minibatch of positives (images x in [0, 1], true labels y) to negatives
(images, labels); the caller embeds the labels. All randomness comes from `gen`, so a seed fixes
the negatives. Negatives are drawn afresh for every minibatch.
"""

from __future__ import annotations

import math

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


def wrong_labels_once(x: torch.Tensor, y: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """A wrong label fixed for each training image over the whole run (families.ff.negatives_drawn
    once; upstream's R1/R2 draw (y + U{1..9}) % 10 once, before training): y + 1 + h(x) mod 9,
    h an integer hash of the image's 8-bit pixels with the run's random key (an int64 vector
    drawn from the seed). Exact integer arithmetic, so the same image gets the same label in
    every batch and epoch whatever the batch holds; over images h mod 9 is uniform, as the draw."""
    pixels = torch.round(x * 255.0).to(torch.int64)  # the prepared data are k / 255
    shift = 1 + (pixels * key).sum(dim=1) % (N_CLASSES - 1)
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


# Strategies that never read the labels (their images do not depend on y): the negatives of the
# label-free family (ffmodels/families/label_free_ff.py). They need keys FFHParams lacks.
LABEL_FREE_STRATEGIES = ("hybrid_image",)

_BLUR = (0.25, 0.5, 0.25)  # Hinton's [1/4, 1/2, 1/4] filter


def blurred_mask(n: int, side: int, passes: int, threshold: float, gen: torch.Generator, device=None) -> torch.Tensor:
    """(n, side, side) masks in {0, 1} with large regions of ones and zeros (Hinton 2022, 3.2):
    a random bit image blurred `passes` times with [1/4, 1/2, 1/4] horizontally and vertically,
    then thresholded. Borders are edge-padded (the filter sees the edge pixel repeated), so a
    constant image stays constant. Computed in float64, where the blurred values (multiples of
    2^(-4 passes)) are exact up to 13 passes; a value exactly at the threshold (11 % of pixels
    after 1 pass, 1 % after 2) takes the pixel's original bit, which keeps P(1) = 1/2 at
    threshold 0.5 (the blur commutes with b -> 1 - b)."""
    bits = torch.randint(0, 2, (n, 1, side, side), generator=gen, device=device).to(torch.float64)
    k = torch.tensor(_BLUR, dtype=torch.float64, device=bits.device)
    v = bits
    for _ in range(passes):
        v = torch.nn.functional.conv2d(torch.nn.functional.pad(v, (1, 1, 0, 0), mode="replicate"), k.view(1, 1, 1, 3))
        v = torch.nn.functional.conv2d(torch.nn.functional.pad(v, (0, 0, 1, 1), mode="replicate"), k.view(1, 1, 3, 1))
    mask = (v > threshold) | ((v == threshold) & (bits > 0.5))
    return mask.squeeze(1)


@strategy("hybrid_image")
def _hybrid_image(model, x, y, hp, gen):
    """Hinton's hybrid images (2022, section 3.2): m * x_a + (1 - m) * x_b, with x_a this image,
    x_b another image of the batch (another index, chosen without looking at labels) and m a
    blurred random mask (blurred_mask; hp.blur_passes, hp.mask_threshold). The images never
    depend on y; the labels are passed through unchanged (x_a's), for a caller that wants some."""
    if not hasattr(hp, "blur_passes") or not hasattr(hp, "mask_threshold"):
        raise ValueError(
            "negatives: hybrid_image needs the keys blur_passes and mask_threshold "
            "(family label_free_ff); this family's hyperparameters lack them"
        )
    n, d = x.shape
    side = math.isqrt(d)
    if side * side != d:
        raise ValueError(f"hybrid_image: images of {d} values are not square single-channel images")
    if n < 2:
        raise ValueError("hybrid_image needs at least two images in a minibatch")
    partner = (torch.arange(n, device=x.device) + torch.randint(1, n, (n,), generator=gen, device=x.device)) % n
    mask = blurred_mask(n, side, hp.blur_passes, hp.mask_threshold, gen, x.device).reshape(n, d).to(x.dtype)
    return mask * x + (1.0 - mask) * x[partner], y
