# Pretraining on the source task, one job per (variant, seed).


rule pretrain:
    input:
        data=dataset_file(SOURCE),
    output:
        model="results/pretrain/{variant}/seed{seed}/model.pt",
        metrics="results/pretrain/{variant}/seed{seed}/metrics.json",
    params:
        run=lambda w: pretrain_params(w.variant),
    log:
        "logs/pretrain/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/pretrain/{variant}/seed{seed}.tsv"
    threads: config["threads"]
    resources:
        gpu=GPU,
        mem_mb=4000,
    conda:
        ENV
    script:
        "../scripts/pretrain.py"
