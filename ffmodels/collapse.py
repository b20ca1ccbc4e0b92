"""When a trained model has collapsed (PROTOCOL section 6): the one rule, applied by the training
job to each run and usable on a published summary row.

A run is collapsed when its loss went non-finite (training stopped and rolled back), or, judged
on the held-out validation split of the task it trained on, when its predictions are one class
(the most-predicted class takes at least `one_class_share` of the images) or its accuracy is at
chance (at most 100 / n_classes + `chance_margin` percentage points). The rule's margins are
config `stats.collapse`. A collapsed model is a result, never a crash, and never a reading of a
claim about feature quality.

Units: `judge` takes the accuracy as a fraction (as metrics.json records it); the summary
functions take percentages (as the tables report them).
"""

from __future__ import annotations

import math

NON_FINITE = "non-finite loss"
ONE_CLASS = "one class"
AT_CHANCE = "at chance"
REASONS = (NON_FINITE, ONE_CLASS, AT_CHANCE)


def chance_threshold(n_classes: int, rule: dict) -> float:
    """The accuracy (%) at or below which a model is at chance: 100 / n_classes + the margin."""
    return 100.0 / n_classes + rule["chance_margin"]


def judge(
    val_acc: float | None, top_share: float | None, n_classes: int, finite: bool, rule: dict | None
) -> str | None:
    """Why a run is collapsed (one of REASONS), or None when it is not.

    val_acc: validation accuracy as a fraction (0-1); top_share: the fraction of validation
    images predicted as the most-predicted class; finite: whether every training loss was
    finite; rule: config stats.collapse ({one_class_share, chance_margin}); None judges the loss
    only. A fact that is missing (None or NaN) is not judged."""
    if not finite:
        return NON_FINITE
    if rule is None:
        return None
    if _known(top_share) and top_share >= rule["one_class_share"]:
        return ONE_CLASS
    if _known(val_acc) and 100.0 * val_acc <= chance_threshold(n_classes, rule):
        return AT_CHANCE
    return None


def _known(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def top_class_share(predictions, n_classes: int) -> float:
    """The fraction of predictions that fall on the most-predicted class (torch tensor of ints)."""
    import torch

    if len(predictions) == 0:
        return math.nan
    return torch.bincount(predictions.flatten().long().cpu(), minlength=n_classes).max().item() / len(predictions)


def max_deviation(sd: float, n: int) -> float:
    """The farthest any of n values can lie from their mean, given their sample sd (n - 1
    denominator): sd (n - 1) / sqrt(n) (Samuelson's inequality; reached when n - 1 values are
    equal and one lies apart). 0 for one value; NaN when sd is unknown and n > 1."""
    if n <= 1:
        return 0.0
    if not _known(sd):
        return math.nan
    return sd * (n - 1) / math.sqrt(n)


def collapsed_from_summary(mean: float, sd: float, n: int, n_classes: int, rule: dict) -> int | None:
    """How many of a summary row's n seeds are at chance, from its mean and sample sd (%) alone:
    n when even the highest seed the summary allows, mean + max_deviation, is at or below the
    chance threshold; 0 when even the lowest, mean - max_deviation, is above it; None when the
    summary cannot tell (or is missing). Only the at-chance part of the rule can be read from
    accuracies: a model predicting one class has that class's share as its accuracy (at chance on
    a balanced task), but one predicting it for `one_class_share` of the images may reach up to
    100 (1 - one_class_share) + that share (%), e.g. 16.35 on MNIST's test split: 0 rules such a
    seed out only where mean - max_deviation is above that too. Applied to a test-split summary
    it stands in for the validation split the jobs judge on."""
    if not n or n < 1 or not _known(mean):
        return None
    spread = max_deviation(sd, int(n))
    if math.isnan(spread):
        return None
    threshold = chance_threshold(n_classes, rule)
    if mean + spread <= threshold:
        return int(n)
    if mean - spread > threshold:
        return 0
    return None
