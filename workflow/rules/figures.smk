# Figures 1-7 and Tables I-IV of the study, from the fit, MD and property results.
F = config["figures"]


def curves(datasets, solvers):
    return [f"results/fits/{ds}/curves/{s}.csv" for ds in datasets for s in solvers
            if s in config["fits"][ds]["solvers"]]


def figure_outputs(name):
    return report(multiext(f"results/figures/{name}", ".png", ".pdf"),
                  caption=f"../report/{name}.rst", category="Figures")


def table_outputs(name):
    return report(multiext(f"results/tables/{name}", ".csv", ".md", ".tex"),
                  caption=f"../report/{name}.rst", category="Tables")


FIGURE_INPUTS = {
    "fig1": lambda: {"curves": curves(F["fig1"]["datasets"], F["fig1"]["solvers"])},
    "fig2": lambda: {"basis": f"results/fits/{F['fig2']['dataset']}/basis.json",
                     "path": f"results/fits/{F['fig2']['dataset']}/paths/{F['fig2']['solver']}.npz"},
    "fig3": lambda: {"basis": f"results/fits/{F['fig3']['dataset']}/basis.json",
                     "model": f"results/fits/{F['fig3']['dataset']}/models/{F['fig3']['model']}.json"},
    "fig4": lambda: {"curves": curves([F["fig4"]["dataset"]], F["fig4"]["solvers"])},
    "fig5": lambda: {"properties": [f"results/properties/{F['fig5']['dataset']}/{s}-{n}.json"
                                    for s in F["fig5"]["solvers"] for n in F["fig5"]["sizes"]],
                     "literature": LITERATURE},
    "fig6": lambda: {"curves": curves([F["fig6"]["dataset"]], F["fig6"]["solvers"])},
    "fig7": lambda: {"basis": f"results/fits/{F['fig7']['dataset']}/basis.json",
                     "model": f"results/fits/{F['fig7']['dataset']}/models/{F['fig7']['model']}.json"},
}
TABLE_INPUTS = {
    "table1": lambda: {},
    "table2": lambda: {"errors": [f"results/fits/{ds}/errors/{s}-{F['table2'][size]}.csv"
                                  for ds in F["table2"]["datasets"] for s in F["table2"]["solvers"]
                                  for size in ("small", "large")],
                       "literature": LITERATURE},
    "table3": lambda: {"properties": [f"results/properties/{F['table3']['dataset']}/{m}.json"
                                      for m in F["table3"]["models"]],
                       "literature": LITERATURE},
    "table4": lambda: {"errors": [f"results/fits/{F['table4']['dataset']}/errors/"
                                  f"{F['table4']['solver']}-{n}.csv" for n in F["table4"]["sizes"]],
                       "literature": LITERATURE},
}
FIGURE_DATASETS = {name: spec.get("datasets", [spec.get("dataset")])
                   for name, spec in F.items()}


for _name, _inputs in FIGURE_INPUTS.items():

    rule:
        name:
            f"figure_{_name}"
        input:
            **_inputs(),
        output:
            figure_outputs(_name),
        params:
            figure=_name,
            spec=F[_name],
            label=run_label(FIGURE_DATASETS[_name]),
        log:
            f"logs/figures/{_name}.log",
        script:
            "../scripts/figure.py"


for _name, _inputs in TABLE_INPUTS.items():

    rule:
        name:
            f"table_{_name}"
        input:
            **_inputs(),
        output:
            table_outputs(_name),
        params:
            table=_name,
            spec=F.get(_name, {}),
            label=run_label(FIGURE_DATASETS.get(_name, ["none (method summary)"])),
        log:
            f"logs/tables/{_name}.log",
        script:
            "../scripts/table.py"


def figure_and_table_files():
    return ([f"results/figures/{n}.{ext}" for n in FIGURE_INPUTS for ext in ("png", "pdf")]
            + [f"results/tables/{n}.{ext}" for n in TABLE_INPUTS for ext in ("csv", "md", "tex")]
            + [f"results/tables/md_stability.{ext}" for ext in ("csv", "md", "tex")])
