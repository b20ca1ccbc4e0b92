"""Seeds in lockstep: several seeds of one variant trained together, one step for all of them.

Each seed's model is built as when it trains alone (its own initialisation); its parameters are
stacked along a leading seed dimension (torch.func.stack_module_state) and a step runs the
family's own per-seed loss (PretrainModel.batch_loss) under torch.vmap, with one backward of the
summed per-seed losses (the seeds share no parameter, so each gets exactly its own gradient) and
one fused Adam per optimiser of the family over the stacked parameters (Adam is elementwise: the
same update as one Adam per seed). Each seed draws its data order and negatives from its own
generators, outside the vmap, as alone. A seed trained in a chunk equals the same seed trained
alone up to the matrix kernels' rounding (tests/test_lockstep.py states the tolerance).

The per-seed models stay the seeds' results: `sync` copies the stacked parameters back into
them (once per epoch), and evaluation, checkpoints and outputs read them as for a lone seed.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from ffmodels.families.base import reported_loss
from ffmodels.optim import Adam


class _Method(nn.Module):
    """Calls one method of `model`: functional_call runs forward only."""

    def __init__(self, model: nn.Module, method: str):
        super().__init__()
        self.model = model
        self.method = method

    def forward(self, *args):
        return getattr(self.model, self.method)(*args)


class _SeedScorer:
    """What a model-dependent negative strategy (`hard`) reads for one seed: that seed's label
    goodness, computed for every seed of the chunk in one vmapped pass the first time any seed
    asks within a step."""

    def __init__(self, chunk: Lockstep, views: list[torch.Tensor], seed_index: int, cache: dict):
        self.chunk, self.views, self.index, self.cache = chunk, views, seed_index, cache

    def label_goodness(self, x: torch.Tensor) -> torch.Tensor:
        if x is not self.views[self.index]:
            raise ValueError("lockstep: a negative strategy scored images other than the seed's minibatch")
        if "scores" not in self.cache:
            self.cache["scores"] = self.chunk.call("label_goodness", torch.stack(self.views))
        return self.cache["scores"][self.index]


class Lockstep:
    """The training state of a chunk of seeds of one variant (models: one per seed, built as
    alone). step() trains every seed one minibatch; sync() writes the stacked parameters back
    into the models of the seeds named (the interface of ffmodels.train's one-seed trainer)."""

    def __init__(self, models: list[nn.Module]):
        if not all(type(m).lockstep for m in models):
            raise ValueError(f"lockstep: family {models[0].family} trains one seed at a time")
        self.models = models
        self.template = copy.deepcopy(models[0])  # its own parameters are never read
        # stack_module_state takes every parameter, the unused ones too: same names as the models
        params, self.buffers = stack_module_state(models)
        # Under vmap, F.linear's weight gradient comes in the transposed layout of the stacked
        # weight, which the fused Adam would copy in and out on every step (about a tenth of bp's
        # step on the CPU). A linear weight is therefore held as its transpose, contiguous (the
        # tensor Adam updates), and handed to the model as a view of it (values unchanged).
        self.transposed = {f"{n}.weight" for n, m in models[0].named_modules() if isinstance(m, nn.Linear)}
        self.leaves = {
            n: p.detach().mT.contiguous().requires_grad_() if n in self.transposed else p for n, p in params.items()
        }
        names = {id(p): n for n, p in models[0].named_parameters()}
        self.optimizers = {}
        for name, opt in models[0].all_optimizers().items():
            owned = [self.leaves[names[id(p)]] for p in opt.params]
            self.optimizers[name] = Adam(owned, lr=opt.lr, betas=opt.betas, eps=opt.eps, fused=True)
        self.trained = [p for opt in self.optimizers.values() for p in opt.params]

    @property
    def size(self) -> int:
        return len(self.models)

    def stacked(self, name: str) -> torch.Tensor:
        """The parameter `name` of every seed, seed dimension first, in the models' shape."""
        return self.leaves[name].mT if name in self.transposed else self.leaves[name]

    def grad(self, name: str) -> torch.Tensor | None:
        """The last step's gradient of stacked(name), in its shape."""
        g = self.leaves[name].grad
        return g.mT if g is not None and name in self.transposed else g

    def call(self, method: str, *stacked, build=None):
        """The template's `method` for every seed, with that seed's parameters and its slice of
        each stacked input (tensors, or tuples of them, with the seed dimension first);
        build(*inputs) -> args, if given, makes the method's arguments from one seed's inputs."""
        module = _Method(self.template, method)
        params = {k: self.stacked(k) for k in self.leaves}
        state = {f"model.{k}": v for k, v in {**params, **self.buffers}.items()}

        def one(params, *inputs):
            return functional_call(module, params, build(*inputs) if build else inputs)

        return vmap(one)(state, *stacked)

    def step(self, xs: torch.Tensor, ys: torch.Tensor, gens: list[torch.Generator]) -> torch.Tensor:
        """One step of every seed on its minibatch (xs: (S, B, ...), ys: (S, B)); returns the
        (S,) losses on the device (nan where a seed's auxiliary loss is not finite)."""
        cache: dict = {}
        views = list(xs.unbind(0))
        # each seed's own model draws its negatives: its buffers are its own (its parameters are
        # the last epoch's; the goodness a strategy reads is the live one, from the scorer)
        negs = [
            self.models[s].negatives(views[s], ys[s], gens[s], scorer=_SeedScorer(self, views, s, cache))
            for s in range(self.size)
        ]
        if negs[0] is None:
            loss, aux = self.call("batch_loss", xs, ys, build=lambda x, y: (x, y, None))
        elif all(n[0] is views[s] for s, n in enumerate(negs)):
            # negatives that are the seed's own images with other labels: batch_loss gets the
            # same tensor twice, which selects its shared-image fast path (positive_negative_activations)
            y_neg = torch.stack([n[1] for n in negs])
            loss, aux = self.call("batch_loss", xs, ys, y_neg, build=lambda x, y, yn: (x, y, (x, yn)))
        else:
            x_neg, y_neg = (torch.stack(part) for part in zip(*negs))
            loss, aux = self.call("batch_loss", xs, ys, (x_neg, y_neg))
        # torch.autograd.grad, not backward: backward copies every vmapped gradient into .grad
        # (AccumulateGrad cannot take it over)
        grads = torch.autograd.grad((loss + aux).sum(), self.trained, allow_unused=True)
        for p, g in zip(self.trained, grads):
            p.grad = g
        for opt in self.optimizers.values():
            opt.step()
        return reported_loss(loss.detach(), aux.detach())

    @torch.no_grad()
    def sync(self, seeds: list[int]) -> None:
        """Copy the stacked parameters of the seeds at these positions into their models."""
        for s in seeds:
            for name, p in self.models[s].named_parameters():
                p.copy_(self.stacked(name)[s])

    def rollback(self, position: int) -> None:
        """A seed whose epoch went non-finite: its model still holds its last good epoch (sync
        skipped it), which is its result; its stacked slot is left to run on, never read again."""

    def start_epoch(self, epoch: int) -> None:
        for model in (self.template, *self.models):
            model.train()
            model.on_epoch_start(epoch)

    def optimizer_states(self) -> dict:
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}

    def load_optimizer_states(self, states: dict) -> None:
        for name, opt in self.optimizers.items():
            opt.load_state_dict(states[name])
