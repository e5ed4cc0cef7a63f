"""The reproduction report: published numbers and claims of the study against this run
(sparseace.reproduction), written as Markdown and CSV with the same rows."""

import pandas as pd

from sparseace import reproduction
from sparseace.provenance import atomic_path, setup_logging
from sparseace.study import load

setup_logging(snakemake.log[0])
files = snakemake.params.files
frame = reproduction.build(
    snakemake.params.figures, snakemake.params.settings, load("literature", files["literature"]),
    table2=pd.read_csv(files["table2"], comment="#") if "table2" in files else None,
    errors=load("errors", files["errors"]), properties=load("properties", files["properties"]),
    curves={k: load("curves", ps) for k, ps in files["curves"].items() if ps},
    md=pd.read_csv(files["md"], comment="#"))
title = f"Reproduction of the study ({snakemake.params.study} run)"
md_path, csv_path = snakemake.output
with atomic_path(md_path, ".md") as tmp:
    tmp.write_text(reproduction.markdown(frame, snakemake.params.study, title,
                                         snakemake.params.only))
with atomic_path(csv_path, ".csv") as tmp:
    tmp.write_text(f"# {title}\n" + frame.to_csv(index=False))
