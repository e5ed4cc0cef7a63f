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

A candidate column that is numerically dependent on the active set does not end a path: it is
excluded (for good) and the next candidate taken, so that a path is that of A without the
excluded columns.  ``ModelPath.stop_reason`` says why a path ended (a short code, see
``asp_path`` and ``omp_path``); ``settings["excluded"]`` lists the excluded columns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .active_qr import ActiveQR, SingularError
from .system import check_finite_system

log = logging.getLogger(__name__)

LAMBDA_MIN = float(np.sqrt(np.finfo(float).eps))
BLOWUP = 1e12  # a path ends when its coefficients exceed this (max abs)


@dataclass
class ModelPath:
    """Iterates of a path: lambdas (iterates,), supports (active sets) and coefficients
    (ragged); why it ended (``stop_reason``) and its settings, excluded columns included."""

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
             use_gram: bool | None = None, max_ratio: float = 1e10) -> ModelPath:
    """Homotopy LASSO path (ASP); see the module docstring.

    A column that would enter but is numerically dependent on the active set (``ActiveQR``:
    ``piv_tol``, R's diagonal ratio past ``max_ratio``) is excluded and the path goes on.
    ``stop_reason``: ``lambda_min``, ``max_active`` (the active set reached it), ``blowup``
    (coefficients above 1e12; that iterate is not recorded) or ``max_iter``.  ``settings``
    records the excluded columns (``excluded``, ``n_excluded``)."""
    A, b, gram, Atb = _prepare(A, b, use_gram)
    m, n = A.shape
    max_active = min(max_active or n, n, m)
    max_iter = max_iter or 8 * max_active + 100
    qr_ = ActiveQR(A, gram, capacity=64, piv_tol=piv_tol, max_ratio=max_ratio,
                   max_capacity=max_active + 1)
    c = Atb.copy()
    j = int(np.argmax(np.abs(c)))
    lam = abs(c[j])
    rec = _Recorder()
    settings = {"max_active": max_active, "lambda_min": lambda_min, "m": m, "n": n}
    if lam <= lambda_min:
        rec.add(lam, [], [])
        return rec.path("asp", "lambda_min", _excluded(settings, []))
    candidate = np.ones(n, dtype=bool)  # neither active nor excluded
    active, signs, excluded = [], [], []
    x, v, w = np.zeros(0), np.zeros(0), np.zeros(n)
    entering, dropped = j, None
    reason = "max_iter"
    for iteration in range(max_iter):
        moved = entering is None  # the active set changed since x, v, c, w were computed
        if entering is not None:
            candidate[entering] = False
            try:
                qr_.insert(entering)
            except SingularError:
                excluded.append(entering)  # x, v, c, w stand; find the next breakpoint
            else:
                moved = True
                active.append(entering)
                signs.append(np.sign(c[entering]))
        if moved:
            if iteration and iteration % refactor_every == 0:
                qr_.refactorise()
            s = np.array(signs)
            # coefficients x and direction v (as lambda decreases by d, x_S grows by d v and
            # the correlations c = A^T (b - A x) fall by d w), solved together: each pass over
            # R and over G[:, S] serves both
            x, v = qr_.solve_gram(np.stack([Atb[active] - lam * s, s]))
            if np.abs(x).max(initial=0.0) > BLOWUP:
                reason = "blowup"
                break
            AtAx, w = qr_.gram_product(np.stack([x, v]))
            c = Atb - AtAx
            rec.add(lam, active, x)
            if len(active) >= max_active and entering is not None:
                reason = "max_active"
                break
        # a column that just left may not re-enter at once at the bound it left (c = +-lam)
        plus, minus = candidate.copy(), candidate.copy()
        if dropped is not None:
            (plus if dropped_sign > 0 else minus)[dropped] = False
        with np.errstate(divide="ignore", invalid="ignore"):
            d_plus = (lam - c) / (1.0 - w)
            d_minus = (lam + c) / (1.0 + w)
            d_leave = -x / v
        tiny = 1e-14 * max(lam, 1.0)
        d_in = np.where(plus & (d_plus > tiny), d_plus, np.inf)
        d_in = np.minimum(d_in, np.where(minus & (d_minus > tiny), d_minus, np.inf))
        d_out = np.where(d_leave > tiny, d_leave, np.inf)
        if moved and entering is not None:  # nor may one that just entered leave at once
            d_out[-1] = np.inf
        j_in = int(np.argmin(d_in))
        j_out = int(np.argmin(d_out)) if len(d_out) else 0
        step_out = d_out[j_out] if len(d_out) else np.inf
        step = min(d_in[j_in], step_out, lam - lambda_min)
        lam -= step
        if lam <= lambda_min * (1 + 1e-12):
            lam = lambda_min
            x = qr_.solve_gram(Atb[active] - lam * np.array(signs))
            rec.add(lam, active, x)
            reason = "lambda_min"
            break
        if step_out <= d_in[j_in]:
            removed = active.pop(j_out)
            qr_.delete(j_out)
            dropped_sign = signs.pop(j_out)
            x = np.delete(x, j_out)
            candidate[removed] = True
            entering, dropped = None, removed
        else:
            x = x + step * v
            c = c - step * w
            entering, dropped = j_in, None
    log.info("ASP path: %d iterates, %d active at the end, %d columns excluded, stop: %s",
             len(rec.lambdas), len(rec.sets[-1]) if rec.sets else 0, len(excluded), reason)
    return rec.path("asp", reason, _excluded(settings, excluded))


