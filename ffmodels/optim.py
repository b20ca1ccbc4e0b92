"""Adam, the update torch.optim.Adam makes, without torch.optim.Optimizer around it.

torch.optim.Optimizer imports torch._dynamo (the compiler) when it is built and on its first step:
about 1.6 s of a pipeline job's 4 s on a CPU, paid again by each of the hundreds of jobs a preset
runs. ffmodels never compiles, so its Adam keeps the same per-parameter state and calls the same
functional update (torch.optim.adam.adam, torch's fused kernel or its plain loop) with the same
arguments: the parameters after any number of steps equal torch.optim.Adam's bit for bit, and the
state_dict has torch's layout (tests/test_optim.py). Defaults are torch's (betas 0.9/0.999, eps 1e-8).
"""

from __future__ import annotations

import torch
from torch.optim.adam import adam as adam_update


def _laid_out_as(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """t itself when it has p's memory layout, else a copy of it in p's layout."""
    return t if t.stride() == p.stride() else torch.empty_like(p).copy_(t)


class Adam:
    """Adam over one group of parameters (lr, betas, eps as torch.optim.Adam; no weight decay).
    fused: torch's fused kernel (CPU and CUDA); None: torch's default for the device."""

    def __init__(self, params, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, fused: bool | None = None):
        self.params = list(params)
        self.lr, self.betas, self.eps, self.fused = lr, tuple(betas), eps, fused
        self.state: list[dict] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Drops the gradients (torch's default, set_to_none)."""
        for p in self.params:
            p.grad = None

    def _state(self, i: int, p: torch.Tensor) -> dict:
        """As torch.optim.Adam's lazy initialisation: a fused step counter lives on the
        parameter's device in float32, a plain one on the CPU."""
        state = self.state[i]
        if not state:
            state["step"] = torch.zeros((), dtype=torch.float32, device=p.device) if self.fused else torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def step(self) -> None:
        live = [(i, p) for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        states = [self._state(i, p) for i, p in live]
        grads = [p.grad for _, p in live]
        if self.fused:
            # torch's fused kernel walks the tensors' memory in the parameter's order: a gradient
            # or state in another layout (a transposed view) would be silently misread
            grads = [_laid_out_as(p, g) for (_, p), g in zip(live, grads)]
            for (_, p), s in zip(live, states):
                s["exp_avg"], s["exp_avg_sq"] = _laid_out_as(p, s["exp_avg"]), _laid_out_as(p, s["exp_avg_sq"])
        adam_update(
            [p for _, p in live],
            grads,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [],
            [s["step"] for s in states],
            foreach=None,
            capturable=False,
            differentiable=False,
            fused=self.fused,
            grad_scale=None,
            found_inf=None,
            has_complex=False,
            amsgrad=False,
            beta1=self.betas[0],
            beta2=self.betas[1],
            lr=self.lr,
            weight_decay=0.0,
            eps=self.eps,
            maximize=False,
        )

    def state_dict(self) -> dict:
        """torch.optim.Optimizer's layout: state by parameter index, one param group."""
        group = {"lr": self.lr, "betas": self.betas, "eps": self.eps, "fused": self.fused}
        return {
            "state": {i: dict(s) for i, s in enumerate(self.state) if s},
            "param_groups": [{**group, "params": list(range(len(self.params)))}],
        }

    def load_state_dict(self, saved: dict) -> None:
        (group,) = saved["param_groups"]
        if len(group["params"]) != len(self.params):
            raise ValueError(f"Adam state of {len(group['params'])} parameters, this optimiser has {len(self.params)}")
        self.state = [{} for _ in self.params]
        for i, s in saved["state"].items():
            p = self.params[int(i)]
            shapes = {tuple(v.shape) for k, v in s.items() if k != "step"}
            if shapes != {tuple(p.shape)}:
                raise ValueError(
                    f"Adam state of parameter {i} has shape {sorted(shapes)}, the parameter {tuple(p.shape)}"
                )
            self.state[int(i)] = {
                k: v.to(p.device if (k != "step" or self.fused) else "cpu", copy=True) for k, v in s.items()
            }
