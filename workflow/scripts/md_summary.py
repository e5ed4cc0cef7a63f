"""Summary table of the MD stability runs: every run, and per model its stable runs."""

import json

from sparseace.md import stability_table
from sparseace.provenance import setup_logging
from sparseace.tables import write_table

setup_logging(snakemake.log[0])
table = stability_table([json.load(open(path)) for path in snakemake.input])
write_table(table, snakemake.output[0][: -len(".csv")],
            f"MD stability (NVT, Langevin) -- {snakemake.params.label}")
