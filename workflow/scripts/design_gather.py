"""Reduce a split seed's training or validation configurations to the triangular factor of
their system, from the design rows of every chunk (computed once for every seed)."""

import json
import logging
from pathlib import Path

from sparseace.design import reduce_rows
from sparseace.provenance import inputs_record, setup_logging

setup_logging(snakemake.log[0])
seed, split = snakemake.wildcards.seed, snakemake.wildcards.split
ids = json.loads(Path(snakemake.input.split).read_text())["seeds"][seed][split]
factor = reduce_rows(snakemake.input.rows, ids,
                     meta={"seed": int(seed), "inputs": inputs_record([snakemake.input.split])})
logging.info("seed %s, %s: %d rows (%s) of %d configurations", seed, split, factor.nrows,
             factor.meta["rows"], len(ids))
factor.save(snakemake.output[0])
