"""Run one solver on a fit's reduced training system: a path (ASP, OMP), a curve over basis
size (RRQR, BLR) or a set of ARD fits; keep checkpoints with validation RMSE.  Coefficients
are saved in physical units (c = theta / P)."""

import logging
from pathlib import Path

import numpy as np

from sparseace.basis import ACEBasis
from sparseace.design import DesignFactor, smoothness_prior
from sparseace.provenance import inputs_record, package_versions, setup_logging
from sparseace.solvers import (LstsqSystem, ard_checkpoints, asp_path, dense_curve, omp_path,
                               path_checkpoints)

setup_logging(snakemake.log[0])
solver, fit, options = snakemake.wildcards.solver, snakemake.params.fit, snakemake.params.options
basis = ACEBasis.from_json(Path(snakemake.input.basis).read_text())
prior = smoothness_prior(basis, fit["prior"])
train = LstsqSystem.from_factor(DesignFactor.load(snakemake.input.train), prior)
val = LstsqSystem.from_factor(DesignFactor.load(snakemake.input.val), prior)
n = len(basis)
logging.info("%s on %d functions, %d training rows, %d validation rows", solver, n,
             train.nrows, val.nrows)
if solver in ("asp", "omp"):
    if solver == "asp":
        path = asp_path(train.R, train.z, max_active=fit["max_active"])
    else:
        path = omp_path(train.R, train.z, max_active=fit["max_active"])
    checkpoints = path_checkpoints(path, train, val, fit["checkpoints"], options.get("debias"))
elif solver in ("rrqr", "blr"):
    sizes = np.unique(np.concatenate([
        np.geomspace(min(10, n), n, fit["dense_sizes"]).round().astype(int),
        [k for k in fit["models"] if k <= n], [n]]))
    checkpoints = dense_curve(train, val, basis.level_order(), sizes, solver, **options)
elif solver == "ard":
    checkpoints = ard_checkpoints(train, val, options["threshold_lambdas"],
                                  max_iter=options["max_iter"], tol=options["tol"])
else:
    raise ValueError(f"unknown solver {solver!r}")
checkpoints.values = checkpoints.values / prior[checkpoints.indices]
checkpoints.meta.update(dataset=snakemake.wildcards.dataset, prior_p=fit["prior"],
                        coefficients="physical (c = theta / P)", options=options,
                        inputs=inputs_record(snakemake.input), versions=package_versions())
checkpoints.save(snakemake.output[0])
logging.info("%d checkpoints, sizes %s", len(checkpoints), checkpoints.sizes.tolist())
