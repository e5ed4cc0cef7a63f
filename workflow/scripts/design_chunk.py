"""Weighted design rows of one chunk of a dataset's training or validation file, kept for every
split seed's reduction (design_gather)."""

import json
import logging
from pathlib import Path

from sparseace.basis import ACEBasis
from sparseace.design import chunk_bounds, design_rows
from sparseace.io import read_canonical
from sparseace.provenance import inputs_record, setup_logging

setup_logging(snakemake.log[0])
frames = read_canonical(snakemake.input.structures)
ids = json.loads(Path(snakemake.input.split).read_text())["indices"][snakemake.wildcards.split]
basis = ACEBasis.load(snakemake.input.basis)
index, nchunks = int(snakemake.wildcards.chunk), snakemake.params.chunks
first, last = chunk_bounds(len(frames), nchunks)[index]
logging.info("chunk %d/%d: configurations %d..%d of %d, %d functions", index + 1, nchunks,
             first, last, len(frames), len(basis))
rows = design_rows(basis, frames[first:last], ids[first:last], snakemake.params.eref,
                   snakemake.params.weights, source=snakemake.input.structures, progress=True,
                   first_frame=first,
                   meta={"chunk": [index, nchunks, first, last],
                         "inputs": inputs_record([snakemake.input.structures])})
rows.save(snakemake.output[0])
