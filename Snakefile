# sparseace: the study "Scalable data-driven basis selection for linear machine-learning
# interatomic potentials" as a workflow, from raw data to figures and tables.
#   snakemake --cores 2                               (default, reduced run; config/config.yaml)
#   snakemake --cores N --configfile config/paper.yaml   (the full study)
from snakemake.utils import min_version

min_version("9.0")


# One config = one study: a config passed with --configfile replaces the default run's config as
# a whole (Snakemake would otherwise deep-merge it into config/config.yaml); --config key=value
# overrides apply on top of either.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/md.smk"
include: "workflow/rules/properties.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/reproduction.smk"
include: "workflow/rules/cost.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        expand("results/data/{dataset}/split.json", dataset=config["datasets"]),
        figure_and_table_files(),
        accuracy_cost_targets(),
        multiext("results/reproduction", ".md", ".csv"),
    default_target: True
