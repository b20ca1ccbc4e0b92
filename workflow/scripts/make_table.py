from ffmodels.jobs import table_job

table_job(
    table=snakemake.wildcards.table,
    metric_paths=list(snakemake.input),
    rows=snakemake.params.rows,
    reference=snakemake.params.reference,
    preset=snakemake.params.preset,
    method=snakemake.params.stats["paired_test"],
    alpha=snakemake.params.stats["alpha"],
    csv_out=snakemake.output.csv,
    md_out=snakemake.output.md,
)
