"""The reproduction report: published numbers and claims of the study against this run
(sparseace.reproduction), written as Markdown and CSV with the same rows."""

import json
from pathlib import Path

import pandas as pd
import yaml

from sparseace import reproduction
from sparseace.provenance import atomic_path, setup_logging

setup_logging(snakemake.log[0])
files = snakemake.params.files
frame = reproduction.build(
    snakemake.params.figures, snakemake.params.settings,
    yaml.safe_load(Path(files["literature"]).read_text()),
    table2=pd.read_csv(files["table2"], comment="#") if "table2" in files else None,
    errors={k: pd.read_csv(p, index_col="config_type") for k, p in files["errors"].items()},
    properties={k: json.loads(Path(p).read_text()) for k, p in files["properties"].items()},
    curves={k: pd.concat([pd.read_csv(p) for p in ps], ignore_index=True)
            for k, ps in files["curves"].items() if ps},
    md=pd.read_csv(files["md"], comment="#"))
title = f"Reproduction of the study ({snakemake.params.study} run)"
md_path, csv_path = snakemake.output
with atomic_path(md_path, ".md") as tmp:
    tmp.write_text(reproduction.markdown(frame, snakemake.params.study, title))
with atomic_path(csv_path, ".csv") as tmp:
    tmp.write_text(f"# {title}\n" + frame.to_csv(index=False))
