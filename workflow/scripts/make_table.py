from ffmodels.jobs.table import table_job

table_job(
    name=snakemake.wildcards.table,
    spec=snakemake.params.spec,
    ctx=snakemake.params.ctx,
    paths={stage: list(snakemake.input[stage]) for stage in snakemake.input.keys()},
    csv_out=snakemake.output.csv,
    md_out=snakemake.output.md,
)
