# Pretraining on the source task, one job per (variant, seed). The checkpoints (one file, the
# model at each of pretrain.checkpoint_epochs) feed the analyses over training.


rule pretrain:
    input:
        data=dataset_file(SOURCE),
    output:
        model="results/pretrain/{variant}/seed{seed}/model.pt",
        checkpoints="results/pretrain/{variant}/seed{seed}/checkpoints.pt",
        metrics="results/pretrain/{variant}/seed{seed}/metrics.json",
    params:
        run=lambda w: pretrain_params(w.variant),
        resume="resume/pretrain/{variant}/seed{seed}.pt",  # ffmodels.resume: a killed job continues here
        task=SOURCE,
        code=lambda w: code("pretrain.py", family_of(w.variant).__module__),
    log:
        "logs/pretrain/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/pretrain/{variant}/seed{seed}.tsv"
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_slots=GPU,  # jobs sharing one GPU at once (profiles/gpu)
        mem_mb=4000,
    conda:
        ENV
    script:
        "../scripts/pretrain.py"
