"""The FF core of PROTOCOL section 3 against hand-computed values."""

import math

import pytest
import torch

from ffmodels.families.ff import FFNet, embed_label, ff_loss, goodness
from tests.test_negatives import hparams


def test_label_embedding_overwrites_the_first_ten_pixels_with_a_scaled_one_hot():
    x = torch.zeros(2, 784)
    x[0, 5] = 0.3  # inside the label slot: overwritten
    x[0, 100] = 0.8
    x[1, 200] = 0.5
    out = embed_label(x, torch.tensor([2, 9]))
    assert out[0, :10].tolist() == pytest.approx([0, 0, 0.8, 0, 0, 0, 0, 0, 0, 0])
    assert out[1, :10].tolist() == pytest.approx([0] * 9 + [0.5])
    assert torch.equal(out[:, 10:], x[:, 10:])
    assert x[0, 5] == pytest.approx(0.3)  # the input is not modified in place


def test_goodness_mean_and_sum_of_squares():
    h = torch.tensor([[1.0, 2.0, 2.0, 0.0]])
    assert goodness(h, "sum").item() == pytest.approx(9.0)
    assert goodness(h, "mean").item() == pytest.approx(2.25)


def test_ff_loss_is_softplus_of_signed_margin():
    g = torch.tensor([3.0, 1.0])
    sign = torch.tensor([1.0, -1.0])
    # positive: log(1 + e^{-(3-2)}); negative: log(1 + e^{(1-2)})
    expected = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-1.0))) / 2
    assert ff_loss(g, sign, 2.0).item() == pytest.approx(expected)
    assert ff_loss(torch.tensor([0.0]), torch.tensor([1.0]), 2.0).item() == pytest.approx(math.log1p(math.exp(2.0)))


def test_layer_input_is_length_normalised():
    torch.manual_seed(0)
    net = FFNet(hparams(hidden=[8]), 784, 10)
    x = torch.rand(3, 784)
    assert torch.allclose(net.activations(x)[0], net.activations(5.0 * x)[0], atol=1e-5)


def test_no_gradient_crosses_a_layer():
    torch.manual_seed(0)
    net = FFNet(hparams(hidden=[16, 16, 16]), 784, 10)
    x = torch.rand(8, 784)
    sign = torch.tensor([1.0] * 4 + [-1.0] * 4)
    losses = net.layer_losses(net.activations(x), sign)
    losses[2].backward()  # the top layer's loss
    assert net.layers[0].linear.weight.grad is None
    assert net.layers[1].linear.weight.grad is None
    assert net.layers[2].linear.weight.grad.abs().sum() > 0


def test_train_step_gives_each_layer_only_its_own_gradient():
    """One step of the joint update equals per-layer steps on each layer's own loss."""
    torch.manual_seed(0)
    joint = FFNet(hparams(hidden=[16, 16]), 784, 10)
    x, y = torch.rand(8, 784), torch.arange(8) % 10
    joint.train_step(x, y, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    ref = FFNet(hparams(hidden=[16, 16]), 784, 10)
    x_neg = x  # random_wrong_label keeps the image; recreate its labels from the same generator
    y_neg = (y + torch.randint(1, 10, y.shape, generator=torch.Generator().manual_seed(0))) % 10
    batch = torch.cat([ref.embed(x, y), ref.embed(x_neg, y_neg)])
    sign = torch.tensor([1.0] * 8 + [-1.0] * 8)
    h1 = ref.layers[0](batch)
    h2 = ref.layers[1](h1.detach())
    for layer, h in zip(ref.layers, (h1, h2)):
        opt = torch.optim.Adam(layer.parameters(), lr=0.03)
        opt.zero_grad()
        ff_loss(goodness(h, "mean"), sign, 2.0).backward(retain_graph=True)
        opt.step()
    for a, b in zip(joint.parameters(), ref.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_prediction_is_the_label_with_most_goodness_summed_over_layers():
    torch.manual_seed(0)
    net = FFNet(hparams(hidden=[32, 32]), 784, 10)
    x = torch.rand(5, 784)
    manual = torch.stack(
        [sum(goodness(h, "mean") for h in net.activations(net.embed(x, torch.full((5,), k)))) for k in range(10)], dim=1
    )
    assert torch.allclose(net.label_goodness(x), manual, atol=1e-5)
    assert torch.equal(net.predict(x), manual.argmax(dim=1))
