# Figures: one PNG per table (drawn by its kind's plot) and per entry of config `figures`, from
# the result files only (ffmodels.figures), each in the report with its caption.


rule figure:
    input:
        unpack(lambda w: figure_inputs(w.figure)),
    output:
        png=report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category="2. Results",
            subcategory="{figure}",
            labels={"figure": "{figure}"},
        ),
    log:
        "logs/figures/{figure}.log",
    wildcard_constraints:
        figure="|".join(FIGURES),
    conda:
        ENV
    params:
        definition=lambda w: FIGURES[w.figure],
        title=lambda w: figure_title(w.figure),
        preset=config["preset"],
        code=lambda w: code("make_figure.py", PLOTS[FIGURES[w.figure]["plot"]].__module__),
    script:
        "../scripts/make_figure.py"
