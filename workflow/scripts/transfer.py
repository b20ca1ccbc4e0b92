# Thin: the job's spec is built from this rule (ffmodels.jobs.spec); the job is in ffmodels.
from ffmodels.jobs.transfer import ProbeSpec, transfer_job

transfer_job(ProbeSpec.from_snakemake(snakemake))
