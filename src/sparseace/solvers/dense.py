"""Dense solvers on reduced systems: RRQR, BLR, and curves over basis size.

RRQR: pivoted-QR least squares, columns dropped below rtol * the largest pivot.
BLR: Bayesian linear regression x ~ N(0, 1/alpha), noise N(0, 1/beta), with alpha and beta
maximising the evidence (MacKay's fixed point); it needs only the sufficient statistics
(R, z, rho2, m) and works on the SVD of R.  Variances are floored (1e-4 by default).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.linalg import qr, solve_triangular, svd

from .checkpoints import Checkpoints
from .system import LstsqSystem

log = logging.getLogger(__name__)


def rrqr_solve(R, z, rtol: float = 1e-15) -> np.ndarray:
    """Least squares min ||R x - z|| by column-pivoted QR with relative pivot tolerance."""
    Q, T, perm = qr(R, mode="economic", pivoting=True)
    d = np.abs(np.diag(T))
    rank = int(np.sum(d > rtol * d[0])) if len(d) and d[0] > 0 else 0
    x = np.zeros(R.shape[1])
    x[perm[:rank]] = solve_triangular(T[:rank, :rank], (Q.T @ z)[:rank])
    return x


def blr_solve(R, z, rho2: float, nrows: int, variance_floor: float = 1e-4, max_iter: int = 500,
              tol: float = 1e-10):
    """Posterior mean of BLR with evidence-maximised prior precision alpha and noise precision
    beta.  Returns (x, alpha, beta)."""
    U, s, Vt = svd(R, full_matrices=False)
    y = U.T @ z
    outside = rho2 + max(float(z @ z - y @ y), 0.0)
    s2 = s ** 2
    alpha, beta = 1.0, 1.0 / max(np.var(z) if len(z) else 1.0, 1e-12)
    for _ in range(max_iter):
        f = beta * s / (beta * s2 + alpha)
        coef_v = f * y
        gamma = float(np.sum(beta * s2 / (beta * s2 + alpha)))
        resid = float(np.sum((s * coef_v - y) ** 2)) + outside
        new_alpha = min(gamma / max(coef_v @ coef_v, 1e-300), 1.0 / variance_floor)
        new_beta = min((nrows - gamma) / max(resid, 1e-300), 1.0 / variance_floor)
        done = (abs(new_alpha - alpha) <= tol * alpha) and (abs(new_beta - beta) <= tol * beta)
        alpha, beta = new_alpha, new_beta
        if done:
            break
    f = beta * s / (beta * s2 + alpha)
    return Vt.T @ (f * y), alpha, beta


def _prefix_systems(system: LstsqSystem, order):
    """R, z of the problem re-triangularised with its columns in ``order``: the problem on the
    first k columns is then (R[:k, :k], z[:k]) with ||z[k:]||^2 added to the residual."""
    Rp, zp = system.R, system.z
    if not np.array_equal(order, np.arange(system.ncols)):
        Q, Rp = qr(system.R[:, order], mode="economic")
        zp = Q.T @ system.z
    return Rp, zp


def dense_curve(train: LstsqSystem, val: LstsqSystem, order, sizes, solve, name: str,
                models=(), meta=None) -> Checkpoints:
    """Fit the first k columns of ``order`` for each k in ``sizes`` and ``models`` with
    ``solve(R, z, rho2, nrows) -> x`` (a least-squares problem in reduced form); ``at_size``
    records the fit of each size in ``models`` (the whole basis for a size beyond it)."""
    order = np.asarray(order)
    Rp, zp = _prefix_systems(train, order)
    n = len(order)
    wanted = sorted({int(k) for k in sizes if 0 < k <= n} | {min(int(k), n) for k in models})
    supports, coefs, rmse = [], [], []
    for k in wanted:
        x = solve(Rp[:k, :k], zp[:k], train.rho2 + float(zp[k:] @ zp[k:]), train.nrows)
        support = order[:k]
        supports.append(support)
        coefs.append(x)
        rmse.append(val.rmse(x, support))
        log.info("%s on the first %d functions: validation RMSE %.4g", name, k, rmse[-1])
    at_size = {str(int(k)): wanted.index(min(int(k), n)) for k in models}
    return Checkpoints.from_models(name, wanted, supports, coefs, rmse,
                                   {"order": "level", "at_size": at_size, **(meta or {})})


class RRQR:
    """Rank-revealing QR least squares (scikit-learn style)."""

    def __init__(self, rtol=1e-15):
        self.rtol = rtol

    def fit(self, A, b):
        return self.fit_system(LstsqSystem.from_dense(A, b))

    def fit_system(self, s: LstsqSystem):
        """Fit the problem of a reduced system (``LstsqSystem``: R, z, rho2, nrows)."""
        self.coef_ = rrqr_solve(s.R, s.z, self.rtol)
        return self


class BLR:
    """Bayesian linear regression with evidence maximisation (scikit-learn style)."""

    def __init__(self, variance_floor=1e-4):
        self.variance_floor = variance_floor

    def fit(self, A, b):
        return self.fit_system(LstsqSystem.from_dense(A, b))

    def fit_system(self, s: LstsqSystem):
        """Fit the problem of a reduced system (``LstsqSystem``: R, z, rho2, nrows)."""
        self.coef_, self.alpha_, self.beta_ = blr_solve(s.R, s.z, s.rho2, s.nrows,
                                                        self.variance_floor)
        return self
