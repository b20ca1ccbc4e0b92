from ffmodels.config import data_sources
from ffmodels.jobs.data import fetch_job

fetch_job(
    filename=snakemake.wildcards.idx_file,
    dest=snakemake.output[0],
    sources=data_sources(snakemake.config, snakemake.wildcards.dataset),
    expected_md5=snakemake.params.md5,
    log_path=snakemake.log[0],
)
