"""The interface every family implements; training, transfer and analysis use only this."""

from __future__ import annotations

import torch
from torch import nn


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

    def all_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser the model holds (an attribute, or a list of them), by name: with
        state_dict() the whole training state, which a resumed run restores."""
        found = {}
        for name, value in vars(self).items():
            group = value if isinstance(value, (list, tuple)) else [value]
            for i, opt in enumerate(group):
                if isinstance(opt, torch.optim.Optimizer):
                    found[name if group is not value else f"{name}.{i}"] = opt
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

    def train_step(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> float:
        """One optimiser step on a minibatch; returns the loss (may be nan/inf on divergence)."""
        raise NotImplementedError

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
