"""Silicon properties of a fitted model (ASE calculator); Table III compares them with DFT.
BLAS runs on the job's threads: idle OpenBLAS threads spinning beside the other jobs slowed
the relaxations up to 40x on a busy 2-core machine."""

from threadpoolctl import threadpool_limits

from sparseace.calculator import SparseACECalculator
from sparseace.properties import silicon_properties
from sparseace.provenance import inputs_record, package_versions, setup_logging, write_json_atomic

setup_logging(snakemake.log[0])
calc = SparseACECalculator(snakemake.input.model)
failures = {}  # defects and surfaces the model collapses: None in values, the reason here
with threadpool_limits(snakemake.threads):
    values = silicon_properties(calc, snakemake.params.settings, failures,
                                snakemake.params.protocol)
write_json_atomic(snakemake.output[0], {
    "model": snakemake.wildcards.model, "dataset": snakemake.wildcards.dataset,
    "active": len(calc.model), "values": values, "failures": failures,
    "settings": snakemake.params.settings, "protocol": snakemake.params.protocol,
    "inputs": inputs_record(snakemake.input), "versions": package_versions()})
