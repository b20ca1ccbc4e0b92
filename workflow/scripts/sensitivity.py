from ffmodels.variants import variant_hparams
from ffmodels.jobs.sensitivity import sensitivity_job

sensitivity_job(
    variant=snakemake.wildcards.variant,
    seed=int(snakemake.wildcards.seed),
    hp=variant_hparams(snakemake.config, snakemake.wildcards.variant),
    model_path=getattr(snakemake.input, "model", None),
    preset=snakemake.config["preset"],
    data_path=snakemake.input.data,
    tcfg=snakemake.params.transfer,
    settings=snakemake.params.settings,
    eval_batch_size=snakemake.config["pretrain"]["eval_batch_size"],
    device_name=snakemake.config["device"],
    threads=snakemake.threads,
    out=snakemake.output.json,
    log_path=snakemake.log[0],
)
