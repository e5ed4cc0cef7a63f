"""Energy rows of the test set: energy errors of every checkpoint along a model path."""


from sparseace.basis import ACEBasis
from sparseace.design import energy_rows
from sparseace.io import read_canonical
from sparseace.provenance import setup_logging

setup_logging(snakemake.log[0])
basis = ACEBasis.load(snakemake.input.basis)
frames = read_canonical(snakemake.input.structures)
energy_rows(basis, frames, snakemake.params.eref, source=snakemake.input.structures).save(
    snakemake.output[0])
