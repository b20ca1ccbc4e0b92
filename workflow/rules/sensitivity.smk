# Protocol sensitivity (PROTOCOL section 4): the transfer probe of a model or random init re-run
# under each setting of config `sensitivity` (one knob changed at a time) that the tables reading
# it ask for, one job per (model, seed) for all of them; the protocol's own result is the
# transfer stage's.


rule sensitivity:
    input:
        unpack(transfer_inputs),
    output:
        json="results/sensitivity/{variant}/seed{seed}.json",
    log:
        "logs/sensitivity/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/sensitivity/{variant}/seed{seed}.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
        gpu_slots=GPU,  # jobs sharing one GPU at once (profiles/gpu)
        mem_mb=4000,
    params:
        arch=lambda w: architecture(w.variant),
        transfer=config["transfer"],
        settings=lambda w: settings_for(config, w.variant, TABLE_RUNS),
        code=lambda w: code("sensitivity.py", family_of(w.variant).__module__),
    script:
        "../scripts/sensitivity.py"
