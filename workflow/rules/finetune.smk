# Fine-tuning (PROTOCOL section 4, secondary protocol): a pretrained model trained further on the
# target task with its own rule and the same budget as training from scratch (the ceiling
# stage, its random-init counterpart), tested on the target test split. Its params are the
# ceiling's but for the resume file.


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
        resume_file="resume/finetune/{variant}/seed{seed}.pt",
