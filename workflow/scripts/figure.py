"""Draw one of the study's figures from the workflow's results."""

import json
from pathlib import Path

import pandas as pd
import yaml

from sparseace import plots
from sparseace.basis import ACEBasis
from sparseace.provenance import setup_logging
from sparseace.solvers import Checkpoints

setup_logging(snakemake.log[0])
name, spec, label = snakemake.params.figure, snakemake.params.spec, snakemake.params.label
inp = snakemake.input


def load_curves():
    return pd.concat([pd.read_csv(p) for p in inp.curves], ignore_index=True)


def load_basis():
    return ACEBasis.from_json(Path(inp.basis).read_text())


def model_active():
    return json.loads(Path(inp.model).read_text())["active"]


if name == "fig1":
    fig = plots.error_curves(load_curves(), spec["datasets"], spec["solvers"], label,
                             "Zuo et al. 2020: energy test error against model size")
elif name in ("fig4", "fig6"):
    title = {"fig4": "GAP-Si data: energy test error against model size",
             "fig6": "Water: learning curve (test error against number of active functions)"}
    fig = plots.error_curves(load_curves(), [spec["dataset"]], spec["solvers"], label, title[name])
elif name == "fig2":
    basis, cp = load_basis(), Checkpoints.load(inp.path)
    fig = plots.pair_selection(basis.functions, cp.sizes, [cp.support(i) for i in range(len(cp))],
                               basis.level_order(), spec["centre"], label)
elif name in ("fig3", "fig7"):
    basis = load_basis()
    if name == "fig3":
        fig = plots.threebody_selection(basis.functions, model_active(), basis.level_order(), 3,
                                        label)
    else:
        fig = plots.species_triples(basis.functions, model_active(), spec["centre"], 3, label)
elif name == "fig5":
    lit = yaml.safe_load(Path(inp.literature).read_text())["si_properties"]
    rows = []
    for path in inp.properties:
        d = json.loads(Path(path).read_text())
        solver = Path(path).stem.split("-")[0]
        rows.append({"solver": solver, "size": d["active"], **d["values"]})
    fig = plots.defect_errors(pd.DataFrame(rows), lit["DFT"], lit["GAP"], label)
else:
    raise ValueError(f"unknown figure {name}")
plots.save_figure(fig, snakemake.output)
