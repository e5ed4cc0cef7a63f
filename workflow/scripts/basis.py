"""Build the ACE basis of a fit and write it (JSON) with its size table (CSV)."""

from sparseace.basis import ACEBasis
from sparseace.provenance import atomic_path, setup_logging

setup_logging(snakemake.log[0])
fit = snakemake.params.fit
basis = ACEBasis(snakemake.params.elements, fit["order"], fit["totaldegree"],
                 **fit.get("basis_options", {}))
basis.save(snakemake.output.basis)
with atomic_path(snakemake.output.sizes) as tmp:
    basis.size_table().to_csv(tmp, index=False)
