# Root-cause analyses (RQ3): one job per (metric, model, seed) on the model's checkpoints. Which
# metrics apply to which model is the metric's own call (ffmodels.analysis), e.g. the label
# metrics only to models with the label in the input. A random init (random_init_<name>) has no
# checkpoints: the job builds its untrained network, as its probe job does.


rule analysis:
    input:
        unpack(analysis_inputs),
    output:
        result="results/analysis/{metric}/{variant}/seed{seed}.json",
    log:
        "logs/analysis/{metric}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/analysis/{metric}/{variant}/seed{seed}.tsv"
    wildcard_constraints:
        metric="|".join(METRICS),
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_slots=GPU,  # jobs sharing one GPU at once (profiles/gpu)
        mem_mb=4000,
    params:
        # the fields of ffmodels.jobs.analysis.AnalysisSpec
        # Only the keys of config `analysis` and `transfer` the metric reads: a change to another
        # key reruns it not.
        analysis=lambda w: metric_config(w.metric, "analysis"),
        arch=lambda w: architecture(w.variant) if is_random_init(w.variant) else None,
        transfer=lambda w: metric_config(w.metric, "transfer"),
        code=lambda w: code("analysis.py", METRICS[w.metric].__module__, family_of(w.variant).__module__),
    script:
        "../scripts/analysis.py"
