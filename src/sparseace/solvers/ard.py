"""Automatic relevance determination (ARD) on reduced systems, and ARD models of given sizes.

``ard_fit`` is scikit-learn ``ARDRegression``'s algorithm (updates, pruning by
threshold_lambda, stopping rule) written on the sufficient statistics (R, z, rho2, m) of the
preconditioned system and checked against ARDRegression in the tests.  Each iteration
factorises only the kept block M = diag(lambda_K) + alpha G_KK by Cholesky (k^3/3 flops; its
inverse's diagonal by a triangular inverse, k^3/3 more) where scikit-learn takes a
pseudo-inverse (an eigendecomposition, about 9 k^3); functions leave the block as soon as their
precision passes the threshold.

Larger thresholds keep more functions, and cost more: an iteration is cubic in the kept
functions.  The study "obtained the ARD solutions with desired sparsity by modifying lambda":
``ard_checkpoints`` fits a grid of thresholds in ascending order (a curve for the figures),
each warm-started from the previous one, up to the first threshold whose model exceeds
``size_cap`` functions, and, for each requested size n, bisects log(threshold) for the model
with the most functions not above n, warm-started from the nearest smaller threshold.  Small
enough thresholds prune everything, so a model of at most n functions always exists (at worst
the empty one).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, lapack, pinvh

from .checkpoints import Checkpoints
from .system import LstsqSystem

log = logging.getLogger(__name__)

HYPER = {"alpha_1": 1e-6, "alpha_2": 1e-6, "lambda_1": 1e-6, "lambda_2": 1e-6}


@dataclass
class ARDState:
    """Where an ARD fit ended: precisions of the coefficients ``lam`` (n,), noise precision
    ``alpha``, and the model (support, coef) with its number of iterations."""

    lam: np.ndarray
    alpha: float
    support: np.ndarray
    coef: np.ndarray
    iterations: int


def _posterior(G, h, keep, lam_k, alpha):
    """Posterior mean of the kept coefficients and the diagonal of their covariance."""
    M = alpha * G[np.ix_(keep, keep)]
    M[np.diag_indices_from(M)] += lam_k
    try:
        L = cholesky(M, lower=True, check_finite=False)
        mean = alpha * cho_solve((L, True), h[keep], check_finite=False)
        Linv, info = lapack.dtrtri(L, lower=1)
        if info != 0:
            raise LinAlgError("singular Cholesky factor")
        return mean, np.einsum("ij,ij->j", Linv, Linv)
    except LinAlgError:  # numerically indefinite: scikit-learn's pseudo-inverse
        sigma = pinvh(M)
        return alpha * sigma @ h[keep], np.diag(sigma).copy()


def _ard(system: LstsqSystem, G, h, threshold_lambda, max_iter, tol, start=None,
         hyper=None) -> ARDState:
    """ARD iterations from ``start`` (an ``ARDState``) or from scikit-learn's start (lambda = 1,
    alpha = 1 / mean(y^2): the mean of y is not part of the reduced system); ``hyper``
    overrides entries of HYPER."""
    unknown = sorted(set(hyper or {}) - set(HYPER))
    if unknown:
        raise ValueError(f"unknown ARD hyper-parameters {unknown} (known: {sorted(HYPER)})")
    hyper = {**HYPER, **(hyper or {})}
    alpha_1, alpha_2 = hyper["alpha_1"], hyper["alpha_2"]
    lambda_1, lambda_2 = hyper["lambda_1"], hyper["lambda_2"]
    n, m = len(h), system.nrows
    if start is None:
        lam = np.ones(n)
        alpha = 1.0 / ((system.z @ system.z + system.rho2) / m + np.finfo(float).eps)
        keep = np.ones(n, dtype=bool)
    else:
        lam, alpha = start.lam.copy(), start.alpha
        keep = lam < threshold_lambda
    coef = np.zeros(n)
    coef_old = None
    iteration = 0
    for iteration in range(max_iter):
        coef[:] = 0.0
        coef[keep], sigma_diag = _posterior(G, h, keep, lam[keep], alpha)
        sse = system.residual_norm2(coef)
        gamma = 1.0 - lam[keep] * sigma_diag
        lam[keep] = (gamma + 2.0 * lambda_1) / (coef[keep] ** 2 + 2.0 * lambda_2)
        alpha = (m - gamma.sum() + 2.0 * alpha_1) / (sse + 2.0 * alpha_2)
        keep = lam < threshold_lambda
        coef[~keep] = 0.0
        if iteration > 0 and np.sum(np.abs(coef_old - coef)) < tol:
            break
        coef_old = coef.copy()
        if not keep.any():
            break
    coef[:] = 0.0
    if keep.any():
        coef[keep] = _posterior(G, h, keep, lam[keep], alpha)[0]
    support = np.flatnonzero(coef)
    return ARDState(lam, float(alpha), support, coef[support], iteration + 1)


def ard_fit(system: LstsqSystem, threshold_lambda: float = 1e4, max_iter: int = 500,
            tol: float = 0.1, **hyper):
    """ARD with scikit-learn ``ARDRegression``'s updates and stopping rule (its
    alpha_1, alpha_2, lambda_1, lambda_2 in ``hyper``).  Returns (support, coef)."""
    state = _ard(system, system.R.T @ system.R, system.R.T @ system.z, threshold_lambda,
                 max_iter, tol, None, hyper)
    return state.support, state.coef


def ard_checkpoints(train: LstsqSystem, val: LstsqSystem, threshold_lambdas, sizes=(),
                    max_iter: int = 500, tol: float = 0.1, bisection_steps: int = 8,
                    size_cap: int | None = None, **hyper) -> Checkpoints:
    """ARD models at ``threshold_lambdas`` (ascending, stopping after the first model larger
    than ``size_cap`` functions) and, for each n in ``sizes``, the model with the most functions
    not above n found by bisection in log(threshold) (``at_size``).  Checkpoints are ordered
    by threshold (their label)."""
    G, h = train.R.T @ train.R, train.R.T @ train.z
    fits: dict[float, ARDState] = {}

    def fit(t: float) -> ARDState:
        if t not in fits:
            smaller = [u for u in fits if u < t]  # warm start: the nearest smaller threshold
            start = fits[max(smaller)] if smaller else None
            fits[t] = _ard(train, G, h, t, max_iter, tol, start, hyper)
            log.info("ARD threshold_lambda %.6g: %d active after %d iterations", t,
                     len(fits[t].support), fits[t].iterations)
        return fits[t]

    skipped = []
    for t in sorted(float(t) for t in threshold_lambdas):
        if size_cap is not None and any(len(f.support) > size_cap for f in fits.values()):
            skipped.append(t)
            continue
        fit(t)
    for n in sorted(set(int(n) for n in sizes)):
        _bisect_size(n, fits, fit, bisection_steps)
    thresholds = sorted(fits)
    models = [fits[t] for t in thresholds]
    rmse = [val.rmse(f.coef, f.support) for f in models]
    at_size = {str(n): _most_functions_not_above(n, models, rmse) for n in sizes}
    return Checkpoints.from_models(
        "ard", thresholds, [f.support for f in models], [f.coef for f in models], rmse,
        {"max_iter": max_iter, "tol": tol, "grid": [float(t) for t in threshold_lambdas],
         "skipped_above_size_cap": skipped, "size_cap": size_cap,
         "iterations": [f.iterations for f in models], "at_size": at_size})


def _most_functions_not_above(n: int, models, rmse) -> int:
    """Index of the largest model with at most n functions (ties: lowest validation RMSE)."""
    ok = [i for i, f in enumerate(models) if len(f.support) <= n]
    return max(ok, key=lambda i: (len(models[i].support), -rmse[i]))


def _bisect_size(n, fits, fit, steps) -> None:
    """Fit thresholds until one gives exactly n functions, the bracket (largest threshold with
    at most n, smallest larger one with more) is narrower than 0.1 %, or after ``steps`` fits
    (8 halvings of log(threshold): a bracket of 3x narrows to 0.4 %)."""
    def bracket():
        below = [t for t, f in fits.items() if len(f.support) <= n]
        lo = max(below) if below else None
        above = [t for t, f in fits.items() if len(f.support) > n and (lo is None or t > lo)]
        return lo, (min(above) if above else None)

    lo, hi = bracket()
    while lo is None:  # every fit so far keeps more than n: go down until one does not
        fit(min(fits) / 10.0)
        lo, hi = bracket()
    for _ in range(steps):
        if hi is None or len(fits[lo].support) == n or hi / lo < 1.001:
            return
        fit(math.sqrt(lo * hi))
        lo, hi = bracket()
