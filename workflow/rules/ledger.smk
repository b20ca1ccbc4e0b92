# The claims ledger: every claim of the slides (config `claims`, a YAML file) against the cell of
# a result table that answers it, with a verdict by a declared rule at the declared tolerance of
# the cell's unit (config stats.tolerance), and its robustness across the claim's readings
# (ffmodels.ledger); led by the deck's conclusions (config `conclusions`), each judged from the
# claims that decide it (ffmodels.conclusions). The first item of the report.


rule ledger:
    input:
        tables=expand("results/tables/{table}.csv", table=TABLES),
        claims=config["claims"],
        conclusions=config["conclusions"],
    output:
        conclusions_csv=report(
            "results/tables/conclusions.csv",
            caption="../report/ledger.rst",
            category="1. Claims ledger",
            labels={"table": "conclusions", "format": "csv"},
        ),
        csv=report(
            "results/tables/claims_ledger.csv",
            caption="../report/ledger.rst",
            category="1. Claims ledger",
            labels={"table": "claims_ledger", "format": "csv"},
        ),
        md=report(
            "results/tables/claims_ledger.md",
            caption="../report/ledger.rst",
            category="1. Claims ledger",
            labels={"table": "claims_ledger", "format": "markdown"},
        ),
        # also shown on the report's front page (workflow/report/workflow.rst includes it)
        rst=report(
            "results/tables/claims_ledger.rst",
            caption="../report/ledger.rst",
            category="1. Claims ledger",
            labels={"table": "claims_ledger", "format": "rst"},
        ),
    log:
        "logs/tables/claims_ledger.log",
    conda:
        ENV
    params:
        alpha=config["stats"]["alpha"],
        tolerance=config["stats"]["tolerance"],
        preset=config["preset"],
        code=code("make_ledger.py"),
    script:
        "../scripts/make_ledger.py"
