"""One MD stability run of a fitted model from a test-set start configuration."""

import pandas as pd

from sparseace.io import read_canonical
from sparseace.md import run_md, start_configuration
from sparseace.model import load_model
from sparseace.provenance import atomic_path, inputs_record, setup_logging, write_json_atomic

setup_logging(snakemake.log[0])
model = load_model(snakemake.input.model)
start = start_configuration(read_canonical(snakemake.input.structures))
settings = {**snakemake.params.settings, "temperature": float(snakemake.wildcards.T)}
verdict = run_md(model, start, settings, trajectory=snakemake.output.trajectory)
with atomic_path(snakemake.output.thermo, ".csv") as tmp:
    pd.DataFrame(verdict.thermo).to_csv(tmp, index=False)
write_json_atomic(snakemake.output.verdict, {
    "dataset": snakemake.wildcards.dataset, "model": snakemake.wildcards.model,
    "temperature_K": settings["temperature"], "stable": verdict.stable,
    "time_ps": verdict.time_ps, "steps": verdict.steps, "reason": verdict.reason,
    "start_atoms": len(start), "active": len(model), "settings": settings,
    "inputs": inputs_record(snakemake.input)})
