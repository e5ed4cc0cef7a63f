"""Select a model from a solver's checkpoints (the fit's selection rule) and write the model
file: ``sparseace.fitting.select_model``."""

import json
from pathlib import Path

from sparseace.basis import ACEBasis
from sparseace.fitting import select_model
from sparseace.provenance import inputs_record, setup_logging
from sparseace.solvers import Checkpoints

setup_logging(snakemake.log[0])
size = snakemake.wildcards.size
rule = "final" if size == "all" else f"{snakemake.params.selection} {size}"
split = json.loads(Path(snakemake.input.split).read_text())
model = select_model(Checkpoints.load(snakemake.input.path), rule,
                     ACEBasis.load(snakemake.input.basis), snakemake.params.eref, {
                         "dataset": snakemake.wildcards.dataset,
                         "split": {**split["split"], "seed": int(snakemake.wildcards.seed)},
                         "data_files": split["files"], "inputs": inputs_record(snakemake.input)})
model.save(snakemake.output[0])
