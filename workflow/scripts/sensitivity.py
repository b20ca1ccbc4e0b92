# Thin: the job's spec is built from this rule (ffmodels.jobs.spec); the job is in ffmodels.
from ffmodels.jobs.sensitivity import ProbeSpec, sensitivity_job

sensitivity_job(ProbeSpec.from_snakemake(snakemake))
