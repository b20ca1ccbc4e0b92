# Training jobs: pretraining on the source task, and on the target task the ceilings and the
# fine-tuning (ceiling.smk, finetune.smk). A family that trains in lockstep (ffmodels.lockstep)
# trains each chunk of seeds (config pretrain.seed_chunk) of a variant in one job, one rule per
# chunk with its fixed seeds; the others (CwC-FF) one seed per job. Either way each seed keeps
# its own files. The checkpoints (one file per seed, the model at each of
# pretrain.checkpoint_epochs) feed the analyses over training.


for _stage, (_task, _names) in TRAINING_STAGES.items():
    for _chunk in LOCKSTEP_CHUNKS:

        rule:
            name:
                f"{_stage}_{chunk_tag(_chunk)}"
            input:
                **training_inits(_stage, _chunk),
                data=dataset_file(_task),
            output:
                **training_files(_stage, _chunk, _names),
            log:
                f"logs/{_stage}/{{variant}}/{chunk_tag(_chunk)}.log",
            benchmark:
                f"benchmarks/{_stage}/{{variant}}/{chunk_tag(_chunk)}.tsv"
            wildcard_constraints:
                variant=LOCKSTEP_VARIANTS,
            priority: start_first
            conda:
                ENV
            threads: config["threads"]
            resources:
                gpu=GPU,
                gpu_slots=GPU,  # jobs sharing one GPU at once (profiles/gpu)
                mem_mb=4000,
            params:
                **training_params(_stage, _task, _chunk),
            script:
                "../scripts/pretrain.py"


# One seed per job: the families that train alone.
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
    wildcard_constraints:
        variant=SOLO_VARIANTS,
    priority: start_first
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_slots=GPU,  # jobs sharing one GPU at once (profiles/gpu)
        mem_mb=4000,
    params:
        **training_params("pretrain", SOURCE, None),
    script:
        "../scripts/pretrain.py"
