"""Protocol-sensitivity job: the common probe of one model (pretrained or random init) re-run
under each setting of config `sensitivity`, each the protocol's transfer config with one knob
changed (PROTOCOL section 4)."""

from __future__ import annotations

import time

import torch

from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.transfer import ProbeSpec, probe_inputs
from ffmodels.overlay import merge
from ffmodels.runtime import provenance
from ffmodels.transfer import SPLITS, extract_layer_features, transfer


def sensitivity_job(spec: ProbeSpec) -> None:
    """The probe under every entry of spec.settings; one JSON with all of them."""
    start = time.perf_counter()
    log = get_logger(spec.log)
    tcfg, variant, seed = spec.transfer, spec.variant, spec.seed
    device, data, model, source, status = probe_inputs(spec)
    results, passes = {}, {}
    for name, overrides in spec.settings.items():
        cfg = merge(tcfg, overrides)  # one knob changed, the rest of the protocol as it is
        feats = probe_features(model, data, cfg, spec.eval_batch_size, passes)
        result = transfer(model, data, cfg, seed, spec.eval_batch_size, feats=feats)
        log.info(f"{variant} seed {seed} {name}: test {result['test_acc']:.4f} (epoch {result['best_epoch']})")
        results[name] = {"transfer_config": cfg, **result}
    log.info(f"{variant} seed {seed}: {len(results)} settings from {len(passes)} pass(es) of the network")
    write_json(
        spec.json,
        {
            "variant": variant,
            "family": spec.hp["family"],
            "seed": seed,
            "preset": spec.preset,
            "model": source,
            "status": status,
            "settings": results,
            "provenance": provenance(device, time.perf_counter() - start),
        },
    )


def probe_features(model, data: dict, cfg: dict, batch_size: int, passes: dict) -> dict:
    """The train/val/test features cfg asks for, the same values ffmodels.transfer extracts, from
    one pass of the network per distinct input: 'all' and 'last' are both views of the per-layer
    features (families/base.py: layer_features is what features(x, 'all') concatenates), and a
    model that does not read the label from its input sees the same input under every label fill.
    passes: those per-layer features by input, filled in as settings need them."""
    fill = (cfg["label_fill"], cfg["neutral_value"]) if model.uses_label_input else None
    if fill not in passes:
        passes[fill] = {s: extract_layer_features(model, data[f"{s}_x"], cfg, batch_size) for s in SPLITS}
    layers = passes[fill]
    return {s: layers[s][-1] if cfg["features"] == "last" else torch.cat(layers[s], dim=1) for s in SPLITS}
