"""Sparse model paths: ASP (homotopy LASSO by the dual active-set method) and OMP.

Both take a matrix A (m, n) and a vector b: the dense weighted system, or the reduced one
(R, z) of ``LstsqSystem``, whose paths are identical.  Every iterate is recorded: its lambda
(ASP; the largest correlation for OMP), its active set and its coefficients, stored compactly
(ragged arrays).

ASP follows the LASSO solution x(lambda) = argmin 1/2 ||A x - b||^2 + lambda ||x||_1 from
lambda = max |A^T b| down, breakpoint by breakpoint: between breakpoints the active
coefficients move linearly, x_S = (A_S^T A_S)^-1 (A_S^T b - lambda sign_S); a breakpoint is
where an inactive dual constraint |a_j^T (b - A x)| <= lambda becomes tight (j enters) or an
active coefficient reaches zero (it leaves).  OMP adds the column of largest correlation and
refits least squares.  Both keep the active columns' Q-less QR as a partial Cholesky
factorisation of the Gram matrix, updated by column insertions and deletions (``ActiveQR``),
which also carries the correlations: per iterate one pass over the factor's rows (k (n - k))
and triangular solves (ASP: after an insertion one, for x and v together, whose solutions
extend the previous ones; two from scratch after a deletion and every ``RESOLVE_EVERY``
insertions).  scikit-learn's ``lars_path(method="lasso")`` minimises
1/(2 m) ||A x - b||^2 + alpha ||x||_1, so alpha = lambda / m.

A candidate column that is numerically dependent on the active set does not end a path: it is
excluded (for good) and the next candidate taken, so that a path is that of A without the
excluded columns.  ``ModelPath.stop_reason`` says why a path ended (a short code, see
``asp_path`` and ``omp_path``); ``settings["excluded"]`` lists the excluded columns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ._blas import solve_triangular_rows
from .active_qr import ActiveQR, GramRows, SingularError
from .system import check_finite_system

log = logging.getLogger(__name__)

LAMBDA_MIN = float(np.sqrt(np.finfo(float).eps))
BLOWUP = 1e12  # a path ends when its coefficients exceed this (max abs)
RESOLVE_EVERY = 16  # ASP: x, v updated by insertions at most so many times in a row
PROGRESS_EVERY = 500  # iterates between progress reports (log, INFO)


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
    """Iterates appended to chunks of storage, each with the one change of the active set
    since the previous iterate (a column appended, or the one at a position removed), from
    which ``path`` rebuilds the active sets while it copies the coefficients into the ragged
    arrays chunk by chunk: a long path is never held twice (a path to 5000 active columns
    stores ~10^7 coefficients), and the active sets cost nothing while the path runs."""

    CHUNK = 1 << 21

    def __init__(self):
        self.lambdas, self.sizes, self.changes, self.chunks = [], [], [], []  # [values, used]

    def add(self, lam, x, entered: int = -1, left: int = -1):
        """Iterate with coefficients x; ``entered``: the column appended to the active set,
        ``left``: the position of the one removed (-1: no change)."""
        k = len(x)
        if not self.chunks or self.chunks[-1][1] + k > len(self.chunks[-1][0]):
            self.chunks.append([np.empty(max(self.CHUNK, k)), 0])
        chunk = self.chunks[-1]
        chunk[0][chunk[1]:chunk[1] + k] = x
        chunk[1] += k
        self.lambdas.append(float(lam))
        self.sizes.append(k)
        self.changes.append((entered, left))

    def path(self, method, reason, settings) -> ModelPath:
        ptr = np.concatenate([[0], np.cumsum(self.sizes, dtype=np.int64)])
        indices, values = np.empty(ptr[-1], np.int64), np.empty(ptr[-1])
        active = np.empty(max(self.sizes, default=0) + 1, np.int64)
        k = 0
        for i, (entered, left) in enumerate(self.changes):
            if entered >= 0:
                active[k] = entered
                k += 1
            if left >= 0:
                active[left:k - 1] = active[left + 1:k].copy()
                k -= 1
            indices[ptr[i]:ptr[i + 1]] = active[:k]
        start = 0
        while self.chunks:
            chunk_values, used = self.chunks.pop(0)
            values[start:start + used] = chunk_values[:used]
            start += used
        return ModelPath(method, np.array(self.lambdas), ptr, indices, values, reason, settings)


def _prepare(A, b, use_gram):
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    check_finite_system(A, b)
    m, n = A.shape
    gram = GramRows(A, stored=use_gram if use_gram is not None else m >= n)
    return A, b, gram, A.T @ b


def asp_path(A, b, max_active: int | None = None, lambda_min: float = LAMBDA_MIN,
             max_iter: int | None = None, refactor_every: int | None = None,
             piv_tol: float = 1e-12, use_gram: bool | None = None,
             max_ratio: float = 1e10) -> ModelPath:
    """Homotopy LASSO path (ASP); see the module docstring.

    A column that would enter but is numerically dependent on the active set (``ActiveQR``:
    ``piv_tol``, R's diagonal ratio past ``max_ratio``) is excluded and the path goes on.
    ``stop_reason``: ``lambda_min``, ``max_active`` (the active set reached it), ``blowup``
    (coefficients above 1e12; that iterate is not recorded) or ``max_iter``.  ``settings``
    records the excluded columns (``excluded``, ``n_excluded``).  ``refactor_every``:
    recompute the factor from G every so many iterations (default never: only deletions'
    rotations round it, see ``ActiveQR``)."""
    A, b, gram, Atb = _prepare(A, b, use_gram)
    m, n = A.shape
    max_active = min(max_active or n, n, m)
    max_iter = max_iter or 8 * max_active + 100
    # right-hand sides: A^T b and the signs of the active columns
    qr_ = ActiveQR(gram, n_rhs=2, capacity=max_active, piv_tol=piv_tol, max_ratio=max_ratio)
    del gram
    c = Atb.copy()
    j = int(np.argmax(np.abs(c)))
    lam = abs(c[j])
    rec = _Recorder()
    settings = {"max_active": max_active, "lambda_min": lambda_min, "m": m, "n": n}
    if lam <= lambda_min:
        rec.add(lam, [])
        return rec.path("asp", "lambda_min", _excluded(settings, []))
    candidate = np.ones(n, dtype=bool)  # neither active nor excluded
    excluded = []
    x, v, w = np.zeros(0), np.zeros(0), np.zeros(n)
    entering, dropped, left = j, None, -1
    appended = 0  # iterates since x, v were last solved from scratch
    reason = "max_iter"
    for iteration in range(max_iter):
        moved = entering is None  # the active set changed since x, v, c, w were computed
        if entering is not None:
            candidate[entering] = False
            try:
                qr_.insert(entering, (Atb[entering], np.sign(c[entering])))
            except SingularError:
                excluded.append(entering)  # x, v, c, w stand; find the next breakpoint
            else:
                moved = True
        if moved:
            refactorised = bool(refactor_every and iteration and iteration % refactor_every == 0)
            if refactorised:
                qr_.refactorise()
            # coefficients x = R^-1 R^-T (A_S^T b - lam s) and direction v = R^-1 R^-T s (as
            # lambda decreases by d, x grows by d v and the correlations
            # c = A^T b - A^T A_S x = A^T b - u_b + lam u_s fall by d w, w = u_s)
            y = qr_.y
            if entering is not None and not refactorised and appended < RESOLVE_EVERY:
                x, v = qr_.solve_appended(np.stack([x, v]), np.array([y[0, -1] - lam * y[1, -1],
                                                                      y[1, -1]]))
                appended += 1
            else:
                x, v = qr_.solve(np.stack([y[0] - lam * y[1], y[1]]))
                appended = 0
            if np.abs(x).max(initial=0.0) > BLOWUP:
                reason = "blowup"
                break
            u = qr_.projections()
            c = Atb - u[0] + lam * u[1]
            w = u[1]
            rec.add(lam, x, entering if entering is not None else -1, left)
            left = -1
            if len(rec.sizes) % PROGRESS_EVERY == 0:
                log.info("ASP path: %d iterates, %d active, lambda %.3e", len(rec.sizes),
                         qr_.k, lam)
            if qr_.k >= max_active and entering is not None:
                reason = "max_active"
                break
        tiny = 1e-14 * max(lam, 1.0)
        # a column that just left may not re-enter at once at the bound it left (c = +-lam)
        blocked = -1 if dropped is None else dropped
        j_in, step_in = _entering(c, w, candidate, lam, tiny, blocked, qr_.F[1, blocked] > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_leave = -x / v
        d_out = np.where(d_leave > tiny, d_leave, np.inf)
        if moved and entering is not None:  # nor may one that just entered leave at once
            d_out[-1] = np.inf
        j_out = int(np.argmin(d_out)) if len(d_out) else 0
        step_out = d_out[j_out] if len(d_out) else np.inf
        step = min(step_in, step_out, lam - lambda_min)
        lam -= step
        if lam <= lambda_min * (1 + 1e-12):
            lam = lambda_min
            y = qr_.y
            rec.add(lam, qr_.solve(y[0] - lam * y[1]))
            reason = "lambda_min"
            break
        if step_out <= step_in:
            removed = int(qr_.active[j_out])
            qr_.delete(j_out)
            candidate[removed] = True
            entering, dropped, left = None, removed, j_out
        else:
            x = x + step * v
            c = c - step * w
            entering, dropped = j_in, None
    log.info("ASP path: %d iterates, %d active at the end, %d columns excluded, stop: %s",
             len(rec.lambdas), rec.sizes[-1] if rec.sizes else 0, len(excluded), reason)
    del qr_  # its buffers (the Gram matrix) go before the path's arrays are allocated
    return rec.path("asp", reason, _excluded(settings, excluded))


@njit(cache=True, error_model="numpy")
def _entering(c, w, candidate, lam, tiny, blocked, blocked_plus):
    """The next column to enter as lambda decreases and its step d: the least d > ``tiny``
    with c_j - d w_j = +-(lam - d) over the candidates, (lam - c) / (1 - w) for the upper
    bound and (lam + c) / (1 + w) for the lower; column ``blocked`` may not reach the bound
    it just left (upper if ``blocked_plus``).  One pass, no temporaries; ties go to the
    first column.  (-1, inf) if none."""
    best, step = -1, np.inf
    for j in range(len(c)):
        if not candidate[j]:
            continue
        d = (lam - c[j]) / (1.0 - w[j])
        if d > tiny and d < step and not (j == blocked and blocked_plus):
            best, step = j, d
        d = (lam + c[j]) / (1.0 + w[j])
        if d > tiny and d < step and not (j == blocked and not blocked_plus):
            best, step = j, d
    return best, step


def omp_path(A, b, max_active: int | None = None, tol: float = 0.0,
             refactor_every: int | None = None, piv_tol: float = 1e-12,
             use_gram: bool | None = None, max_ratio: float = 1e10) -> ModelPath:
    """Orthogonal matching pursuit: add the column most correlated with the residual, refit least
    squares on the active set; one iterate per added column.  ``lambdas`` holds the largest
    absolute correlation before each addition.

    A column numerically dependent on the active set (``piv_tol``, R's diagonal ratio past
    ``max_ratio``) is excluded and the next most correlated one taken.  R is the exact
    Cholesky factor of G[S, S] at every iterate (``ActiveQR``), so the refactorisation that
    updated factors need past a diagonal ratio of 1e6 has nothing to do; ``refactor_every``
    still forces one every so many additions.  The iterates' coefficients are solved at the
    end, all from the final factor (``_nested_path``).  ``stop_reason``: ``max_active``,
    ``converged`` (correlations <= ``tol``), ``exhausted`` (every column active or excluded)
    or ``blowup`` (the path ends before the first iterate with coefficients above 1e12).
    ``settings`` records the excluded columns (``excluded``, ``n_excluded``)."""
    A, b, gram, Atb = _prepare(A, b, use_gram)
    m, n = A.shape
    max_active = min(max_active or n, n, m)
    qr_ = ActiveQR(gram, n_rhs=1, capacity=max_active, piv_tol=piv_tol, max_ratio=max_ratio)
    del gram
    c = Atb.copy()
    lambdas = []
    candidate = np.ones(n, dtype=bool)  # neither active nor excluded
    excluded = []
    reason = "max_active"
    while qr_.k < max_active:
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
            qr_.insert(j, (Atb[j],))
        except SingularError:
            excluded.append(j)
            continue
        if refactor_every and qr_.k % refactor_every == 0:
            qr_.refactorise()
        # correlations A^T b - A^T A_S x = A^T b - u for the least squares x = R^-1 R^-T A_S^T b
        c = Atb - qr_.projections()[0]
        lambdas.append(scores[j])
        if qr_.k % PROGRESS_EVERY == 0:
            log.info("OMP path: %d iterates, %d active", len(lambdas), qr_.k)
    qr_.gram = None  # the Gram matrix goes before the path's arrays are allocated
    path = _nested_path(qr_, np.array(lambdas))
    if len(path) < len(lambdas):
        reason = "blowup"
    log.info("OMP path: %d iterates, %d active, %d columns excluded, stop: %s", len(path),
             path.sizes[-1] if len(path) else 0, len(excluded), reason)
    path.stop_reason = reason
    path.settings = _excluded({"max_active": max_active, "m": m, "n": n}, excluded)
    return path


def _nested_path(qr_: ActiveQR, lambdas: np.ndarray, block: int = 256) -> ModelPath:
    """OMP's iterates from its final factor: iterate i is least squares on the first i + 1
    active columns, x_i = R_i^-1 y[:i+1] with R_i the leading block of R, so that all of them
    come from triangular solves with many right-hand sides, ``block`` iterates at a time
    (BLAS 3, instead of one memory-bound solve per iterate).  Stops before the first iterate
    whose coefficients exceed BLOWUP."""
    K = len(lambdas)
    sizes = np.arange(1, K + 1)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    indices, values = np.empty(ptr[-1], np.int64), np.empty(ptr[-1])
    active, y = qr_.active[:K], qr_.y[0, :K]
    for i0 in range(0, K, block):
        i1 = min(i0 + block, K)
        X = np.tile(y[:i1], (i1 - i0, 1))
        X[np.arange(i1)[None, :] > np.arange(i0, i1)[:, None]] = 0.0  # row i: y[:i + 1]
        solve_triangular_rows(qr_.B, i1, X, transposed=False)
        for i in range(i0, i1):
            x = X[i - i0, :i + 1]
            if np.abs(x).max() > BLOWUP:
                K = i
                break
            indices[ptr[i]:ptr[i + 1]] = active[:i + 1]
            values[ptr[i]:ptr[i + 1]] = x
        if K < i1:
            break
    return ModelPath("omp", lambdas[:K], ptr[:K + 1], indices[:ptr[K]], values[:ptr[K]])


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
