# Transfer to the target task: linear probe on frozen features, one job per (model, seed).
# A model is a pretrained variant, or random_init_<family>: the untrained network of that
# family, same seed, same probe (no pretraining input).


def transfer_inputs(w):
    inputs = {"data": dataset_file(TARGET)}
    if not is_random_init(w.variant):
        inputs["model"] = rules.pretrain.output.model.format(variant=w.variant, seed=w.seed)
    return inputs


rule transfer:
    input:
        unpack(transfer_inputs),
    output:
        metrics="results/transfer/{variant}/seed{seed}/metrics.json",
    params:
        # A pretrained model's hyperparameters reach this job through its input; the
        # architecture is here so that a random init reruns when its network changes.
        arch=lambda w: architecture(w.variant),
        transfer=config["transfer"],
        code=lambda w: code("transfer.py", family_of(w.variant).__module__),
    log:
        "logs/transfer/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/transfer/{variant}/seed{seed}.tsv"
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_slots=GPU,  # jobs sharing one GPU at once (profiles/gpu)
        mem_mb=4000,
    conda:
        ENV
    script:
        "../scripts/transfer.py"
