"""The interface every family implements; training, transfer and analysis use only this."""

from __future__ import annotations

import torch
from torch import nn

from ffmodels.optim import Adam


def adam(params, lr: float) -> Adam:
    """Adam with torch's fused kernel (CPU and CUDA), every family's optimiser: the update of
    unfused Adam up to float rounding, in one pass over the parameters instead of about ten: on
    the CPU, about a third of the time of the unfused step."""
    return Adam(params, lr=lr, fused=True)


def reported_loss(loss: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
    """The loss a run reports: nan where the auxiliary loss is not finite (a collapse), else the loss."""
    return torch.where(torch.isfinite(aux), loss, torch.full_like(loss, float("nan")))


class PretrainModel(nn.Module):
    family: str = ""
    HParams: type = object
    ARCH_KEYS: tuple[str, ...] = ()  # keys that define the architecture (random-init baseline)
    uses_label_input: bool = False  # True: the label is written into the input pixels
    # False: the model has no classifier of its own (predict is undefined); its source accuracy
    # is that of the common linear probe on its frozen features, fitted on the source task.
    has_classifier: bool = True
    # A family whose untrained network gives exactly the transfer features of this other family's
    # (e.g. an FF variant with the same layers) shares that family's random-init baseline.
    baseline_family: str | None = None
    # True: the network normalises with running statistics (BatchNorm), which an untrained
    # network has only at their initial values; its random init then also comes calibrated
    # (ffmodels.calibration: the statistics estimated on the source images, no weight changed).
    has_running_statistics: bool = False

    def __init__(self, hp, in_dim: int, n_classes: int):
        super().__init__()
        self.hp = hp
        self.in_dim = in_dim
        self.n_classes = n_classes

    def all_optimizers(self) -> dict[str, Adam]:
        """Every optimiser the model holds (an attribute, or a list of them), by name: with
        state_dict() the whole training state, which a resumed run restores."""
        found = {}
        for name, value in vars(self).items():
            group = value if isinstance(value, (list, tuple)) else [value]
            for i, opt in enumerate(group):
                if isinstance(opt, Adam):
                    found[name if group is not value else f"{name}.{i}"] = opt
                elif isinstance(opt, torch.optim.Optimizer):  # it would never be stepped or saved
                    raise TypeError(
                        f"{self.family}: optimiser {name} is a torch.optim one; make it with families.base.adam"
                    )
        return found

    def on_epoch_start(self, epoch: int) -> None:
        """Called before each training epoch (1-based): for schedules, e.g. layer-wise training."""

    def epoch_diagnostics(self, data: dict, batch_size: int) -> dict:
        """Extra numbers recorded in the per-epoch history after each epoch (validation split only)."""
        return {}

    def normalisation_pass(self, x: torch.Tensor) -> None:
        """A forward pass in training mode through every layer, as in training but without a
        loss or step (families with running statistics: their calibration)."""
        raise NotImplementedError

    # True: the family's step is negatives(), then batch_loss() of one seed's parameters, then
    # one step of every optimiser: several seeds can then train in lockstep (ffmodels.lockstep,
    # batch_loss under torch.vmap). False: a family with its own train_step (e.g. running
    # statistics updated in the forward) trains one seed per job.
    lockstep: bool = False

    def negatives(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator, scorer=None):
        """What batch_loss compares the positives with, drawn from `gen` (None: no negatives).
        scorer: what a model-dependent strategy reads the goodness from (default: this model)."""
        return None

    def batch_loss(self, x: torch.Tensor, y: torch.Tensor, negatives) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, aux) of one minibatch: the loss the run reports and the auxiliary weights' own
        loss (0 if none). Their parameters are disjoint, so one backward of loss + aux gives each
        optimiser exactly its own gradient."""
        raise NotImplementedError

    def train_step(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """One step of every optimiser on a minibatch; returns the loss as a 0-d tensor on the
        model's device (nan when the auxiliary loss is not finite; may be nan/inf on divergence),
        so that the training loop reads it once per epoch, not once per step."""
        loss, aux = self.batch_loss(x, y, self.negatives(x, y, gen))
        optimizers = list(self.all_optimizers().values())
        for opt in optimizers:
            opt.zero_grad()
        (loss + aux).backward()
        for opt in optimizers:
            opt.step()
        return reported_loss(loss.detach(), aux.detach())

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class predictions for a batch of plain images."""
        raise NotImplementedError

    def activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's activity for a batch of (embedded) inputs."""
        raise NotImplementedError

    @torch.no_grad()
    def layer_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's frozen features, as features(x, 'all') concatenates them (for the
        per-layer analyses): by default its activations."""
        return self.activations(x)

    @torch.no_grad()
    def features(self, x: torch.Tensor, layers: str) -> torch.Tensor:
        """Frozen features for the transfer probe: 'all' hidden layers concatenated, or 'last'.
        For label-input models the caller has already filled the label pixels."""
        hs = self.layer_features(x)
        return hs[-1] if layers == "last" else torch.cat(hs, dim=1)
