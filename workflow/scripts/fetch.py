"""Fetch one source file (mirror first, then URL), verifying sha256."""

from sparseace.fetch import fetch
from sparseace.provenance import setup_logging

setup_logging(snakemake.log[0])
fetch(snakemake.params.source, snakemake.output.file, snakemake.params.mirror)
