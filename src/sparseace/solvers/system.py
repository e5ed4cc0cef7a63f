"""Least-squares systems in reduced form: ||A x - b||^2 = ||R x - z||^2 + rho2 for every x."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import qr


@dataclass
class LstsqSystem:
    """A least-squares problem min ||A x - b|| through its triangular factor.

    R (n, n) upper triangular, z = Q^T b (n,), rho2 = ||b||^2 - ||z||^2, nrows = rows of A;
    ``ones`` (n+2,): the last column of the triangular factor of [A | b | 1] whose leading
    block is [[R, z], [0, sqrt(rho2)]] (Q^T 1, then the norm of the rest of 1), what
    ``centred`` needs (None when unknown).
    """

    R: np.ndarray
    z: np.ndarray
    rho2: float
    nrows: int
    ones: np.ndarray | None = None

    @classmethod
    def from_dense(cls, A, b) -> "LstsqSystem":
        A = np.asarray(A, dtype=float)
        b = np.asarray(b, dtype=float)
        check_finite_system(A, b)
        m, n = A.shape
        T = qr(np.column_stack([A, b, np.ones(m)]), mode="r")[0][:n + 2]
        if m < n + 2:  # pad to (n+2) x (n+2): the extra rows are zero
            T = np.vstack([T, np.zeros((n + 2 - m, n + 2))])
        signs = np.where(np.diag(T) < 0, -1.0, 1.0)
        T = T * signs[:, None]
        return cls(T[:n, :n], T[:n, n], float(T[n, n] ** 2), m, T[:, n + 1])

    @classmethod
    def from_factor(cls, factor, prior=None) -> "LstsqSystem":
        """The preconditioned system (R P^-1, z) of a ``design.DesignFactor``."""
        R = factor.R if prior is None else factor.R / np.asarray(prior)[None, :]
        ones = None if factor.ones is None else factor.ones.copy()
        return cls(np.ascontiguousarray(R), factor.z.copy(), factor.rho2, factor.nrows, ones)

    def centred(self) -> "LstsqSystem":
        """The system of the centred columns and target, A - 1 mean(A), b - mean(b) (what
        scikit-learn's ``fit_intercept=True`` fits): the trailing block of the QR of
        [1 | A | b], from this factor and ``ones`` (one QR of an (n+2)-square matrix; backward
        stable, so each centred column is as accurate as centring the rows first would make
        it)."""
        if self.ones is None:
            raise ValueError(
                "this reduced system cannot be centred: it lacks the projection of the ones "
                "vector (a design factor file written before sparseace kept it, without an "
                "'ones' array); rebuild the design factors (in the workflow: delete "
                "results/fits/<dataset>/design/)")
        n = self.ncols
        T = np.zeros((n + 2, n + 2))
        T[:, 0] = self.ones
        T[:n, 1:n + 1] = self.R
        T[:n, n + 1] = self.z
        T[n, n + 1] = np.sqrt(self.rho2)
        C = qr(T, mode="r", overwrite_a=True, check_finite=False)[0][1:, 1:]
        C = C * np.where(np.diag(C) < 0, -1.0, 1.0)[:, None]
        return LstsqSystem(np.ascontiguousarray(C[:n, :n]), C[:n, n].copy(),
                           float(C[n, n] ** 2), self.nrows)

    @property
    def ncols(self) -> int:
        return self.R.shape[1]

    def residual_norm2(self, x, support=None) -> float:
        """||A x - b||^2; with ``support`` x holds only the coefficients of those columns."""
        x = np.asarray(x, dtype=float)
        if support is None:
            m, full = self.ncols, x
        else:  # R is upper triangular: only its leading block up to the support's last column
            m = int(np.max(support, initial=-1)) + 1  # meets x (a view, not a column copy)
            full = np.zeros(m)
            full[support] = x
        r = self.R[:m, :m] @ full - self.z[:m]
        return float(r @ r) + float(self.z[m:] @ self.z[m:]) + self.rho2

    def rmse(self, x, support=None) -> float:
        """Root mean square residual over the rows of A."""
        return float(np.sqrt(self.residual_norm2(x, support) / max(self.nrows, 1)))


def check_finite_system(A, b) -> None:
    """Clear errors for shape mismatches and non-finite input."""
    if A.ndim != 2 or b.shape != (A.shape[0],):
        raise ValueError(f"A must be (m, n) and b (m,), got {A.shape} and {b.shape}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        raise ValueError("A and b must be finite (found NaN or inf)")
