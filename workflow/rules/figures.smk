# Figures: one PNG per table (drawn by its kind's plot) and per entry of config `figures`, from
# the result files only (ffmodels.figures), each in the report with its caption.


def figure_inputs(name):
    """A figure reads its table's CSV (and those of the enabled tables among `tables`), or, with
    `analysis: <metric>`, that analysis's JSON for the table's variants it applies to, over
    seeds (`variants` keeps the first N of them)."""
    spec = FIGURES[name]
    if "analysis" not in spec:
        tables = [spec["table"], *(t for t in spec.get("tables", []) if t in TABLES and t != spec["table"])]
        return {"tables": [f"results/tables/{t}.csv" for t in tables]}
    runs = TABLE_RUNS[spec["table"]][spec["analysis"]][: spec.get("variants")]
    return {"analysis": [stage_file(spec["analysis"], run, seed) for run in runs for seed in SEEDS]}


def figure_title(name):
    spec = FIGURES[name]
    return spec.get("title") or config["tables"][spec["table"]]["title"]


rule figure:
    input:
        unpack(lambda w: figure_inputs(w.figure)),
    output:
        png=report("results/figures/{figure}.png", caption="../report/figure.rst", category="2. Results", subcategory="{figure}",
                   labels={"figure": "{figure}"}),
    wildcard_constraints:
        figure="|".join(FIGURES),
    params:
        spec=lambda w: FIGURES[w.figure],
        title=lambda w: figure_title(w.figure),
        preset=config["preset"],
        code=lambda w: code("make_figure.py", PLOTS[FIGURES[w.figure]["plot"]].__module__),
    log:
        "logs/figures/{figure}.log",
    conda:
        ENV
    script:
        "../scripts/make_figure.py"
