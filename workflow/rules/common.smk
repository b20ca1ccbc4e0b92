# Names shared by the rules. Paths and job lists are derived from config here, once.

from pathlib import Path

from ffmodels.analysis import METRICS
from ffmodels.codedeps import code_digest, script_imports
from ffmodels.config import enabled_tables, is_random_init, random_init_of, table_runs, variant_hparams
from ffmodels.data import IDX_FILES
from ffmodels.families import FAMILIES
from ffmodels.figures import PLOTS, figure_specs
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


def stage_file(stage, run, seed):
    """The metrics file of one run of a stage (a training or probe stage, the protocol
    sensitivity, or an analysis metric)."""
    if stage in ("pretrain", "transfer", "ceiling", "finetune"):
        return f"results/{stage}/{run}/seed{seed}/metrics.json"
    if stage == "sensitivity":
        return f"results/sensitivity/{run}/seed{seed}.json"
    return f"results/analysis/{stage}/{run}/seed{seed}.json"


def family_of(run):
    return FAMILIES[variant_hparams(config, run)["family"]]


def code(script, *modules):
    """Digest of the ffmodels code a job runs: the modules its script imports, transitively
    (ffmodels.codedeps), plus the dynamically registered modules it uses (a family, a table
    kind). A param, so an edit reruns exactly the jobs that run the edited code."""
    return code_digest(*script_imports(Path(workflow.basedir) / "workflow" / "scripts" / script), *modules)


def pretrain_params(variant, checkpoints=True):
    """Everything that changes a pretraining result; a change reruns exactly this variant."""
    return {
        "hp": variant_hparams(config, variant),
        "train_subset": config["pretrain"]["train_subset"],
        "checkpoint_epochs": config["pretrain"]["checkpoint_epochs"] if checkpoints else [],
        # Models without a classifier are scored on the source task by the common probe.
        "source_probe": None if family_of(variant).has_classifier else config["transfer"],
    }


def architecture(variant):
    """The part of a variant's hyperparameters that shapes its (random-init) network."""
    hp = variant_hparams(config, variant)
    return {k: hp[k] for k in ("family", *family_of(variant).ARCH_KEYS)}
