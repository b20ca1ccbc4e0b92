from ffmodels.jobs.figure import figure_job

figure_job(
    spec=snakemake.params.spec,
    title=snakemake.params.title,
    preset=snakemake.params.preset,
    out=snakemake.output.png,
    table_paths=list(snakemake.input.get("tables", [])),
    analysis_paths=list(snakemake.input.get("analysis", [])),
)
