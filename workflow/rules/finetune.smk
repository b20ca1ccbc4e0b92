# Fine-tuning (PROTOCOL section 4, secondary protocol): a pretrained model trained further on the
# target task with its own rule and the same budget as training from scratch (the ceiling
# stage, its random-init counterpart), tested on the target test split. This is the one-seed
# rule; the chunks of the lockstep families are defined in pretrain.smk.


use rule ceiling as finetune with:
    input:
        data=dataset_file(TARGET),
        init=rules.pretrain.output.model,  # the pretrained model to start from
    output:
        model="results/finetune/{variant}/seed{seed}/model.pt",
        metrics="results/finetune/{variant}/seed{seed}/metrics.json",
    log:
        "logs/finetune/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/finetune/{variant}/seed{seed}.tsv"
    params:
        **training_params("finetune", TARGET, None),
