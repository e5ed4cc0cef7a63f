"""Run one solver of the registry on a fit's reduced training system and keep its checkpoints
(validation RMSE, coefficients in physical units c = theta / P)."""

import logging

from sparseace.basis import ACEBasis
from sparseace.design import DesignFactor, smoothness_prior
from sparseace.provenance import inputs_record, package_versions, setup_logging
from sparseace.solvers import FitSpec, LstsqSystem, get_solver, load_plugins

setup_logging(snakemake.log[0])
load_plugins(snakemake.config.get("solver_plugins"))
solver, fit, options = (get_solver(snakemake.wildcards.solver), snakemake.params.fit,
                        snakemake.params.options)
basis = ACEBasis.load(snakemake.input.basis)
prior = smoothness_prior(basis, fit["prior"])
train = LstsqSystem.from_factor(DesignFactor.load(snakemake.input.train), prior)
val = LstsqSystem.from_factor(DesignFactor.load(snakemake.input.val), prior)
logging.info("%s on %d functions, %d training rows, %d validation rows", solver.label,
             len(basis), train.nrows, val.nrows)
checkpoints = solver.checkpoints(train, val, FitSpec.from_settings(fit, basis.level_order()),
                                 options).rescaled(prior)
checkpoints.meta.update(dataset=snakemake.wildcards.dataset, prior_p=fit["prior"],
                        options=options, inputs=inputs_record(snakemake.input),
                        versions=package_versions())
checkpoints.save(snakemake.output[0])
logging.info("%d checkpoints, sizes %s", len(checkpoints), checkpoints.sizes.tolist())
