"""ffmodels.optim.Adam is torch.optim.Adam's update, bit for bit, without importing the compiler."""

import subprocess
import sys

import pytest
import torch

from ffmodels.optim import Adam


def train(make_opt, steps=25, resume_at=None):
    """A small MLP trained on random data; one parameter never gets a gradient (as an unused
    layer of a family). resume_at: the optimiser is rebuilt there from its state_dict."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    unused = torch.nn.Parameter(torch.ones(3))
    params = [*net.parameters(), unused]
    opt = make_opt(params)
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        if step == resume_at:
            saved = opt.state_dict()
            opt = make_opt(params)
            opt.load_state_dict(saved)
        x, y = torch.randn(32, 20, generator=gen), torch.randint(0, 4, (32,), generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in params], opt


@pytest.mark.parametrize("fused", [True, None])
def test_the_same_parameters_and_state_as_torch_adam(fused):
    ours, ours_opt = train(lambda ps: Adam(ps, lr=3e-3, fused=fused))
    theirs, theirs_opt = train(lambda ps: torch.optim.Adam(ps, lr=3e-3, fused=fused))
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))  # bit for bit
    assert not torch.equal(ours[0], train(lambda ps: Adam(ps, lr=3e-3, fused=fused), steps=0)[0][0])  # it trained
    a, b = ours_opt.state_dict(), theirs_opt.state_dict()
    assert a["state"].keys() == b["state"].keys() == {0, 1, 2, 3}  # the unused parameter has none
    for i in a["state"]:
        for key in ("step", "exp_avg", "exp_avg_sq"):
            x, y = a["state"][i][key], b["state"][i][key]
            assert torch.equal(x, y) and x.dtype == y.dtype and x.device == y.device


@pytest.mark.parametrize("fused", [True, None])
def test_rebuilt_from_its_state_dict_it_continues_as_if_never_stopped(fused):
    straight, _ = train(lambda ps: Adam(ps, lr=3e-3, fused=fused))
    resumed, _ = train(lambda ps: Adam(ps, lr=3e-3, fused=fused), resume_at=11)
    assert all(torch.equal(a, b) for a, b in zip(straight, resumed))


def test_a_state_of_other_parameters_is_refused():
    saved = Adam([torch.nn.Parameter(torch.ones(2))], lr=1e-3).state_dict()
    with pytest.raises(ValueError, match="1 parameters, this optimiser has 2"):
        Adam([torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))], lr=1e-3).load_state_dict(saved)
    # a state of the same number of parameters in another shape (e.g. a weight saved transposed)
    p = torch.nn.Parameter(torch.ones(2, 3))
    opt = Adam([p], lr=1e-3)
    p.grad = torch.ones(2, 3)
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match=r"parameter 0 has shape \[\(2, 3\)\], the parameter \(3, 2\)"):
        Adam([torch.nn.Parameter(torch.ones(3, 2))], lr=1e-3).load_state_dict(saved)


def test_training_with_it_does_not_import_the_compiler():
    """What the module exists for: torch.optim.Adam would import torch._dynamo (checked too, so
    that this test notices the day torch stops doing so and the module can go)."""
    code = """
import sys, torch
from ffmodels.optim import Adam
from torch.func import functional_call, stack_module_state, vmap
net = torch.nn.Linear(4, 2)
opt = Adam(net.parameters(), lr=1e-3, fused=True)
net(torch.ones(3, 4)).sum().backward(); opt.step(); opt.load_state_dict(opt.state_dict())
params, _ = stack_module_state([net, torch.nn.Linear(4, 2)])
vmap(lambda p, x: functional_call(net, p, (x,)))(params, torch.ones(2, 3, 4)).sum().backward()
print('ours', 'torch._dynamo' in sys.modules)
torch.optim.Adam(net.parameters())
print('torch', 'torch._dynamo' in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["ours False", "torch True"]


def test_a_gradient_or_state_in_another_layout_is_read_as_its_values():
    """torch's fused kernel alone would misread a transposed gradient (it walks memory in the
    parameter's order): the fused step equals the plain one whatever the layouts, and a
    parameter laid out as its gradient (ffmodels.lockstep does so) works too."""
    torch.manual_seed(0)
    w = torch.randn(3, 4, 5)
    grads = [torch.randn(3, 5, 4).transpose(1, 2) for _ in range(3)]

    def run(param_layout_of_grad: bool, fused):
        p = torch.nn.Parameter(
            torch.empty_strided(w.shape, grads[0].stride()).copy_(w) if param_layout_of_grad else w.clone()
        )
        opt = Adam([p], lr=0.1, fused=fused)
        for i, g in enumerate(grads):
            if i == 1:  # a resumed state in the other layout
                saved = opt.state_dict()
                saved["state"][0] = {
                    k: v.transpose(1, 2).contiguous().transpose(1, 2) if v.dim() else v
                    for k, v in saved["state"][0].items()
                }
                opt.load_state_dict(saved)
            p.grad = g
            opt.step()
        return p.detach()

    plain = run(False, None)
    for layout in (False, True):
        assert torch.allclose(run(layout, True), plain, atol=1e-6, rtol=0)


def test_a_family_holding_a_torch_optimiser_is_told_to_use_ours():
    """all_optimizers (training, lockstep, resume) steps and saves only ffmodels.optim.Adam: a
    torch.optim optimiser in a new family would silently never step; it is refused by name."""
    from ffmodels.families.base import PretrainModel

    class Mine(PretrainModel):
        family = "mine"

    model = Mine(None, 4, 2)
    model.layer = torch.nn.Linear(4, 2)
    model.optimizer = torch.optim.SGD(model.layer.parameters(), lr=0.1)
    with pytest.raises(
        TypeError, match="mine: optimiser optimizer is a torch.optim one; make it with families.base.adam"
    ):
        model.all_optimizers()
