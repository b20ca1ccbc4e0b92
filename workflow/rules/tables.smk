# Tables: mean ± sd over seeds, 95 % CI, paired tests by seed with Holm correction.


def table_rows(table):
    """RQ1 rows are its variants; RQ2 adds the random init of every family it shows."""
    return table_variants(config, table) if TABLE_STAGE[table] == "pretrain" else transfer_runs(config)


def table_inputs(table):
    path = f"results/{TABLE_STAGE[table]}/{{variant}}/seed{{seed}}/metrics.json"
    return expand(path, variant=table_rows(table), seed=SEEDS)


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
