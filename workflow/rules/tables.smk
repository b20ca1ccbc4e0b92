# Tables: each config entry tables.<name> is summarised by its kind (ffmodels.tables): mean ± sd
# over seeds, 95 % CI, tests against the reference (paired by seed), Holm within the table.


def table_inputs(table):
    return {stage: [stage_file(stage, run, seed) for run in runs for seed in SEEDS]
            for stage, runs in TABLE_RUNS[table].items()}


def table_context(table):
    """What a table's numbers depend on besides its inputs: the statistics settings, the preset
    label, and the random-init baseline of each variant it shows."""
    variants = {run for runs in TABLE_RUNS[table].values() for run in runs if not is_random_init(run)}
    return {"preset": config["preset"], "stats": config["stats"],
            "random_init_of": {v: random_init_of(config, v) for v in sorted(variants)}}


rule table:
    input:
        unpack(lambda w: table_inputs(w.table)),
    output:
        csv=report("results/tables/{table}.csv", caption="../report/table.rst", category="2. Results", subcategory="{table}", labels={"table": "{table}", "format": "csv"}),
        md=report("results/tables/{table}.md", caption="../report/table.rst", category="2. Results", subcategory="{table}", labels={"table": "{table}", "format": "markdown"}),
    wildcard_constraints:
        table="|".join(TABLES),
    params:
        spec=lambda w: config["tables"][w.table],
        ctx=lambda w: table_context(w.table),
        code=lambda w: code("make_table.py", KINDS[config["tables"][w.table]["kind"]].__module__),
    log:
        "logs/tables/{table}.log",
    conda:
        ENV
    script:
        "../scripts/make_table.py"
