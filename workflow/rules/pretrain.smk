# Training jobs: pretraining on the source task, and on the target task the ceilings and the
# fine-tuning (ceiling.smk, finetune.smk). A family that trains in lockstep (ffmodels.lockstep)
# trains each chunk of seeds (config pretrain.seed_chunk) of a variant in one job, one rule per
# chunk with its fixed seeds; the others (CwC-FF) one seed per job. Either way each seed keeps
# its own files. The checkpoints (one file per seed, the model at each of
# pretrain.checkpoint_epochs) feed the analyses over training.


def training_params(stage, task, chunk):
    """The params of a training job (ffmodels.jobs.pretrain.PretrainSpec: what the job computes,
    the rerun triggers); chunk: the fixed seeds of a chunk rule, None: the {seed} wildcard's."""
    tag = "seed{seed}" if chunk is None else chunk_tag(chunk)
    return dict(
        **({} if chunk is None else {"seeds": chunk}),
        hp=lambda w: variant_hparams(config, w.variant, task),  # with the family's settings for the task it trains on
        train_subset=config["pretrain"]["train_subset"],
        checkpoint_epochs=config["pretrain"]["checkpoint_epochs"] if stage == "pretrain" else [],
        source_probe=lambda w: source_probe(w.variant),
        test_every_epoch=lambda w: w.variant in config["pretrain"]["test_every_epoch"],
        collapse=config["stats"]["collapse"],  # when the trained model counts as collapsed (ffmodels.collapse)
        task=task,
        resume_file=f"resume/{stage}/{{variant}}/{tag}.pt",  # ffmodels.resume: a killed job continues here
        code=lambda w: code("pretrain.py", family_of(w.variant).__module__),
    )


def training_files(stage, chunk, names):
    """Each seed's file of each name (model, checkpoints, metrics), one list per name."""
    ext = {"model": "pt", "checkpoints": "pt", "metrics": "json"}
    return {n: [f"results/{stage}/{{variant}}/seed{s}/{n}.{ext[n]}" for s in chunk] for n in names}


def training_inits(stage, chunk):
    """Fine-tuning starts from each seed's pretrained model; the other stages from the seeds' inits."""
    if stage != "finetune":
        return {}
    return {"init": [f"results/pretrain/{{variant}}/seed{s}/model.pt" for s in chunk]}


# Each stage: its task, its files and its inputs beside the data.
TRAINING_STAGES = {
    "pretrain": (SOURCE, ("model", "checkpoints", "metrics")),
    "ceiling": (TARGET, ("model", "metrics")),
    "finetune": (TARGET, ("model", "metrics")),
}


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
