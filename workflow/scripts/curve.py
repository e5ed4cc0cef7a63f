"""Validation RMSE and test energy errors of every checkpoint of a solver (figure data)."""

import numpy as np
import pandas as pd

from sparseace.design import EnergyRows
from sparseace.provenance import atomic_path, setup_logging
from sparseace.solvers import Checkpoints

setup_logging(snakemake.log[0])
cp = Checkpoints.load(snakemake.input.path)
rows = EnergyRows.load(snakemake.input.test_rows)
records = []
for i in range(len(cp)):
    err = rows.energy_errors(cp.support(i), cp.coef(i))
    records.append({"dataset": snakemake.wildcards.dataset, "solver": snakemake.wildcards.solver,
                    "split_seed": int(snakemake.wildcards.seed),
                    "checkpoint": i, "size": int(cp.sizes[i]), "label": cp.labels[i],
                    "val_rmse": cp.val_rmse[i], "test_energy_mae": 1e3 * np.abs(err).mean(),
                    "test_energy_rmse": 1e3 * np.sqrt(np.mean(err ** 2))})
with atomic_path(snakemake.output[0], ".csv") as tmp:
    pd.DataFrame(records).to_csv(tmp, index=False)
