"""Fetch one source file (mirror first, then local path or URL), verifying its pin."""

from sparseace.fetch import fetch
from sparseace.provenance import setup_logging

setup_logging(snakemake.log[0])
fetch(snakemake.params.source, snakemake.output.file, snakemake.params.mirror,
      name=f"source {snakemake.wildcards.source}")
