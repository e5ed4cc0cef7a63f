"""Sparse model paths: ASP (homotopy LASSO by the dual active-set method) and OMP.

Both take a matrix A (m, n) and a vector b: the dense weighted system, or the reduced one
(R, z) of ``LstsqSystem``, whose paths are identical.  Every iterate is recorded: its lambda
(ASP; the largest correlation for OMP), its active set and its coefficients, stored compactly
(ragged arrays).

ASP follows the LASSO solution x(lambda) = argmin 1/2 ||A x - b||^2 + lambda ||x||_1 from
lambda = max |A^T b| down, breakpoint by breakpoint: between breakpoints the active
coefficients move linearly, x_S = (A_S^T A_S)^-1 (A_S^T b - lambda sign_S); a breakpoint is
where an inactive dual constraint |a_j^T (b - A x)| <= lambda becomes tight (j enters) or an
active coefficient reaches zero (it leaves).  The active-set solves use a Q-less QR kept by
column insert/delete updates (``ActiveQR``).  scikit-learn's ``lars_path(method="lasso")``
minimises 1/(2 m) ||A x - b||^2 + alpha ||x||_1, so alpha = lambda / m.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .active_qr import ActiveQR, SingularError
from .system import check_finite_system

log = logging.getLogger(__name__)

LAMBDA_MIN = float(np.sqrt(np.finfo(float).eps))


@dataclass
class ModelPath:
    """Iterates of a path: lambdas (iterates,), supports (active sets) and coefficients
    (ragged)."""

    method: str
    lambdas: np.ndarray
    ptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    stop_reason: str = ""
    settings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lambdas)

    def support(self, i: int) -> np.ndarray:
        return self.indices[self.ptr[i]:self.ptr[i + 1]]

    def coef(self, i: int) -> np.ndarray:
        return self.values[self.ptr[i]:self.ptr[i + 1]]

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.ptr)

    def dense_coef(self, i: int, n: int) -> np.ndarray:
        x = np.zeros(n)
        x[self.support(i)] = self.coef(i)
        return x


class _Recorder:
    def __init__(self):
        self.lambdas, self.sets, self.coefs = [], [], []

    def add(self, lam, active, x):
        self.lambdas.append(float(lam))
        self.sets.append(np.array(active, dtype=np.int64))
        self.coefs.append(np.array(x, dtype=float))

    def path(self, method, reason, settings) -> ModelPath:
        sizes = [len(s) for s in self.sets]
        ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
        return ModelPath(method, np.array(self.lambdas), ptr, cat(self.sets, np.int64),
                         cat(self.coefs, float), reason, settings)


def _prepare(A, b, use_gram):
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    check_finite_system(A, b)
    m, n = A.shape
    gram = A.T @ A if (use_gram if use_gram is not None else m >= n) else None
    return A, b, gram, A.T @ b


def asp_path(A, b, max_active: int | None = None, lambda_min: float = LAMBDA_MIN,
             max_iter: int | None = None, refactor_every: int = 100, piv_tol: float = 1e-12,
             use_gram: bool | None = None) -> ModelPath:
    """Homotopy LASSO path (ASP); see the module docstring.  Stops at ``lambda_min``, when the
    active set would exceed ``max_active``, or when the active columns become singular."""
    A, b, gram, Atb = _prepare(A, b, use_gram)
    m, n = A.shape
    max_active = min(max_active or n, n, m)
    max_iter = max_iter or 8 * max_active + 100
    qr_ = ActiveQR(A, gram, capacity=64, piv_tol=piv_tol, max_capacity=max_active + 1)
    c = Atb.copy()
    j = int(np.argmax(np.abs(c)))
    lam = abs(c[j])
    rec = _Recorder()
    settings = {"max_active": max_active, "lambda_min": lambda_min, "m": m, "n": n}
    if lam <= lambda_min:
        rec.add(lam, [], [])
        return rec.path("asp", "lambda_min", settings)
    active, signs, x = [], [], np.zeros(0)
    entering, dropped = j, None
    reason = "max_iter"
    for iteration in range(max_iter):
        if entering is not None:
            try:
                qr_.insert(entering)
            except SingularError as err:
                reason = f"singular: {err}"
                break
            active.append(entering)
            signs.append(np.sign(c[entering]))
            x = np.append(x, 0.0)
        if iteration and iteration % refactor_every == 0:
            qr_.refactorise()
        s = np.array(signs)
        # coefficients x and direction v (as lambda decreases by d, x_S grows by d v and the
        # correlations c = A^T (b - A x) fall by d w), solved together: each pass over R and
        # over G[:, S] serves both
        x, v = qr_.solve_gram(np.stack([Atb[active] - lam * s, s]))
        AtAx, w = qr_.gram_product(np.stack([x, v]))
        c = Atb - AtAx
        rec.add(lam, active, x)
        if len(active) >= max_active and entering is not None:
            reason = "max_active"
            break
        inactive = np.ones(n, dtype=bool)
        inactive[active] = False
        if dropped is not None:  # a column that just left may not re-enter at once
            inactive[dropped] = False
        with np.errstate(divide="ignore", invalid="ignore"):
            d_plus = (lam - c) / (1.0 - w)
            d_minus = (lam + c) / (1.0 + w)
            d_leave = -x / v
        tiny = 1e-14 * max(lam, 1.0)
        d_in = np.where(inactive & (d_plus > tiny), d_plus, np.inf)
        d_in = np.minimum(d_in, np.where(inactive & (d_minus > tiny), d_minus, np.inf))
        d_out = np.where(d_leave > tiny, d_leave, np.inf)
        if entering is not None:  # nor may one that just entered leave at once
            d_out[-1] = np.inf
        j_in, j_out = int(np.argmin(d_in)), int(np.argmin(d_out))
        step = min(d_in[j_in], d_out[j_out], lam - lambda_min)
        lam -= step
        if lam <= lambda_min * (1 + 1e-12):
            lam = lambda_min
            x = qr_.solve_gram(Atb[active] - lam * s)
            rec.add(lam, active, x)
            reason = "lambda_min"
            break
        if d_out[j_out] <= d_in[j_in]:
            active_removed = active[j_out]
            qr_.delete(j_out)
            active.pop(j_out)
            signs.pop(j_out)
            x = np.delete(x, j_out)
            entering, dropped = None, active_removed
        else:
            x = x + step * v
            c = c - step * w
            entering, dropped = j_in, None
    log.info("ASP path: %d iterates, %d active at the end, stop: %s", len(rec.lambdas),
             len(rec.sets[-1]), reason)
    return rec.path("asp", reason, settings)


def omp_path(A, b, max_active: int | None = None, tol: float = 0.0, refactor_every: int = 100,
             piv_tol: float = 1e-12, use_gram: bool | None = None) -> ModelPath:
    """Orthogonal matching pursuit: add the column most correlated with the residual, refit least
    squares on the active set (CSNE); one iterate per added column.  Stops at ``max_active``,
    when the residual correlations vanish (<= tol), or when the active columns become singular.
    ``lambdas`` holds the largest absolute correlation before each addition."""
    A, b, gram, Atb = _prepare(A, b, use_gram)
    m, n = A.shape
    max_active = min(max_active or n, n, m)
    qr_ = ActiveQR(A, gram, capacity=64, piv_tol=piv_tol, max_capacity=max_active + 1)
    c = Atb.copy()
    rec = _Recorder()
    active: list[int] = []
    reason = "max_active"
    while len(active) < max_active:
        scores = np.abs(c)
        scores[active] = -1.0
        j = int(np.argmax(scores))
        if scores[j] <= tol:
            reason = "converged"
            break
        try:
            qr_.insert(j)
        except SingularError as err:
            reason = f"singular: {err}"
            break
        active.append(j)
        if len(active) % refactor_every == 0:
            qr_.refactorise()
        x = qr_.lstsq(Atb[active], b)
        c = Atb - qr_.gram_product(x)
        rec.add(scores[j], active, x)
    log.info("OMP path: %d iterates, stop: %s", len(rec.lambdas), reason)
    return rec.path("omp", reason, {"max_active": max_active, "m": m, "n": n})


class _PathEstimator:
    """scikit-learn style wrapper: fit(A, b) computes the path; coef_ is its last iterate."""

    def fit(self, A, b):
        self.path_ = self._path(A, b)
        n = np.asarray(A).shape[1]
        self.coef_ = self.path_.dense_coef(len(self.path_) - 1, n)
        self.active_ = self.path_.support(len(self.path_) - 1)
        return self

    def predict(self, A):
        return np.asarray(A) @ self.coef_


class ASP(_PathEstimator):
    """Homotopy LASSO path estimator (see ``asp_path``)."""

    def __init__(self, max_active=None, lambda_min=LAMBDA_MIN):
        self.max_active = max_active
        self.lambda_min = lambda_min

    def _path(self, A, b):
        return asp_path(A, b, self.max_active, self.lambda_min)


class OMP(_PathEstimator):
    """Orthogonal matching pursuit estimator (see ``omp_path``)."""

    def __init__(self, max_active=None):
        self.max_active = max_active

    def _path(self, A, b):
        return omp_path(A, b, self.max_active)
