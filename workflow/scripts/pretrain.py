from ffmodels.jobs.pretrain import pretrain_job

pretrain_job(
    variant=snakemake.wildcards.variant,
    seed=int(snakemake.wildcards.seed),
    hp=snakemake.params.run["hp"],
    train_subset=snakemake.params.run["train_subset"],
    checkpoint_at=snakemake.params.run["checkpoint_epochs"],
    probe=snakemake.params.run["source_probe"],
    preset=snakemake.config["preset"],
    data_path=snakemake.input.data,
    eval_batch_size=snakemake.config["pretrain"]["eval_batch_size"],
    device_name=snakemake.config["device"],
    threads=snakemake.threads,
    model_out=snakemake.output.model,
    checkpoints_out=snakemake.output.get("checkpoints"),  # the ceiling rule keeps none
    task=snakemake.params.task,
    # Kept outside the outputs; read from config in the job, so switching it reruns nothing.
    resume_path=snakemake.params.resume if snakemake.config["pretrain"]["resume"] else None,
    code=snakemake.params.code,
    init_path=snakemake.input.get("init"),  # fine-tuning starts from the pretrained model
    metrics_out=snakemake.output.metrics,
    log_path=snakemake.log[0],
)
