# Tables: each config entry tables.<name> is summarised by its kind (ffmodels.tables): mean ± sd
# over seeds, 95 % CI, tests against the reference (paired by seed), Holm within the table.


rule table:
    input:
        unpack(lambda w: table_inputs(w.table)),
    output:
        csv=report(
            "results/tables/{table}.csv",
            caption="../report/table.rst",
            category="2. Results",
            subcategory="{table}",
            labels={"table": "{table}", "format": "csv"},
        ),
        md=report(
            "results/tables/{table}.md",
            caption="../report/table.rst",
            category="2. Results",
            subcategory="{table}",
            labels={"table": "{table}", "format": "markdown"},
        ),
    log:
        "logs/tables/{table}.log",
    wildcard_constraints:
        table="|".join(TABLES),
    conda:
        ENV
    params:
        definition=lambda w: config["tables"][w.table],
        ctx=lambda w: table_context(w.table),
        code=lambda w: code("make_table.py", KINDS[config["tables"][w.table]["kind"]].__module__),
    script:
        "../scripts/make_table.py"
