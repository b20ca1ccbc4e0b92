# Names shared by the rules. Paths and job lists are derived from config here, once.

import re
from pathlib import Path

from ffmodels.analysis import METRICS, MetricConfig
from ffmodels.codedeps import code_digest, script_imports
from ffmodels.config import (
    enabled_tables,
    settings_for,
    table_context as table_ctx,
    table_input_files,
    variant_names,
    table_runs,
    variant_hparams,
)
from ffmodels.names import is_calibrated, is_control, is_random_init, needs_pretraining, stage_file
from ffmodels.data import IDX_FILES
from ffmodels.families import FAMILIES
from ffmodels.figures import PLOTS, figure_specs
from ffmodels.jobs.pretrain import chunk_tag, seed_chunks
from ffmodels.tables import KINDS

SOURCE = config["data"]["source"]
TARGET = config["data"]["target"]
SEEDS = config["seeds"]
# GPU-capable jobs ask for one GPU unless the config pins them to the CPU.
GPU = 0 if config["device"] == "cpu" else 1
ENV = "../../envs/ffrepro.yaml"

# What each table reads: {table: {stage: [runs]}} (ffmodels.tables, by the table's kind).
TABLE_RUNS = table_runs(config)
TABLES = list(TABLE_RUNS)  # the enabled tables, in config order
TABLE_FILES = expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md"])
# {figure: spec}: one per table, plus config `figures` (ffmodels.figures).
FIGURES = figure_specs(config, enabled_tables(config), KINDS)
FIGURE_FILES = expand("results/figures/{figure}.png", figure=FIGURES)


wildcard_constraints:
    seed=r"\d+",
    variant=r"[A-Za-z][A-Za-z0-9_]*",
    dataset="|".join(config["data"]["md5"]),
    idx_file="|".join(IDX_FILES),


def dataset_file(dataset):
    return f"resources/data/{dataset}.pt"


def family_of(run):
    return FAMILIES[variant_hparams(config, run)["family"]]


def family_module(run):
    """The module of a run's family (none for a transfer control: it has no network)."""
    return () if is_control(run) else (family_of(run).__module__,)


def variant_pattern(names):
    """A {variant} wildcard constraint matching exactly these variants (none: matches nothing)."""
    return "|".join(re.escape(n) for n in sorted(names)) or "(?!)"


# Variants that train: those of a lockstep family train in chunks of seeds, the others alone.
_TRAINED = [v for v in variant_names(config) if needs_pretraining(v)]
LOCKSTEP_VARIANTS = variant_pattern(v for v in _TRAINED if family_of(v).lockstep)
SOLO_VARIANTS = variant_pattern(v for v in _TRAINED if not family_of(v).lockstep)
LOCKSTEP_CHUNKS = seed_chunks(SEEDS, config["pretrain"]["seed_chunk"])


def start_first(wildcards):
    """Rule priority of a training job: 1 for the families of config `start_first` (the longest
    jobs start before the others that are ready), else 0."""
    return int(family_of(wildcards.variant).family in config["start_first"])


def code(script, *modules):
    """Digest of the ffmodels code a job runs: the modules its script imports, transitively
    (ffmodels.codedeps), plus the dynamically registered modules it uses (a family, a table
    kind). A param, so an edit reruns exactly the jobs that run the edited code."""
    return code_digest(*script_imports(Path(workflow.basedir) / "workflow" / "scripts" / script), *modules)


def source_probe(variant):
    """Models without a classifier are scored on the source task by the common probe."""
    return None if family_of(variant).has_classifier else config["transfer"]


def architecture(variant):
    """The part of a variant's hyperparameters that shapes its (random-init) network; a transfer
    control has none."""
    if is_control(variant):
        return {}
    hp = variant_hparams(config, variant)
    return {k: hp[k] for k in ("family", *family_of(variant).ARCH_KEYS)}


