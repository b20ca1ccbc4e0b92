# Target ceilings (PROTOCOL section 4): a variant trained directly on the target task with its
# own rule and budget, tested on the target test split: the level a transfer aims at. The
# pretraining job on the other dataset, without checkpoints (params not named here are the
# pretraining rule's: `use rule ... with:` replaces only the params it names). This is the
# one-seed rule; the chunks of the lockstep families are defined in pretrain.smk.


use rule pretrain as ceiling with:
    input:
        data=dataset_file(TARGET),
    output:
        model="results/ceiling/{variant}/seed{seed}/model.pt",
        metrics="results/ceiling/{variant}/seed{seed}/metrics.json",
    log:
        "logs/ceiling/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/ceiling/{variant}/seed{seed}.tsv"
    params:
        **training_params("ceiling", TARGET, None),
