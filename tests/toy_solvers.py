"""A solver plugin for the workflow test: scikit-learn's coordinate-descent LASSO path as one
registry entry (``solver_plugins: [toy_solvers]`` in tests/workflow_config.yaml)."""

import numpy as np
from sklearn.linear_model import lasso_path

from sparseace.solvers import Checkpoints, Solver, register
from sparseace.solvers.checkpoints import first_reached


def lasso_cd_checkpoints(train, val, fit, options):
    """LASSO by coordinate descent on (R, z) at ``options["alphas"]`` penalties (default 30)."""
    alphas, coefs, _ = lasso_path(train.R, train.z, n_alphas=options.get("alphas", 30),
                                  max_iter=options.get("max_iter", 2000))
    supports = [np.flatnonzero(c) for c in coefs.T]
    values = [c[s] for c, s in zip(coefs.T, supports)]
    reached = first_reached([len(s) for s in supports], fit.sizes)
    at_size = {str(n): reached.get(n, len(supports) - 1) for n in fit.sizes}
    return Checkpoints.from_models("lasso_cd", alphas, supports, values,
                                   [val.rmse(v, s) for v, s in zip(values, supports)],
                                   {"at_size": at_size})


register(Solver("lasso_cd", "Lasso (CD)", "path", lasso_cd_checkpoints,
                "LASSO by coordinate descent (scikit-learn lasso_path)", "a plugin example",
                "C5", "x"))
