"""Silicon properties of a fitted model (ASE calculator); Table III compares them with DFT."""

from sparseace.calculator import SparseACECalculator
from sparseace.properties import silicon_properties
from sparseace.provenance import inputs_record, package_versions, setup_logging, write_json_atomic

setup_logging(snakemake.log[0])
calc = SparseACECalculator(snakemake.input.model)
values = silicon_properties(calc, snakemake.params.settings)
write_json_atomic(snakemake.output[0], {
    "model": snakemake.wildcards.model, "dataset": snakemake.wildcards.dataset,
    "active": len(calc.model), "values": values, "settings": snakemake.params.settings,
    "inputs": inputs_record(snakemake.input), "versions": package_versions()})
