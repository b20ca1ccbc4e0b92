# Thin: the job's spec is built from this rule (ffmodels.jobs.spec); the job is in ffmodels.
from ffmodels.jobs.pretrain import PretrainSpec, pretrain_job

pretrain_job(PretrainSpec.from_snakemake(snakemake))
