# Thin: the job's spec is built from this rule (ffmodels.jobs.spec); the job is in ffmodels.
from ffmodels.jobs.ledger import LedgerSpec, ledger_job

ledger_job(LedgerSpec.from_snakemake(snakemake))
