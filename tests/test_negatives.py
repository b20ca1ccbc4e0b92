"""Each negative strategy obeys its definition in PROTOCOL section 3."""

import pytest
import torch

from ffmodels.families.ff import CORE_RECIPE_OFF, FFHParams, FFNet
from ffmodels.negatives import LABEL_FREE_STRATEGIES, STRATEGIES, make_negatives

B = 400


def hparams(**kw):
    base = dict(
        hidden=[20, 20],
        epochs=1,
        batch_size=B,
        lr=0.03,
        goodness="mean",
        threshold=2.0,
        norm_eps=1e-4,
        negatives="random_wrong_label",
        hard_mode="argmax",
        noise_sigma=0.3,
        mask_keep=0.7,
        mix_weight=0.5,
        hybrid_components=["random_wrong_label", "hard", "gaussian_noise"],
    )
    base.update(CORE_RECIPE_OFF)  # upstream's recipe keys at the protocol's values
    base.update(kw)
    return FFHParams(**base)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    return torch.rand(B, 784, generator=g), torch.arange(B) % 10


def negatives(name, x, y, model=None, seed=0, **kw):
    hp = hparams(negatives=name, **kw)
    model = model or (torch.manual_seed(0), FFNet(hp, 784, 10))[1]
    return make_negatives(model, x, y, hp, torch.Generator().manual_seed(seed))


def test_every_strategy_of_the_protocol_is_registered():
    assert set(STRATEGIES) == {
        "random_wrong_label",
        "hard",
        "gaussian_noise",
        "hybrid",
        "class_confusion",
        "image_mix",
        "masked",
        "hybrid_image",
    }
    assert set(LABEL_FREE_STRATEGIES) <= set(STRATEGIES)


@pytest.mark.parametrize("name", ["random_wrong_label", "hard", "gaussian_noise", "hybrid", "image_mix", "masked"])
def test_wrong_label_strategies_never_use_the_true_label(name, batch):
    x, y = batch
    _, y_neg = negatives(name, x, y)
    assert y_neg.shape == y.shape
    assert not (y_neg == y).any()
    assert y_neg.min() >= 0 and y_neg.max() <= 9


def test_random_wrong_label_is_uniform_over_the_nine_others(batch):
    x, y = batch
    y = torch.full((9000,), 3)
    _, y_neg = negatives("random_wrong_label", torch.zeros(9000, 784), y)
    counts = torch.bincount(y_neg, minlength=10)
    assert counts[3] == 0
    others = counts[torch.arange(10) != 3].float()
    assert ((others - 1000).abs() < 150).all(), counts  # 1000 expected each, sd about 30


class ScriptedModel:
    """Stands in for an FF net with known label goodness."""

    def __init__(self, scores):
        self.scores = scores

    def label_goodness(self, x):
        return self.scores


def test_hard_picks_the_wrong_label_the_model_scores_highest(batch):
    x, y = batch
    scores = torch.rand(B, 10, generator=torch.Generator().manual_seed(3))
    scores[torch.arange(B), y] = 10.0  # the true label always scores best: it must be skipped
    expected = scores.clone()
    expected[torch.arange(B), y] = -1.0
    _, y_neg = negatives("hard", x, y, model=ScriptedModel(scores))
    assert torch.equal(y_neg, expected.argmax(dim=1))


def test_hard_softmax_mode_follows_the_goodness_of_wrong_labels():
    n = 4000
    y = torch.zeros(n, dtype=torch.long)
    scores = torch.full((n, 10), -30.0)
    scores[:, 0] = 100.0  # true label
    scores[:, 4] = 1.0
    scores[:, 7] = 1.0 + torch.log(torch.tensor(3.0))  # three times as likely as label 4
    _, y_neg = negatives("hard", torch.zeros(n, 784), y, model=ScriptedModel(scores), hard_mode="softmax")
    assert set(y_neg.unique().tolist()) <= {4, 7}
    share7 = (y_neg == 7).float().mean().item()
    assert abs(share7 - 0.75) < 0.03


def test_gaussian_noise_is_the_specified_noise_clipped_to_the_pixel_range(batch):
    x, y = batch
    x_neg, _ = negatives("gaussian_noise", x, y, seed=5)
    # Recreate the draw: the strategy's first use of the generator is the N(0, 1) noise.
    z = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(x_neg, (x + 0.3 * z).clamp(0, 1))
    assert x_neg.min() >= 0 and x_neg.max() <= 1
    assert abs((x_neg - x).std().item() - 0.3) < 0.1  # clipping only shrinks the spread a little


def test_class_confusion_is_another_class_image_with_this_label(batch):
    x, y = batch
    x_neg, y_neg = negatives("class_confusion", x, y)
    assert torch.equal(y_neg, y)
    # Every negative is some other image of the batch, of a different class.
    match = (x_neg[:, None, :] == x[None, :, :]).all(dim=2)  # (B, B)
    assert match.any(dim=1).all()
    src = match.float().argmax(dim=1)
    assert (y[src] != y).all()


def test_image_mix_is_half_this_image_half_another(batch):
    x, y = batch
    x_neg, _ = negatives("image_mix", x, y)
    other = (x_neg - 0.5 * x) / 0.5
    match = ((other[:, None, :] - x[None, :, :]).abs() < 1e-5).all(dim=2)
    assert match.any(dim=1).all()


def test_masked_keeps_about_seventy_percent_of_pixels(batch):
    x, y = batch
    x_neg, _ = negatives("masked", x, y)
    kept = x_neg == x
    assert ((x_neg == 0) | kept).all()
    assert abs(kept.float().mean().item() - 0.7) < 0.01


def test_hybrid_mixes_its_components_per_sample(batch):
    x, y = batch
    x_neg, y_neg = negatives("hybrid", x, y)
    same_image = (x_neg == x).all(dim=1).float().mean().item()
    # random_wrong_label and hard keep the image (2 of 3), gaussian_noise changes it.
    assert 0.55 < same_image < 0.78


def test_hybrid_cannot_contain_itself():
    with pytest.raises(ValueError, match="hybrid_components"):
        hparams(hybrid_components=["hybrid", "hard"])


def test_negatives_are_reproducible_from_the_seed(batch):
    x, y = batch
    for name in set(STRATEGIES) - set(LABEL_FREE_STRATEGIES):  # label-free ones: tests/test_label_free_ff.py
        a, b = negatives(name, x, y, seed=11), negatives(name, x, y, seed=11)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]), name
