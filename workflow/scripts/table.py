"""Write one of the study's tables (CSV, Markdown, LaTeX) from the workflow's results."""

import json
from pathlib import Path

import pandas as pd
import yaml

from sparseace import tables
from sparseace.provenance import setup_logging

setup_logging(snakemake.log[0])
name, spec, label = snakemake.params.table, snakemake.params.spec, snakemake.params.label
inp = snakemake.input
stem = snakemake.output[0][: -len(".csv")]


def overall_errors(path):
    t = pd.read_csv(path, index_col="config_type")
    return t.loc["all"], int(t["active"].iloc[0])


if name == "table1":
    table = tables.solver_table(["rrqr", "blr", "ard", "asp", "omp"])
    caption = "Table I: the solvers compared"
else:
    literature = yaml.safe_load(Path(inp.literature).read_text())
if name == "table2":
    rows = []
    for path in inp.errors:
        dataset, model = Path(path).parts[-3], Path(path).stem
        solver, size = model.rsplit("-", 1)
        err, _ = overall_errors(path)
        rows.append({"element": dataset.split("_")[-1], "solver": solver,
                     "model": "small" if int(size) == spec["small"] else "large",
                     "energy_mae": err["E_MAE_meV_per_atom"], "force_mae": err["F_MAE_eV_per_A"]})
    table = tables.zuo_table(pd.DataFrame(rows), literature["zuo2020_other_potentials"])
    caption = (f"Table II: Zuo test MAE, small (<= {spec['small']} active) and large "
               f"(<= {spec['large']}) models")
elif name == "table3":
    models = {}
    for path in inp.properties:
        d = json.loads(Path(path).read_text())
        solver = Path(path).stem.split("-")[0].upper()
        models[f"{solver} ({d['active']})"] = d["values"]
    table = tables.si_properties_table(models, literature["si_properties"])
    caption = "Table III: silicon properties (eV, GPa, J/m^2) and % error vs DFT"
elif name == "table4":
    rows = []
    for path in inp.errors:
        err, active = overall_errors(path)
        rows.append({"model": f"OMP ({active})", "energy_mae": err["E_MAE_meV_per_atom"],
                     "force_mae": err["F_MAE_eV_per_A"], "parameters": active})
    table = tables.water_table(pd.DataFrame(rows), literature["water_other_models"])
    caption = "Table IV: water test MAE and parameter counts"
tables.write_table(table, stem, f"{caption} -- {label}")
