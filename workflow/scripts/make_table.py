# Thin: the job's spec is built from this rule (ffmodels.jobs.spec); the job is in ffmodels.
from ffmodels.jobs.table import TableSpec, table_job

table_job(TableSpec.from_snakemake(snakemake))
