"""Test errors of a model: MAE and RMSE of energy, forces, virial per config_type and overall."""

from sparseace.io import read_canonical
from sparseace.metrics import model_errors
from sparseace.model import load_model
from sparseace.provenance import atomic_path, setup_logging

setup_logging(snakemake.log[0])
model = load_model(snakemake.input.model)
structures = str(snakemake.input.structures)
table = model_errors(model, read_canonical(structures), structures)
table.insert(0, "active", len(model))
with atomic_path(snakemake.output[0], ".csv") as tmp:
    table.to_csv(tmp)
