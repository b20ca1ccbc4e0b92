from ffmodels.jobs.data import prepare_job

prepare_job(
    raw_dir=snakemake.input[0].rsplit("/", 1)[0],
    out=snakemake.output[0],
    val_size=snakemake.params.val_size,
    split_seed=snakemake.params.split_seed,
)
