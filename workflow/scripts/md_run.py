"""One MD stability run of a fitted model from one of its test set's start configurations,
on ``threads`` MPI ranks."""

import pandas as pd

from sparseace.io import DEFAULT_CONFIG_TYPE, read_canonical
from sparseace.md import run_md, start_configurations, supercell
from sparseace.model import load_model
from sparseace.provenance import atomic_path, inputs_record, setup_logging, write_json_atomic

setup_logging(snakemake.log[0])
model = load_model(snakemake.input.model)
k = int(snakemake.wildcards.start)
frame, configuration = start_configurations(read_canonical(snakemake.input.structures), k + 1,
                                            snakemake.params.seed, snakemake.input.structures)[k]
start, repeats = supercell(configuration, snakemake.params.min_atoms)
settings = {**snakemake.params.settings, "temperature": float(snakemake.wildcards.T)}
verdict = run_md(model, start, settings, trajectory=snakemake.output.trajectory,
                 ranks=snakemake.threads)
with atomic_path(snakemake.output.thermo, ".csv") as tmp:
    pd.DataFrame(verdict.thermo).to_csv(tmp, index=False)
write_json_atomic(snakemake.output.verdict, {
    "dataset": snakemake.wildcards.dataset, "model": snakemake.wildcards.model,
    "temperature_K": settings["temperature"], "stable": verdict.stable,
    "time_ps": verdict.time_ps, "steps": verdict.steps, "reason": verdict.reason,
    "start": {"index": k, "frame": frame, "atoms": len(start), "repeats": repeats,
              "config_type": configuration.info.get("config_type", DEFAULT_CONFIG_TYPE)},
    "active": len(model), "ranks": snakemake.threads, "settings": settings,
    "inputs": inputs_record(snakemake.input)})
