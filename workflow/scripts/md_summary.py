"""Summary table of the MD stability runs."""

import json

import pandas as pd

from sparseace.provenance import setup_logging
from sparseace.tables import write_table

setup_logging(snakemake.log[0])
rows = [json.load(open(path)) for path in snakemake.input]
table = pd.DataFrame([{k: r[k] for k in ("dataset", "model", "active", "temperature_K",
                                          "stable", "time_ps", "steps", "reason")} for r in rows])
write_table(table, snakemake.output[0][: -len(".csv")],
            f"MD stability (NVT, Langevin) -- {snakemake.params.label}")
