# Target ceilings (PROTOCOL section 4): a variant trained directly on the target task with its
# own rule and budget, tested on the target test split: the level a transfer aims at. The
# pretraining job on the other dataset, without checkpoints (params not named here are the
# pretraining rule's: `use rule ... with:` replaces only the params it names).


use rule pretrain as ceiling with:
    input:
        data=dataset_file(TARGET),
    output:
        model="results/ceiling/{variant}/seed{seed}/model.pt",
        metrics="results/ceiling/{variant}/seed{seed}/metrics.json",
    params:
        run=lambda w: pretrain_params(w.variant, checkpoints=False),
        resume="resume/ceiling/{variant}/seed{seed}.pt",
        task=TARGET,
    log:
        "logs/ceiling/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/ceiling/{variant}/seed{seed}.tsv"
