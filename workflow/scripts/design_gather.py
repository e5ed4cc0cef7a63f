"""Combine the chunk factors of a split into the factor of the whole split."""

import logging

from sparseace.design import combine
from sparseace.provenance import setup_logging

setup_logging(snakemake.log[0])
factor = combine(snakemake.input.chunks)
logging.info("%d rows (%s) from %d chunks", factor.nrows, factor.meta["rows"],
             len(snakemake.input.chunks))
factor.save(snakemake.output[0])
