"""CwC-FF: channel-wise competitive Forward-Forward, as published (PROTOCOL section 7).

Papachristodoulou, Kyrkou, Timotheou, Theocharides, "Convolutional Channel-wise Competitive
Learning for the Forward-Forward Algorithm", AAAI 2024 (arXiv:2312.12668); code
github.com/andreaspapac/CwComp. What this module takes from that code (paths in that repository):

- Block (src/Layer_cnn.py, Conv_Layer.forward): conv k x k (stride 1, padding 1) -> ReLU ->
  max-pool 2x2 (only where the block pools) -> BatchNorm2d(eps=1e-4). Dropout is 0 in every run.
- Network (src/Models.py, CW_Comp with CFSE=True; channels from src/configure.py): channels
  [20, 80, 240, 480]; block i (0-based) is a grouped convolution with groups = n_classes and
  max-pools when i is odd, so 28x28 -> 28 -> 14 -> 14 -> 7. In a grouped block the class-k
  output channels see only the class-k channels of the block below (the channel-wise feature
  separator); the plain blocks mix all channels. Padding is kernel_size // 2 (published: 1, with
  kernel 3).
- Goodness (Conv_Layer.goodness_factorCW): the output channels are split into n_classes
  contiguous groups; group k's goodness is the mean of squares of the block output (after
  BatchNorm) over its channels and positions.
- Loss (default loss_criterion 'CwC_CE'): nn.CrossEntropyLoss over the n_classes group
  goodnesses with the true label; no temperature or scale. (The 'CwC' option is the same
  softmax cross-entropy written out, with the goodness clamped to [-50, 50].)
- Optimiser: one Adam per block (lr 0.01, default betas) over the conv and BatchNorm
  parameters; each block trains on the detached output of the block below, computed before
  that block's own step in the same minibatch.
- Schedule (CW_Comp.start_end, MNIST, ILT='Acc'): block i trains in epochs [s_i, e_i) counted
  from 0: [0, 2), [0, 3), [0, 4), [0, 5), i.e. epochs 1-2, 1-3, 1-4, 1-5 counted from 1
  (train_from / train_until here, inclusive). Outside its epochs a block still runs forward in
  training mode, so its BatchNorm uses batch statistics and keeps updating its running
  statistics, as in the published loop. n_epochs is 20 (src/configure.py); after epoch 5 the
  published loop trains only its softmax classifier ('Sf' predictor), which this family does not
  have.
- Prediction (CW_Comp.predict, 'Avg'/GA predictor): argmax of the last block's group goodness,
  BatchNorm in evaluation mode (running statistics).
- Input: MNIST normalised with mean 0.1307, std 0.3081 (src/Datasets.py, X_MNIST); here part of
  the model (input_mean / input_std), applied to any task's images in [0, 1].
- Fashion-MNIST, as published for training on it (config `families.cwc.tasks.fashion-mnist`,
  used by the ceiling and fine-tuning jobs, which train on the target task; ffmodels.variants):
  schedule src/Models.py CW_Comp.start_end for dataset 'FMNIST', ILT 'Acc': [0, 10), [0, 15),
  [0, 19), [0, 23), i.e. train_until 10, 15, 19, 23 (1-based, inclusive); input normalised with
  mean 0.5, std 0.5 (src/Datasets.py X_MNIST, any dataset but 'MNIST'); n_epochs 20 as for MNIST
  (src/configure.py has one default for every dataset), so block 4's [0, 23) is cut to the 20
  epochs and it trains in every epoch. A model transferred to Fashion-MNIST by the probe keeps
  its MNIST normalisation: it is part of the pretrained model.

Transfer features (PROTOCOL section 4/7): each block's rectified, pooled activity before its
BatchNorm, global-average-pooled per channel (probe_features: gap; 20+80+240+480 = 820 values
for 'all') or flattened (flat: 15680+15680+47040+23520 = 101 920 values for 'all', 23 520 for
'last'). In evaluation mode BatchNorm is a per-channel affine map, so the probe, which
standardises every feature, sees the same information as from the normalised output; the
pre-BatchNorm activity is non-negative, so "never above the dead threshold" means "never fires".
The untrained network (random-init baseline) in evaluation mode has BatchNorm's initial running
statistics (mean 0, variance 1): its blocks pass on un-normalised activity. Its calibrated
counterpart (random_init_cwc_calibrated, ffmodels.calibration) has the same weights and BatchNorm
statistics estimated by forward passes in training mode over the source training images, as a
trained network's are; both are shown, the first decides the verdicts (as for every family).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ffmodels.families import register
from ffmodels.families.base import PretrainModel, adam
from ffmodels.hparams import Checked, Domain, LayerSizes, PositiveFloat, PositiveInt

# Images per forward pass in evaluation: bounds memory, fastest on one CPU thread; results do not depend on it.
EVAL_CHUNK = 128


@dataclasses.dataclass(frozen=True)
class CwCHParams(Checked):
    channels: LayerSizes  # output channels per block
    grouped: list[bool]  # per block: grouped convolution with groups = n_classes (CFSE)
    max_pool: list[bool]  # per block: 2x2 max-pool after the ReLU
    kernel_size: PositiveInt  # odd; padding kernel_size // 2 keeps the size
    bn_eps: PositiveFloat
    bn_momentum: Annotated[float, Domain(0, 1, low_open=True)]  # 0 would never update the running statistics
    input_mean: float  # input normalisation (x - mean) / std, part of the model
    input_std: PositiveFloat
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: PositiveFloat  # Adam, one optimiser per block
    train_from: list[PositiveInt]  # per block: first epoch (1-based) it trains
    train_until: list[PositiveInt]  # per block: last epoch (inclusive) it trains
    probe_features: Literal["gap", "flat"]

    def __post_init__(self):
        super().__post_init__()
        n = len(self.channels)
        for key in ("grouped", "max_pool", "train_from", "train_until"):
            if len(getattr(self, key)) != n:
                raise ValueError(f"{key}: needs one entry per block ({n}, as channels)")
        if any(s < 1 or e < s for s, e in zip(self.train_from, self.train_until)):
            raise ValueError("train_from: each block needs 1 <= train_from <= train_until")
        late = [i + 1 for i, s in enumerate(self.train_from) if s > self.epochs]
        if late:
            raise ValueError(
                f"train_from: block(s) {late} would start after the last epoch ({self.epochs}) and never train"
            )
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError("kernel_size: must be odd (same-size padding)")


def group_goodness(h: torch.Tensor, n_groups: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, n_groups): mean of squares over each contiguous channel group."""
    b, c = h.shape[:2]
    return h.reshape(b, n_groups, c // n_groups, -1).pow(2).mean(dim=(2, 3))


def cwc_loss(h: torch.Tensor, y: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Softmax cross-entropy over the group goodnesses with the true label (batch mean)."""
    return F.cross_entropy(group_goodness(h, n_groups), y)


class CwCBlock(nn.Module):
    """conv -> ReLU -> (max-pool) -> BatchNorm, as src/Layer_cnn.py Conv_Layer.forward."""

    def __init__(self, c_in: int, c_out: int, groups: int, pool: bool, hp: CwCHParams):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, hp.kernel_size, padding=hp.kernel_size // 2, groups=groups)
        self.pool = pool
        self.bn = nn.BatchNorm2d(c_out, eps=hp.bn_eps, momentum=hp.bn_momentum)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(activity, output): the rectified (pooled) activity and the normalised output."""
        a = F.relu(self.conv(x))
        if self.pool:
            a = F.max_pool2d(a, 2, 2)
        return a, self.bn(a)


@register
class CwCNet(PretrainModel):
    family = "cwc"
    HParams = CwCHParams
    ARCH_KEYS = (
        "channels",
        "grouped",
        "max_pool",
        "kernel_size",
        "bn_eps",
        "bn_momentum",
        "input_mean",
        "input_std",
        "probe_features",
    )
    uses_label_input = False
    has_classifier = True
    has_running_statistics = True  # BatchNorm in every block

    def __init__(self, hp: CwCHParams, in_dim: int, n_classes: int):
        super().__init__(hp, in_dim, n_classes)
        side = math.isqrt(in_dim)
        if side * side != in_dim:
            raise ValueError(f"cwc: input of {in_dim} values is not a square single-channel image")
        self.side = side
        blocks, c_in = [], 1
        for i, (c_out, grouped, pool) in enumerate(zip(hp.channels, hp.grouped, hp.max_pool)):
            if c_out % n_classes:
                raise ValueError(f"channels: block {i + 1} has {c_out} channels, not a multiple of {n_classes} classes")
            if grouped and c_in % n_classes:
                raise ValueError(f"grouped: block {i + 1} needs a multiple of {n_classes} input channels, has {c_in}")
            blocks.append(CwCBlock(c_in, c_out, n_classes if grouped else 1, pool, hp))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.optimizers = [adam(b.parameters(), lr=hp.lr) for b in self.blocks]
        self.on_epoch_start(1)  # until told otherwise, the blocks of epoch 1 train

    # -- schedule -------------------------------------------------------------------------
    def scheduled(self, epoch: int) -> list[bool]:
        return [s <= epoch <= e for s, e in zip(self.hp.train_from, self.hp.train_until)]

    def on_epoch_start(self, epoch: int) -> None:
        self.active = self.scheduled(epoch)

    # -- forward --------------------------------------------------------------------------
    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """(B, side*side) images in [0, 1] -> normalised (B, 1, side, side)."""
        return ((x - self.hp.input_mean) / self.hp.input_std).view(-1, 1, self.side, self.side)

    def block_outputs(self, x: torch.Tensor, detach: bool = True) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(activity, output) of every block; with detach, no gradient crosses from a block to
        the one below (each block learns from its own loss only)."""
        outs, h = [], self.prepare(x)
        for block in self.blocks:
            a, h = block(h.detach() if detach else h)
            outs.append((a, h))
        return outs

    @contextlib.contextmanager
    def evaluating(self):
        """BatchNorm with its running statistics, whatever mode the caller left the model in."""
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    def normalisation_pass(self, x: torch.Tensor) -> None:
        self.block_outputs(x)  # in training mode: each BatchNorm updates its running statistics

    # -- training -------------------------------------------------------------------------
    def block_losses(self, x, y) -> list[torch.Tensor]:
        """Each block's own loss on a minibatch, each block's input detached; a block that does
        not train this epoch computes its loss without a gradient."""
        h, losses = self.prepare(x), []
        for block, active in zip(self.blocks, self.active):
            with torch.set_grad_enabled(active):
                _, out = block(h)
                losses.append(cwc_loss(out, y, self.n_classes))
            h = out.detach()  # the input of the block above: this block's output before its step
        return losses

    def train_step(self, x, y, gen):
        every = self.block_losses(x, y)
        total = x.new_zeros(())  # a tensor: the loop reads it once per epoch
        for loss in every:
            total = total + loss.detach()
        losses = [loss for loss, active in zip(every, self.active) if active]
        if losses:
            # Each loss depends only on its own block's parameters (detached inputs), so one
            # backward gives each block exactly its own gradient; each block has its own Adam.
            for opt, active in zip(self.optimizers, self.active):
                if active:
                    opt.zero_grad()
            torch.stack(losses).sum().backward()
            for opt, active in zip(self.optimizers, self.active):
                if active:
                    opt.step()
        return total

    # -- evaluation -----------------------------------------------------------------------
    @torch.no_grad()
    def per_block(self, x: torch.Tensor, fn, only_last: bool = False) -> list:
        """fn(activity, output) for every block (or the last only), BatchNorm in evaluation mode;
        only fn's results are kept, not the activity maps. Runs EVAL_CHUNK images at a time,
        which bounds the memory of a large evaluation batch (in evaluation mode every image is
        processed on its own, so the results do not depend on the chunking)."""
        chunks = []
        with self.evaluating():
            for i in range(0, len(x), EVAL_CHUNK):
                results, h = [], self.prepare(x[i : i + EVAL_CHUNK])
                for k, block in enumerate(self.blocks):
                    a, h = block(h)
                    if not only_last or k == len(self.blocks) - 1:
                        results.append(fn(a, h))
                chunks.append(results)
        return [torch.cat(parts) for parts in zip(*chunks)]

    def all_group_goodness(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, n_classes) group goodness of every block."""
        return self.per_block(x, lambda a, out: group_goodness(out, self.n_classes))

    @torch.no_grad()
    def predict(self, x):
        return self.per_block(x, lambda a, out: group_goodness(out, self.n_classes), only_last=True)[0].argmax(dim=1)

    def _probe_view(self, a: torch.Tensor) -> torch.Tensor:
        return a.mean(dim=(2, 3)) if self.hp.probe_features == "gap" else a.flatten(1)

    @torch.no_grad()
    def layer_features(self, x):
        return self.per_block(x, lambda a, out: self._probe_view(a))

    @torch.no_grad()
    def features(self, x, layers):
        feats = self.per_block(x, lambda a, out: self._probe_view(a), only_last=layers == "last")
        return torch.cat(feats, dim=1)

    @torch.no_grad()
    def epoch_diagnostics(self, data: dict, batch_size: int) -> dict:
        """Validation accuracy of every block's own group-goodness classifier, and which blocks
        trained in the epoch just finished."""
        x, y = data["val_x"], data["val_y"]
        correct = [0] * len(self.blocks)
        for i in range(0, len(x), batch_size):
            for k, g in enumerate(self.all_group_goodness(x[i : i + batch_size])):
                correct[k] += (g.argmax(dim=1) == y[i : i + batch_size]).sum().item()
        out = {f"val_acc_block{k + 1}": c / len(x) for k, c in enumerate(correct)}
        out["trained_blocks"] = [k + 1 for k, a in enumerate(self.active) if a]
        return out