def transfer_inputs(w):
    """A probe job reads the target splits and the pretrained model, none for a random init or
    the transfer control."""
    inputs = {"data": dataset_file(TARGET)}
    if is_calibrated(w.variant):
        inputs["calibration"] = dataset_file(SOURCE)  # its statistics are estimated on the source images
    elif needs_pretraining(w.variant):
        inputs["model"] = rules.pretrain.output.model.format(variant=w.variant, seed=w.seed)
    return inputs


def metric_config(metric, block):
    """The keys of config `block` (analysis, transfer) an analysis metric reads, and only those
    (its analysis_keys, transfer_keys), as its job will see them (ffmodels.analysis.MetricConfig)."""
    return dict(MetricConfig(metric, block, config[block]))


def analysis_inputs(w):
    """An analysis job reads both tasks' splits and the model's checkpoints, none for a random init."""
    inputs = {"source": dataset_file(SOURCE), "target": dataset_file(TARGET)}
    if not is_random_init(w.variant):
        inputs["checkpoints"] = rules.pretrain.output.checkpoints.format(variant=w.variant, seed=w.seed)
    return inputs


def table_inputs(table):
    return table_input_files(config, TABLE_RUNS[table])


def table_context(table):
    return table_ctx(config, table, TABLE_RUNS[table])


def figure_inputs(name):
    """A figure reads its table's CSV (and those of the enabled tables among `tables`), or, with
    `analysis: <metric>`, that analysis's JSON for the table's variants it applies to, over
    seeds (`variants` keeps the first N of them)."""
    spec = FIGURES[name]
    if "analysis" not in spec:
        tables = [spec["table"], *(t for t in spec.get("tables", []) if t in TABLES and t != spec["table"])]
        return {"tables": [f"results/tables/{t}.csv" for t in tables]}
    runs = TABLE_RUNS[spec["table"]][spec["analysis"]][: spec.get("variants")]
    return {"analysis": [stage_file(spec["analysis"], run, seed) for run in runs for seed in SEEDS]}


def figure_title(name):
    spec = FIGURES[name]
    return spec.get("title") or config["tables"][spec["table"]]["title"]


# Training jobs (pretrain.smk, ceiling.smk, finetune.smk): their params, files and inputs.
def training_params(stage, task, chunk):
    """The params of a training job (ffmodels.jobs.pretrain.PretrainSpec: what the job computes,
    the rerun triggers); chunk: the fixed seeds of a chunk rule, None: the {seed} wildcard's."""
    tag = "seed{seed}" if chunk is None else chunk_tag(chunk)
    return dict(
        **({} if chunk is None else {"seeds": chunk}),
        hp=lambda w: variant_hparams(config, w.variant, task),  # with the family's settings for the task it trains on
        train_subset=config["pretrain"]["train_subset"],
        checkpoint_epochs=config["pretrain"]["checkpoint_epochs"] if stage == "pretrain" else [],
        source_probe=lambda w: source_probe(w.variant),
        test_every_epoch=lambda w: w.variant in config["pretrain"]["test_every_epoch"],
        collapse=config["stats"]["collapse"],  # when the trained model counts as collapsed (ffmodels.collapse)
        task=task,
        resume_file=f"resume/{stage}/{{variant}}/{tag}.pt",  # ffmodels.resume: a killed job continues here
        code=lambda w: code("pretrain.py", family_of(w.variant).__module__),
    )


def training_files(stage, chunk, names):
    """Each seed's file of each name (model, checkpoints, metrics), one list per name."""
    ext = {"model": "pt", "checkpoints": "pt", "metrics": "json"}
    return {n: [f"results/{stage}/{{variant}}/seed{s}/{n}.{ext[n]}" for s in chunk] for n in names}


def training_inits(stage, chunk):
    """Fine-tuning starts from each seed's pretrained model; the other stages from the seeds' inits."""
    if stage != "finetune":
        return {}
    return {"init": [f"results/pretrain/{{variant}}/seed{s}/model.pt" for s in chunk]}


# Each stage: its task, its files and its inputs beside the data.
TRAINING_STAGES = {
    "pretrain": (SOURCE, ("model", "checkpoints", "metrics")),
    "ceiling": (TARGET, ("model", "metrics")),
    "finetune": (TARGET, ("model", "metrics")),
}
