# Thin: the job's spec is built from this rule (ffmodels.jobs.spec); the job is in ffmodels.
from ffmodels.jobs.analysis import AnalysisSpec, analysis_job

analysis_job(AnalysisSpec.from_snakemake(snakemake))
