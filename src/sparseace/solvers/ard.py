"""Automatic relevance determination (ARD) as the study ran it, and ARD models of given sizes.

The study's ARD is ACEfit's ``SKLEARN_ARD(max_iter, tol, threshold_lambda)``: scikit-learn's
``ARDRegression(max_iter, threshold_lambda, tol, fit_intercept=True, compute_score=True)``
fitted once, from its own start, on the weighted preconditioned system (W A) P^-1, W y, of
which only ``coef_`` is kept (ACEfit.jl ext/ACEfit_PythonCall_ext.jl lines 23-36, the same
from 0.2.0 to 0.2.5, the newest version at hand; the study pinned 0.2.6.  ACEpotentials 0.8.6
src/fit_model.jl lines 141-161 forms the system and turns ``coef_`` into c = P^-1 coef_).  ``fit_intercept=True`` centres the columns and the
target before the iterations; the intercept is then dropped.  ``compute_score`` only records
the objective.

``ard_fit`` runs ``ARDRegression.fit`` (scikit-learn 1.9, sklearn/linear_model/_bayes.py) on
the centred reduced system (``LstsqSystem.centred``: R_c, z_c, rho_c^2 of the centred columns
X_c and target y_c), so that X_c^T X_c = R_c^T R_c, X_c^T y_c = R_c^T z_c,
||y_c - X_c x||^2 = ||R_c x - z_c||^2 + rho_c^2 and var(y) = (||z_c||^2 + rho_c^2) / m.
Start lambda = 1, alpha = 1 / (var(y) + eps); every iteration: Sigma of the kept functions,
their posterior mean, new lambda (kept) and alpha, pruning of lambda >= threshold_lambda, stop
when the coefficients moved by less than ``tol`` (l1), or nothing is kept; a last Sigma and
mean.  scikit-learn's Sigma is ``pinvh(diag(lambda_K) + alpha X_K^T X_K)`` (its Gram branch,
n_samples >= n_features, which the ACE systems take): eigenvalues below k eps times the largest
are dropped.  Here Cholesky gives Sigma (k^3/3 flops, and as much for its diagonal) whenever no
eigenvalue can be that small (``_inverts``), the eigendecomposition with pinvh's cutoff
otherwise.  With fewer rows than functions scikit-learn takes Woodbury's identity in sample
space, the same matrix in exact arithmetic.  Results agree with scikit-learn up to rounding
(the tests).  On the preconditioned ACE systems the smallest eigenvalue of the kept block sits
at about twice pinvh's cutoff, so Sigma there is determined only to ~1e-4 by any order of
operations, and the iterations' stopping test can react to that: on Zuo Li (5317 functions)
at threshold 10, Cholesky and the eigendecomposition stop after 87 and 183 iterations with
899 functions each, 897 of them shared, validation RMSE 0.019983 and 0.019986.

Model sizes: larger thresholds keep more functions.  The study "obtained the ARD solutions with
desired sparsity by modifying lambda": ``ard_checkpoints`` makes one cold fit per threshold of
a grid (ascending, up to the first model above ``size_cap``) and, for each requested size n,
bisects log(threshold) for a model of between 0.95 n and n functions.  The first iteration does
not depend on the threshold (pruning comes after it): it is computed once and every fit goes on
from there exactly as its own cold start would.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, eigh, lapack
from scipy.sparse.linalg import eigsh
from threadpoolctl import ThreadpoolController

from .checkpoints import Checkpoints
from .system import LstsqSystem

log = logging.getLogger(__name__)

HYPER = {"alpha_1": 1e-6, "alpha_2": 1e-6, "lambda_1": 1e-6, "lambda_2": 1e-6}
EPS = np.finfo(float).eps
#: a model "of n functions" has between SIZE_WINDOW * n and n functions
SIZE_WINDOW = 0.95
#: Sigma by Cholesky when every eigenvalue is above MARGIN times pinvh's cutoff (``_inverts``)
MARGIN = 1.1
#: fewer kept functions than this: always the eigendecomposition (cheap at that size)
CERTIFY_MIN = 64


@dataclass
class ARDState:
    """Where an ARD fit ended: precisions of the coefficients ``lam`` (n,), noise precision
    ``alpha``, the model (support, coef), its number of iterations and whether the ``tol``
    test stopped it."""

    lam: np.ndarray
    alpha: float
    support: np.ndarray
    coef: np.ndarray
    iterations: int
    converged: bool


class CentredSystem:
    """The centred system of a reduced one (what ``fit_intercept=True`` fits) and its normal
    equations: G = X_c^T X_c (n, n), h = X_c^T y_c (n,), yy = ||y_c||^2."""

    def __init__(self, system: LstsqSystem):
        if system.nrows < 2:
            raise ValueError(f"ARD needs at least 2 rows, got {system.nrows}")
        self.system = system.centred()
        R, z = self.system.R, self.system.z
        self.G = R.T @ R
        self.h = R.T @ z
        self.yy = float(z @ z) + self.system.rho2

    def sse(self, support, coef) -> float:
        """||y_c - X_c x||^2 for x with ``coef`` on ``support``."""
        return self.system.residual_norm2(coef, support)


def _posterior(G, h, K, lam_k, alpha):
    """Posterior mean and covariance diagonal of the kept coefficients K: Sigma =
    pinvh(diag(lam_k) + alpha G_KK) with scipy's default cutoff (k eps max |eigenvalue|), as
    scikit-learn computes it.  M = diag(lam_k) + alpha G_KK is inverted through its Cholesky
    factor when ``_inverts`` certifies that pinvh drops none of its eigenvalues, otherwise by
    an eigendecomposition with pinvh's cutoff.  An empty K gives empty arrays (no LAPACK call
    on an empty block)."""
    k = len(K)
    if k == 0:
        return np.zeros(0), np.zeros(0)
    M = alpha * G[np.ix_(K, K)]
    M[np.diag_indices(k)] += lam_k
    if _inverts(M, lam_k):
        try:
            L = cholesky(M, lower=True, check_finite=False)
            Linv, info = lapack.dtrtri(L, lower=1)
            if info == 0:
                return (alpha * cho_solve((L, True), h[K], check_finite=False),
                        np.einsum("ij,ij->j", Linv, Linv))
        except LinAlgError:
            pass
    # pinvh's cutoff; divide and conquer ("evd") is ~3x faster than pinvh's "ev" at k ~ 1500
    s, U = eigh(M, lower=True, driver="evd", check_finite=False)
    above = np.abs(s) > k * EPS * np.abs(s).max()
    U, inv = U[:, above], 1.0 / s[above]
    return alpha * ((U * inv) @ (U.T @ h[K])), (U * U) @ inv


def _inverts(M, lam_k) -> bool:
    """Whether pinvh keeps every eigenvalue of M = diag(lam_k) + alpha G_KK (k, k): whether
    they are all above MARGIN times its cutoff k eps lambda_max.  Certain when min(lam_k)
    (a lower bound of the eigenvalues) is above MARGIN k eps times an upper bound of lambda_max
    (the Frobenius and 1-norms); otherwise when M - MARGIN k eps lambda_max I has a Cholesky
    factor (then no eigenvalue lies within MARGIN - 1 cutoffs of it, far more than the
    rounding of either factorisation, about eps lambda_max), with lambda_max from Lanczos.
    Below ``CERTIFY_MIN`` functions the eigendecomposition is cheap and always taken."""
    k = len(M)
    if k < CERTIFY_MIN:
        return False
    if lam_k.min() > MARGIN * k * EPS * min(np.linalg.norm(M), np.abs(M).sum(axis=0).max()):
        return True
    top = eigsh(M, k=1, which="LA", v0=np.ones(k), tol=1e-6, return_eigenvectors=False)[0]
    shifted = M.copy()
    shifted[np.diag_indices(k)] -= MARGIN * k * EPS * top * (1.0 + 1e-6)
    try:
        cholesky(shifted, lower=True, overwrite_a=True, check_finite=False)
    except LinAlgError:
        return False
    return True


def _hyper(hyper) -> dict:
    unknown = sorted(set(hyper or {}) - set(HYPER))
    if unknown:
        raise ValueError(f"unknown ARD hyper-parameters {unknown} (known: {sorted(HYPER)})")
    return {**HYPER, **(hyper or {})}


def _update(c: CentredSystem, keep, lam, alpha, hyper):
    """One ARDRegression iteration up to the pruning: (coef, lambda, alpha)."""
    K = np.flatnonzero(keep)
    coef = np.zeros(len(lam))
    coef[K], sigma_diag = _posterior(c.G, c.h, K, lam[K], alpha)
    sse = c.sse(K, coef[K])
    gamma = 1.0 - lam[K] * sigma_diag
    lam = lam.copy()
    lam[K] = (gamma + 2.0 * hyper["lambda_1"]) / (coef[K] ** 2 + 2.0 * hyper["lambda_2"])
    alpha = ((c.system.nrows - gamma.sum() + 2.0 * hyper["alpha_1"])
             / (sse + 2.0 * hyper["alpha_2"]))
    return coef, lam, alpha


def numpy_blas_serial():
    """A context in which numpy's own BLAS (not scipy's) runs one thread.  numpy's and scipy's
    wheels bundle one OpenBLAS each; an ARD iteration alternates numpy's matrix-vector products
    (memory-bound) with scipy's factorisations, and the idle threads of one pool spinning while
    the other works made the iterations 3x slower (k = 1000: 82 -> 27 ms for 20 products and
    one Cholesky factor with its inverse).  Where both share one library, nothing changes."""
    numpy_dir = Path(np.__file__).parent
    places = (numpy_dir, numpy_dir.with_name(numpy_dir.name + ".libs"))
    controller = ThreadpoolController()
    own = [c.filepath for c in controller.lib_controllers if c.user_api == "blas"
           and any(Path(c.filepath).is_relative_to(p) for p in places)]
    if not own:
        return contextlib.nullcontext()
    return controller.select(filepath=own).limit(limits=1)


def first_update(c: CentredSystem, hyper=None):
    """ARDRegression's first iteration from its start (lambda = 1, alpha = 1 / (var(y) + eps),
    every function kept) up to the pruning: the same for every threshold."""
    n = c.G.shape[0]
    alpha = 1.0 / (c.yy / c.system.nrows + EPS)
    return _update(c, np.ones(n, dtype=bool), np.ones(n), alpha, _hyper(hyper))


def _ard(c: CentredSystem, start, threshold_lambda, max_iter, tol, hyper=None) -> ARDState:
    """ARDRegression.fit's iterations at ``threshold_lambda`` from ``first_update``'s result."""
    hyper = _hyper(hyper)
    if max_iter < 1:
        raise ValueError(f"ARD max_iter must be at least 1, got {max_iter}")
    coef, lam, alpha = start[0].copy(), start[1].copy(), start[2]
    coef_old, converged, iteration = None, False, 0
    for iteration in range(max_iter):
        if iteration > 0:
            coef, lam, alpha = _update(c, keep, lam, alpha, hyper)
        keep = lam < threshold_lambda
        coef[~keep] = 0.0
        if iteration > 0 and np.sum(np.abs(coef_old - coef)) < tol:
            converged = True
            break
        coef_old = coef.copy()
        if not keep.any():
            break
    support = np.flatnonzero(keep)
    if len(support):
        coef = _posterior(c.G, c.h, support, lam[support], alpha)[0]
    else:
        coef = np.zeros(0)
    return ARDState(lam, float(alpha), support, coef, iteration + 1, converged)


def ard_fit(system: LstsqSystem, threshold_lambda: float = 1e4, max_iter: int = 500,
            tol: float = 0.1, **hyper):
    """``ARDRegression(max_iter, tol, threshold_lambda, fit_intercept=True).fit(A, b).coef_``
    (its alpha_1, alpha_2, lambda_1, lambda_2 in ``hyper``).  Returns (support, coef)."""
    c = CentredSystem(system)
    with numpy_blas_serial():
        state = _ard(c, first_update(c, hyper), threshold_lambda, max_iter, tol, hyper)
    return state.support, state.coef


def ard_checkpoints(train: LstsqSystem, val: LstsqSystem, threshold_lambdas, sizes=(),
                    max_iter: int = 500, tol: float = 0.1, bisection_steps: int = 40,
                    size_cap: int | None = None, **hyper) -> Checkpoints:
    """Cold ARD fits at ``threshold_lambdas`` (ascending, stopping after the first model larger
    than ``size_cap`` functions) and, for each n in ``sizes``, at thresholds found by bisection
    in log(threshold) until a model has between 0.95 n and n functions; ``at_size`` points to
    the model with the most functions not above n, and ``size_search`` says, for each n, where
    the search ended and, when that model has fewer than 0.95 n functions, why.  Checkpoints are
    ordered by threshold (their label)."""
    c = CentredSystem(train)
    with numpy_blas_serial():
        start = first_update(c, hyper)
        fits: dict[float, ARDState] = {}

        def fit(t: float) -> ARDState:
            if t not in fits:
                fits[t] = _ard(c, start, t, max_iter, tol, hyper)
                f = fits[t]
                log.info("ARD threshold_lambda %.10g: %d active after %d iterations%s", t,
                         len(f.support), f.iterations, "" if f.converged else " (not converged)")
            return fits[t]

        skipped = []
        for t in sorted(float(t) for t in threshold_lambdas):
            if size_cap is not None and any(len(f.support) > size_cap for f in fits.values()):
                skipped.append(t)
                continue
            fit(t)
        search = {str(n): _bisect_size(n, fits, fit, bisection_steps)
                  for n in sorted(set(int(n) for n in sizes))}
        thresholds = sorted(fits)
        models = [fits[t] for t in thresholds]
        rmse = [val.rmse(f.coef, f.support) for f in models]
        at_size = {str(n): _most_functions_not_above(n, models, rmse) for n in sizes}
        return Checkpoints.from_models(
            "ard", thresholds, [f.support for f in models], [f.coef for f in models], rmse,
            {"max_iter": max_iter, "tol": tol, "grid": [float(t) for t in threshold_lambdas],
             "skipped_above_size_cap": skipped, "size_cap": size_cap,
             "iterations": [f.iterations for f in models],
             "converged": [f.converged for f in models], "at_size": at_size,
             "size_search": search, "centred": True})


def _most_functions_not_above(n: int, models, rmse) -> int:
    """Index of the largest model with at most n functions (ties: lowest validation RMSE)."""
    ok = [i for i, f in enumerate(models) if len(f.support) <= n]
    return max(ok, key=lambda i: (len(models[i].support), -rmse[i]))


def _bisect_size(n, fits, fit, steps) -> dict:
    """Fit thresholds until one gives between 0.95 n and n functions, the bracket (largest
    threshold with at most n, smallest larger one with more) is narrower than 1e-9 relative
    (the size jumps across it), or after ``steps`` fits; with no model above n yet, the
    threshold grows tenfold (at most to 1e12).  Returns where the search ended, with a
    ``note`` when the model has fewer than 0.95 n functions."""
    low = math.ceil(SIZE_WINDOW * n)

    def bracket():
        below = [t for t, f in fits.items() if len(f.support) <= n]
        lo = max(below) if below else None
        above = [t for t, f in fits.items() if len(f.support) > n and (lo is None or t > lo)]
        return lo, (min(above) if above else None)

    lo, hi = bracket()
    while lo is None:  # every fit so far keeps more than n: go down until one does not
        fit(min(fits) / 10.0)
        lo, hi = bracket()
    ncols = len(fits[lo].lam)
    for _ in range(steps):
        size = len(fits[lo].support)
        if size >= low or (hi is not None and hi / lo - 1.0 < 1e-9):
            break
        if hi is None:
            if lo >= 1e12 or size == ncols:
                break
            fit(lo * 10.0)
        else:
            fit(math.sqrt(lo * hi))
        lo, hi = bracket()
    size = len(fits[lo].support)
    out = {"size": size, "threshold": lo, "next_threshold": hi,
           "next_size": None if hi is None else len(fits[hi].support)}
    if size < low:
        if hi is None:
            out["note"] = (f"the basis has {ncols} functions" if size == ncols else
                           f"no threshold up to {lo:.6g} gives more than {size} functions")
        elif hi / lo - 1.0 < 1e-9:
            out["note"] = (f"the model size jumps from {size} to {out['next_size']} between "
                           f"thresholds {lo:.12g} and {hi:.12g}")
        else:
            out["note"] = (f"{steps} bisection steps ended between {size} functions (threshold "
                           f"{lo:.12g}) and {out['next_size']} ({hi:.12g})")
    return out
