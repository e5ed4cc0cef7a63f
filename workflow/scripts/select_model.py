"""Select a model from a solver's checkpoints (the fit's selection rule) and write the model file."""

import json
import logging
from pathlib import Path

from sparseace.basis import ACEBasis
from sparseace.model import ACEPotential
from sparseace.provenance import inputs_record, setup_logging
from sparseace.solvers import Checkpoints

setup_logging(snakemake.log[0])
cp = Checkpoints.load(snakemake.input.path)
size = snakemake.wildcards.size
rule = "final" if size == "all" else f"{snakemake.params.selection} {size}"
i = cp.select(rule)
basis = ACEBasis.load(snakemake.input.basis)
split = json.loads(Path(snakemake.input.split).read_text())
model = ACEPotential(basis, cp.support(i), cp.coef(i), snakemake.params.eref, {
    "dataset": snakemake.wildcards.dataset, "solver": snakemake.wildcards.solver,
    "selection": rule, "checkpoint": i, "active": int(cp.sizes[i]),
    "validation_rmse": float(cp.val_rmse[i]), "solver_settings": cp.meta.get("options", {}),
    "prior_p": cp.meta.get("prior_p"), "split": split["split"],
    "data_files": split["files"], "inputs": inputs_record(snakemake.input)})
logging.info("%s: checkpoint %d with %d active functions", rule, i, len(model))
model.save(snakemake.output[0])
