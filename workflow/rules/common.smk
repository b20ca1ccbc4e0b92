# Names shared by the rules. Paths and job lists are derived from config here, once.

from ffmodels.config import is_random_init, table_variants, transfer_runs, variant_hparams
from ffmodels.data import IDX_FILES
from ffmodels.families import FAMILIES

SOURCE = config["data"]["source"]
TARGET = config["data"]["target"]
SEEDS = config["seeds"]
# GPU-capable jobs ask for one GPU unless the config pins them to the CPU.
GPU = 0 if config["device"] == "cpu" else 1
ENV = "../../envs/ffrepro.yaml"

# Each table and the stage whose metrics it summarises.
TABLE_STAGE = {"rq1_negative_strategies": "pretrain", "rq2_transfer": "transfer"}
TABLES = list(TABLE_STAGE)
TABLE_FILES = expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md"])


wildcard_constraints:
    seed=r"\d+",
    variant=r"[A-Za-z][A-Za-z0-9_]*",
    dataset="|".join(config["data"]["md5"]),
    idx_file="|".join(IDX_FILES),


def dataset_file(dataset):
    return f"resources/data/{dataset}.pt"


def pretrain_params(variant):
    """Everything that changes a pretraining result; a change reruns exactly this variant."""
    return {"hp": variant_hparams(config, variant), "train_subset": config["pretrain"]["train_subset"]}


def architecture(variant):
    """The part of a variant's hyperparameters that shapes its (random-init) network."""
    hp = variant_hparams(config, variant)
    return {k: hp[k] for k in ("family", *FAMILIES[hp["family"]].ARCH_KEYS)}
