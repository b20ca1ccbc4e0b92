# Tables: mean ± sd over seeds, 95 % CI, paired tests by seed with Holm correction.


def table_inputs(table):
    stage = "pretrain" if table == "rq1_negative_strategies" else "transfer"
    runs = table_variants(config, table) if stage == "pretrain" else transfer_runs(config)
    return expand(f"results/{stage}/{{variant}}/seed{{seed}}/metrics.json", variant=runs, seed=SEEDS)


def table_rows(table):
    return table_variants(config, table) if table == "rq1_negative_strategies" else transfer_runs(config)


rule table:
    input:
        lambda w: table_inputs(w.table),
    output:
        csv=report("results/tables/{table}.csv", category="Tables", labels={"table": "{table}", "format": "csv"}),
        md=report("results/tables/{table}.md", category="Tables", labels={"table": "{table}", "format": "markdown"}),
    wildcard_constraints:
        table="|".join(TABLES),
    params:
        rows=lambda w: table_rows(w.table),
        reference=lambda w: config["tables"][w.table]["reference"],
        preset=config["preset"],
        stats=config["stats"],
    log:
        "logs/tables/{table}.log",
    conda:
        ENV
    script:
        "../scripts/make_table.py"
