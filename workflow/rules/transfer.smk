# Transfer to the target task: linear probe on frozen features, one job per (model, seed).
# A model is a pretrained variant, or random_init_<family>: the untrained network of that
# family, same seed, same probe (no pretraining input), or the transfer control raw_pixels:
# the same probe on the target images themselves (no network, no pretraining input).


rule transfer:
    input:
        unpack(transfer_inputs),
    output:
        metrics="results/transfer/{variant}/seed{seed}/metrics.json",
    log:
        "logs/transfer/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/transfer/{variant}/seed{seed}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_slots=GPU,  # jobs sharing one GPU at once (profiles/gpu)
        mem_mb=4000,
    params:
        # the fields of ffmodels.jobs.transfer.ProbeSpec. A pretrained model's hyperparameters
        # reach this job through its input; the architecture is here so that a random init
        # reruns when its network changes.
        arch=lambda w: architecture(w.variant),
        transfer=config["transfer"],
        # a calibrated random init: its statistics are estimated on the images pretraining uses
        calibration_images=lambda w: config["pretrain"]["train_subset"] if is_calibrated(w.variant) else None,
        code=lambda w: code("transfer.py", *family_module(w.variant)),
    script:
        "../scripts/transfer.py"
