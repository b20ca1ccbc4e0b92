from ffmodels.jobs.analysis import analysis_job

analysis_job(
    metric=snakemake.wildcards.metric,
    variant=snakemake.wildcards.variant,
    seed=int(snakemake.wildcards.seed),
    preset=snakemake.config["preset"],
    checkpoints_path=snakemake.input.checkpoints,
    source_path=snakemake.input.source,
    target_path=snakemake.input.target,
    cfg=snakemake.params.cfg,
    tcfg=snakemake.config["transfer"],
    eval_batch_size=snakemake.config["pretrain"]["eval_batch_size"],
    device_name=snakemake.config["device"],
    threads=snakemake.threads,
    out=snakemake.output[0],
    log_path=snakemake.log[0],
)
