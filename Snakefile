# ffrepro: reproduction of "Why Forward-Forward Hasn't Become the New Paradigm" (Feb 2026).
# Experiments: docs/protocol.md (PROTOCOL). Hyperparameters and the experiment matrix: config.yaml.
#   snakemake --cores all                                  full preset (the reproduction)
#   snakemake --cores 2 --configfile presets/quick.yaml    quick preset (<= 15 min, 2-core CPU)

import sys

from snakemake.utils import min_version, update_config

min_version("9.0")


configfile: "config.yaml"


# This process and every job import the ffmodels that sits next to this Snakefile.
sys.path.insert(0, workflow.basedir)

from ffmodels.config import ConfigError, resolve, typed
from ffmodels.runtime import export_cpu_kernels, export_import_path

export_import_path(workflow.basedir)

# --config 'families={ff: {lr: 0.01}}' gives nested values as text: read them as YAML again.
update_config(config, typed(workflow.config_settings.overwrite_config))


report: "workflow/report/workflow.rst"


# Checked against workflow/schemas/config.schema.yaml (with Snakemake's validator, its defaults
# filled in), then every family block resolved (`extends`) and every value checked.
try:
    config.update(resolve(config))
except ConfigError as err:
    raise ValueError(f"invalid config: {err}") from None

# Every job's CPU kernels held to config cpu_kernels' instruction set (read as a job starts).
export_cpu_kernels(config["cpu_kernels"])


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/ceiling.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/ledger.smk"


rule all:
    default_target: True
    input:
        rules.ledger.output,
        TABLE_FILES,
        FIGURE_FILES,
