from ffmodels.jobs.ledger import ledger_job

ledger_job(
    claims_path=snakemake.input.claims,
    table_paths=list(snakemake.input.tables),
    alpha=snakemake.params.alpha,
    preset=snakemake.params.preset,
    csv_out=snakemake.output.csv,
    md_out=snakemake.output.md,
    rst_out=snakemake.output.rst,
    log_path=snakemake.log[0],
)
