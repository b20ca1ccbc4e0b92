# Thin: the job's spec is built from this rule (ffmodels.jobs.spec); the job is in ffmodels.
from ffmodels.jobs.figure import FigureSpec, figure_job

figure_job(FigureSpec.from_snakemake(snakemake))
