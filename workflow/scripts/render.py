"""Draw one figure or write one table of the study (definitions: sparseace.study)."""

from sparseace import plots, study, tables
from sparseace.provenance import setup_logging
from sparseace.solvers import load_plugins

setup_logging(snakemake.log[0])
load_plugins(snakemake.config.get("solver_plugins"))  # labels of the run's plugin solvers
name, spec, label = snakemake.params.name, snakemake.params.spec, snakemake.params.label
inputs = {kind: study.load(kind, files) for kind, files in snakemake.params.files.items()}
result = study.make(name, spec, label, **inputs)
if study.DEFINITIONS[name].kind == "figure":
    plots.save_figure(result, snakemake.output)
else:
    table, caption = result
    tables.write_table(table, snakemake.output[0][: -len(".csv")], f"{caption} -- {label}")
