"""The optimised FF training step learns exactly like a plain one.

The optimised step (FFNet.train_step: one batched forward, layer 1's image part shared by the
positive and the negative of the same image, fused Adam) must give, step for step, the losses of
the obviously correct computation below: per layer, a forward of the embedded positives and
negatives on the detached output of the layer below, the FF loss, backward, and a plain Adam step
of that layer alone. They differ only in float rounding (summation order, fused vs unfused
Adam), which stays below RTOL over the run.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from ffmodels.families.ff import FFNet
from tests.test_negatives import hparams

STEPS, B, LR, THRESHOLD, EPS = 30, 100, 0.03, 2.0, 1e-4
RTOL = 1e-4  # per-step loss, optimised vs plain; observed about 1e-7 over the 30 steps


def mnist_like(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images in [0, 1], 80% zeros, label pixels blank as in MNIST; random labels."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 784, generator=g) * (torch.rand(n, 784, generator=g) < 0.2)
    x[:, :10] = 0.0
    return x, torch.randint(0, 10, (n,), generator=g)


def plain_embed(x, labels):
    out = x.clone()
    out[:, :10] = 0.0
    for i in range(len(x)):
        out[i, labels[i]] = x[i].max()
    return out


def plain_training(layers: torch.nn.ModuleList, batches, seed: int) -> list[float]:
    """Per-layer forward / loss / backward, each layer with its own plain Adam."""
    opts = [torch.optim.Adam(layer.parameters(), lr=LR, foreach=False, fused=False) for layer in layers]
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for x, y in batches:
        y_neg = (y + torch.randint(1, 10, y.shape, generator=gen)) % 10  # random_wrong_label
        h = torch.cat([plain_embed(x, y), plain_embed(x, y_neg)])
        sign = torch.cat([torch.ones(len(x)), -torch.ones(len(x))])
        layer_losses = []
        for layer in layers:  # every layer sees the output of the layer below before any update
            inp = h.detach()
            h = F.relu(layer.linear(inp / (inp.norm(dim=1, keepdim=True) + EPS)))
            layer_losses.append(F.softplus(-sign * (h.pow(2).mean(dim=1) - THRESHOLD)).mean())
        for loss, opt in zip(layer_losses, opts):
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses.append(sum(v.item() for v in layer_losses))
    return losses


def optimised_training(net: FFNet, batches, seed: int) -> list[float]:
    gen = torch.Generator().manual_seed(seed)
    return [net.train_step(x, y, gen) for x, y in batches]


def batches(seed: int = 0):
    x, y = mnist_like(STEPS * B, seed)
    return [(x[i : i + B], y[i : i + B]) for i in range(0, STEPS * B, B)]


def fresh_net(seed: int = 0) -> FFNet:
    torch.manual_seed(seed)
    return FFNet(hparams(hidden=[500, 500], batch_size=B), 784, 10)


def test_optimised_step_learns_like_plain_per_layer_training():
    net = fresh_net()
    plain_layers = copy.deepcopy(net.layers)
    data = batches()
    fast = optimised_training(net, data, seed=7)
    slow = plain_training(plain_layers, data, seed=7)
    assert fast == pytest.approx(slow, rel=RTOL)
    assert fast[-1] < fast[0]  # it learns
    for a, b in zip(net.layers.parameters(), plain_layers.parameters()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-5)


def test_optimised_step_is_deterministic():
    runs = []
    for _ in range(2):
        net = fresh_net()
        runs.append((optimised_training(net, batches()[:10], seed=3), [p.detach().clone() for p in net.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_shared_image_layer_one_equals_the_embedded_batch():
    """labelled_activations = activations of the embedded copies, values and gradients, also for
    images with non-zero pixels in the label slot or their maximum there."""
    net = fresh_net()
    x, y = mnist_like(16, seed=1)
    x[0, 3] = 1.7  # the maximum inside the label slot
    x[1, :10] = 0.4
    labels = [y, (y + 3) % 10, torch.full((16,), 2)]
    fast = net.labelled_activations(x, labels)
    plain = net.activations(torch.cat([net.embed(x, v) for v in labels]))
    sign = torch.linspace(-1, 1, 48)
    grads = [
        torch.autograd.grad(torch.stack(net.layer_losses(hs, sign)).sum(), list(net.parameters()))
        for hs in (fast, plain)
    ]
    for a, b in zip(fast, plain):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-9)


def test_a_subclass_with_its_own_activations_keeps_them():
    class Doubled(FFNet):
        def activations(self, x, detach=True):
            return [2.0 * h for h in super().activations(x, detach)]

    torch.manual_seed(0)
    net = Doubled(hparams(hidden=[32, 32]), 784, 10)
    x, y = mnist_like(8, seed=2)
    labels = [y, (y + 1) % 10]
    expected = net.activations(torch.cat([net.embed(x, v) for v in labels]))
    for a, b in zip(net.labelled_activations(x, labels), expected):
        assert torch.equal(a, b)
