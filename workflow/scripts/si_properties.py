"""Silicon properties of a fitted model (ASE calculator) with percentage errors vs DFT."""

import yaml

from sparseace.calculator import SparseACECalculator
from sparseace.properties import percentage_errors, silicon_properties
from sparseace.provenance import inputs_record, package_versions, setup_logging, write_json_atomic

setup_logging(snakemake.log[0])
literature = yaml.safe_load(open(snakemake.input.literature))["si_properties"]
calc = SparseACECalculator(snakemake.input.model)
values = silicon_properties(calc, snakemake.params.settings)
write_json_atomic(snakemake.output[0], {
    "model": snakemake.input.model, "active": len(calc.model), "values": values,
    "percentage_error_vs_DFT": percentage_errors(values, literature["DFT"]),
    "settings": snakemake.params.settings, "inputs": inputs_record(snakemake.input),
    "versions": package_versions()})
