# Pretraining on the source task, one job per (variant, seed). The checkpoints (one file, the
# model at each of pretrain.checkpoint_epochs) feed the analyses over training.


rule pretrain:
    input:
        data=dataset_file(SOURCE),
    output:
        model="results/pretrain/{variant}/seed{seed}/model.pt",
        checkpoints="results/pretrain/{variant}/seed{seed}/checkpoints.pt",
        metrics="results/pretrain/{variant}/seed{seed}/metrics.json",
    log:
        "logs/pretrain/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/pretrain/{variant}/seed{seed}.tsv"
    priority: start_first
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_slots=GPU,  # jobs sharing one GPU at once (profiles/gpu)
        mem_mb=4000,
    params:
        # the fields of ffmodels.jobs.pretrain.PretrainSpec: what the job computes (rerun triggers)
        hp=lambda w: variant_hparams(config, w.variant, SOURCE),  # with the family's settings for the task it trains on
        train_subset=config["pretrain"]["train_subset"],
        checkpoint_epochs=config["pretrain"]["checkpoint_epochs"],
        source_probe=lambda w: source_probe(w.variant),
        test_every_epoch=lambda w: w.variant in config["pretrain"]["test_every_epoch"],
        collapse=config["stats"]["collapse"],  # when the trained model counts as collapsed (ffmodels.collapse)
        task=SOURCE,
        resume_file="resume/pretrain/{variant}/seed{seed}.pt",  # ffmodels.resume: a killed job continues here
        code=lambda w: code("pretrain.py", family_of(w.variant).__module__),
    script:
        "../scripts/pretrain.py"
