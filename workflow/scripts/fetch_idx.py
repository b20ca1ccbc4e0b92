# Thin: the job's spec is built from this rule (ffmodels.jobs.spec); the job is in ffmodels.
from ffmodels.jobs.data import FetchSpec, fetch_job

fetch_job(FetchSpec.from_snakemake(snakemake))
