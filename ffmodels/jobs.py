"""One function per pipeline job; the workflow scripts only unpack Snakemake's arguments.

Each job writes a metrics JSON with the resolved hyperparameters, the seed, the preset, and the
provenance (package versions, git commit, device, wall time).
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pandas as pd
import torch

from ffmodels import data as ffdata
from ffmodels.config import is_random_init, random_init_name
from ffmodels.families import build
from ffmodels.runtime import provenance, resolve_device
from ffmodels.tables import TITLES, comparison_table, to_markdown
from ffmodels.train import pretrain
from ffmodels.transfer import transfer


def get_logger(log_path: str | None) -> logging.Logger:
    logger = logging.getLogger("ffrepro")
    logger.setLevel(logging.INFO)
    for old in list(logger.handlers):  # one job per process, but tests call several
        old.close()
        logger.removeHandler(old)
    handler = logging.FileHandler(log_path) if log_path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger.addHandler(handler)
    return logger


def write_json(path, obj) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")


def fetch_job(filename: str, dest: str, sources: list[str], expected_md5: str, log_path: str) -> None:
    log = get_logger(log_path)
    socket.setdefaulttimeout(60)  # a stalled mirror then fails over instead of hanging the job
    try:
        used = ffdata.fetch_idx(filename, Path(dest), sources, expected_md5)
    except ffdata.DataError as err:
        log.error(str(err))
        raise
    log.info(f"{dest}: MD5 {expected_md5} verified, from {used}")


def prepare_job(raw_dir: str, out: str, val_size: int, split_seed: int) -> None:
    torch.save(ffdata.prepare_splits(Path(raw_dir), val_size, split_seed), out)


def _setup(device_name: str, threads: int) -> torch.device:
    torch.set_num_threads(threads)
    return resolve_device(device_name)


def _new_model(hp: dict, seed: int, in_dim: int, device: torch.device):
    torch.manual_seed(seed)  # on the CPU generator: the same seed gives the same init on any device
    return build(hp, in_dim=in_dim, n_classes=10).to(device)


def pretrain_job(variant: str, hp: dict, seed: int, preset: str, data_path: str, train_subset: int | None,
                 eval_batch_size: int, device_name: str, threads: int, model_out: str, metrics_out: str,
                 log_path: str) -> None:
    start = time.perf_counter()
    log = get_logger(log_path)
    device = _setup(device_name, threads)
    data = ffdata.load_splits(Path(data_path), device, train_subset)
    model = _new_model(hp, seed, data["train_x"].shape[1], device)
    log.info(f"{variant} seed {seed} on {device}: {len(data['train_x'])} training images, hp {hp}")
    result = pretrain(model, data, seed, eval_batch_size, log=log.info)
    torch.save({"hp": hp, "seed": seed, "status": result["status"], "state_dict": model.state_dict()}, model_out)
    write_json(metrics_out, {
        "variant": variant, "family": hp["family"], "seed": seed, "preset": preset, "hparams": hp,
        "train_images": len(data["train_x"]), **result,
        "provenance": provenance(device, time.perf_counter() - start),
    })


def transfer_job(variant: str, hp: dict, seed: int, preset: str, model_path: str | None, data_path: str,
                 tcfg: dict, eval_batch_size: int, device_name: str, threads: int, metrics_out: str,
                 log_path: str) -> None:
    """Probe a pretrained model (model_path) or, with model_path None, a random init of hp's family."""
    start = time.perf_counter()
    log = get_logger(log_path)
    device = _setup(device_name, threads)
    data = ffdata.load_splits(Path(data_path), device, tcfg["train_subset"])
    model = _new_model(hp, seed, data["train_x"].shape[1], device)
    source, status = "random_init", "ok"
    if model_path is not None:
        checkpoint = torch.load(model_path, map_location=device, weights_only=True)
        model.load_state_dict(checkpoint["state_dict"])
        source, status = "pretrained", checkpoint["status"]  # a collapsed source run stays marked
    result = transfer(model, data, tcfg, seed, eval_batch_size)
    log.info(f"{variant} seed {seed}: best epoch {result['best_epoch']}, val {result['val_acc']:.4f}, test {result['test_acc']:.4f}")
    write_json(metrics_out, {
        "variant": variant, "family": hp["family"], "seed": seed, "preset": preset, "hparams": hp,
        "model": source, "status": status, "transfer_config": tcfg, "probe_train_images": len(data["train_x"]),
        **result, "provenance": provenance(device, time.perf_counter() - start),
    })


def _records(paths: list[str]) -> pd.DataFrame:
    rows = []
    for path in paths:
        with open(path) as fh:
            m = json.load(fh)
        rows.append({"variant": m["variant"], "family": m["family"], "seed": m["seed"],
                     "value": 100.0 * m["test_acc"], "status": m["status"]})
    return pd.DataFrame(rows)


def table_job(table: str, metric_paths: list[str], rows: list[str], reference: str, preset: str,
              method: str, alpha: float, csv_out: str, md_out: str) -> None:
    records = _records(metric_paths)
    if reference == "random_init":
        family = dict(zip(records.variant, records.family))
        reference_of = {r: None if is_random_init(r) else random_init_name(family[r]) for r in rows}
        note = "Δ vs ref: each model minus the random init of its own family under the same probe, paired by seed."
    else:
        reference_of = {r: None if r == reference else reference for r in rows}
        note = f"Δ vs ref: each variant minus {reference}, paired by seed."
    result = comparison_table(records, rows, reference_of, method, alpha)
    result.insert(0, "preset", preset)
    result.insert(1, "table", table)
    Path(csv_out).parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(csv_out, index=False)
    notes = [note, "p: paired test by seed (Welch's t where no seeds pair), Holm-Bonferroni within the table; "
             "d: Cohen's d_z of the paired differences (pooled-sd d for Welch); CI: 95 % t-interval of the mean.",
             "Test split used once per run, for this number; selection on the validation split."]
    Path(md_out).write_text(to_markdown(result, TITLES[table], preset, notes))
