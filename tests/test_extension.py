"""A researcher's new FF variant: one @register'd class plus config, nothing else."""

import copy
import dataclasses

import pytest
import torch
import yaml

from ffmodels.config import ConfigError, check_config, variant_hparams
from ffmodels.families import FAMILIES, build, register
from ffmodels.families.ff import FFHParams, FFNet, ff_loss, goodness
from tests.conftest import REPO


@pytest.fixture
def scaled_ff():
    @dataclasses.dataclass(frozen=True)
    class ScaledHParams(FFHParams):
        loss_scale: float

    @register
    class ScaledFF(FFNet):
        family = "scaled_ff"
        HParams = ScaledHParams

        def layer_losses(self, hs, sign):
            return [self.hp.loss_scale * ff_loss(goodness(h, self.hp.goodness), sign, self.hp.threshold) for h in hs]

    yield ScaledFF
    del FAMILIES["scaled_ff"]


def test_a_new_family_is_config_checked_built_and_trained(scaled_ff):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["families"]["scaled_ff"] = dict(config["families"]["ff"], loss_scale=0.5)
    config["variants"]["scaled"] = {"family": "scaled_ff"}
    config["tables"]["rq1_negative_strategies"]["variants"].append("scaled")
    check_config(config)
    hp = variant_hparams(config, "scaled")
    hp["hidden"] = [16]
    torch.manual_seed(0)
    model = build(hp, in_dim=784, n_classes=10)
    assert isinstance(model, scaled_ff) and model.hp.loss_scale == 0.5
    loss = model.train_step(torch.rand(20, 784), torch.arange(20) % 10, torch.Generator().manual_seed(0))
    assert loss > 0

    broken = copy.deepcopy(config)
    del broken["families"]["scaled_ff"]["loss_scale"]
    with pytest.raises(ConfigError, match=r"families\.scaled_ff\.loss_scale: missing"):
        check_config(broken)
