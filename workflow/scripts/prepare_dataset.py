# Thin: the job's spec is built from this rule (ffmodels.jobs.spec); the job is in ffmodels.
from ffmodels.jobs.data import PrepareSpec, prepare_job

prepare_job(PrepareSpec.from_snakemake(snakemake))