def omp_path(A, b, max_active: int | None = None, tol: float = 0.0, refactor_every: int = 100,
             piv_tol: float = 1e-12, use_gram: bool | None = None, max_ratio: float = 1e10,
             refactor_ratio: float = 1e6) -> ModelPath:
    """Orthogonal matching pursuit: add the column most correlated with the residual, refit least
    squares on the active set (CSNE); one iterate per added column.  ``lambdas`` holds the
    largest absolute correlation before each addition.

    A column numerically dependent on the active set (``piv_tol``, R's diagonal ratio past
    ``max_ratio``) is excluded and the next most correlated one taken; R is refactorised
    every ``refactor_every`` additions and whenever its diagonal ratio exceeds
    ``refactor_ratio`` (a no-op while R is fresh).  ``stop_reason``: ``max_active``,
    ``converged`` (correlations <= ``tol``), ``exhausted`` (every column active or excluded)
    or ``blowup`` (coefficients above 1e12; that iterate is not recorded).  ``settings``
    records the excluded columns (``excluded``, ``n_excluded``)."""
    A, b, gram, Atb = _prepare(A, b, use_gram)
    m, n = A.shape
    max_active = min(max_active or n, n, m)
    qr_ = ActiveQR(A, gram, capacity=64, piv_tol=piv_tol, max_ratio=max_ratio,
                   max_capacity=max_active + 1)
    c = Atb.copy()
    rec = _Recorder()
    candidate = np.ones(n, dtype=bool)  # neither active nor excluded
    active, excluded = [], []
    reason = "max_active"
    while len(active) < max_active:
        scores = np.where(candidate, np.abs(c), -1.0)
        j = int(np.argmax(scores))
        if scores[j] < 0:
            reason = "exhausted"
            break
        if scores[j] <= tol:
            reason = "converged"
            break
        candidate[j] = False
        try:
            qr_.insert(j)
        except SingularError:
            excluded.append(j)
            continue
        active.append(j)
        if len(active) % refactor_every == 0 or qr_.diag_ratio() > refactor_ratio:
            qr_.refactorise()
        x = qr_.lstsq(Atb[active], b)
        if np.abs(x).max(initial=0.0) > BLOWUP:
            reason = "blowup"
            break
        c = Atb - qr_.gram_product(x)
        rec.add(scores[j], active, x)
    log.info("OMP path: %d iterates, %d columns excluded, stop: %s", len(rec.lambdas),
             len(excluded), reason)
    return rec.path("omp", reason, _excluded({"max_active": max_active, "m": m, "n": n},
                                             excluded))


def _excluded(settings: dict, excluded: list) -> dict:
    return {**settings, "n_excluded": len(excluded), "excluded": [int(j) for j in excluded]}


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
