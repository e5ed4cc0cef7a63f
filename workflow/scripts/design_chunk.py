"""Reduce one chunk of a split's weighted design rows to its triangular factor."""

import logging

from sparseace.basis import ACEBasis
from sparseace.design import assemble, chunk_bounds
from sparseace.io import read_canonical
from sparseace.provenance import inputs_record, setup_logging

setup_logging(snakemake.log[0])
frames = read_canonical(snakemake.input.structures)
basis = ACEBasis.load(snakemake.input.basis)
index, nchunks = int(snakemake.wildcards.chunk), snakemake.params.chunks
first, last = chunk_bounds(len(frames), nchunks)[index]
logging.info("chunk %d/%d: configurations %d..%d of %d, %d functions", index + 1, nchunks,
             first, last, len(frames), len(basis))
factor = assemble(basis, frames[first:last], snakemake.params.eref, snakemake.params.weights,
                  source=snakemake.input.structures, progress=True,
                  meta={"chunk": [index, nchunks, first, last],
                        "inputs": inputs_record([snakemake.input.structures])})
factor.save(snakemake.output[0])
