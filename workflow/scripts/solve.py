"""Run one solver of the registry on a fit's reduced training system and keep its checkpoints
(validation RMSE, coefficients in physical units c = theta / P): ``sparseace.fitting.solve``."""

from sparseace.basis import ACEBasis
from sparseace.design import DesignFactor
from sparseace.fitting import solve, training_factor
from sparseace.provenance import inputs_record, setup_logging
from sparseace.solvers import FitSpec, load_plugins

setup_logging(snakemake.log[0])
load_plugins(snakemake.config.get("solver_plugins"))
fit = snakemake.params.fit
basis = ACEBasis.load(snakemake.input.basis)
val = DesignFactor.load(snakemake.input.val)
train = training_factor(DesignFactor.load(snakemake.input.train), val, fit["train_on"])
checkpoints = solve(basis, train, val, fit["prior"],
                    snakemake.wildcards.solver, FitSpec.from_settings(fit, basis.level_order()),
                    snakemake.params.options)
checkpoints.meta.update(dataset=snakemake.wildcards.dataset, train_on=fit["train_on"],
                        split_seed=int(snakemake.wildcards.seed),
                        inputs=inputs_record(snakemake.input))
checkpoints.save(snakemake.output[0])
