"""Protocol-sensitivity job: the common probe of one model (pretrained or random init) re-run
under each setting of config `sensitivity`, each the protocol's transfer config with one knob
changed (PROTOCOL section 4)."""

from __future__ import annotations

import time

from ffmodels.jobs.common import get_logger, write_json
from ffmodels.jobs.transfer import ProbeSpec, probe_inputs
from ffmodels.overlay import merge
from ffmodels.runtime import provenance
from ffmodels.transfer import split_features, transfer


def sensitivity_job(spec: ProbeSpec) -> None:
    """The probe under every entry of spec.settings; one JSON with all of them."""
    start = time.perf_counter()
    log = get_logger(spec.log)
    tcfg, variant, seed = spec.transfer, spec.variant, spec.seed
    device, data, model, source, status = probe_inputs(spec)
    results, features = {}, {}
    for name, overrides in spec.settings.items():
        cfg = merge(tcfg, overrides)  # one knob changed, the rest of the protocol as it is
        # Settings that change only the probe reuse the features of an earlier setting.
        key = (cfg["features"], cfg["label_fill"], cfg["neutral_value"])
        if key not in features:
            features[key] = split_features(model, data, cfg, spec.eval_batch_size)
        result = transfer(model, data, cfg, seed, spec.eval_batch_size, feats=features[key])
        log.info(f"{variant} seed {seed} {name}: test {result['test_acc']:.4f} (epoch {result['best_epoch']})")
        results[name] = {"transfer_config": cfg, **result}
    write_json(spec.json, {"variant": variant, "family": spec.hp["family"], "seed": seed, "preset": spec.preset, "model": source,
                     "status": status, "settings": results,
                     "provenance": provenance(device, time.perf_counter() - start)})
