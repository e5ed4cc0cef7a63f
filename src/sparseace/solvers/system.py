"""Least-squares systems in reduced form: ||A x - b||^2 = ||R x - z||^2 + rho2 for every x."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import qr


@dataclass
class LstsqSystem:
    """A least-squares problem min ||A x - b|| through its triangular factor.

    R (n, n) upper triangular, z = Q^T b (n,), rho2 = ||b||^2 - ||z||^2, nrows = rows of A.
    """

    R: np.ndarray
    z: np.ndarray
    rho2: float
    nrows: int

    @classmethod
    def from_dense(cls, A, b) -> "LstsqSystem":
        A = np.asarray(A, dtype=float)
        b = np.asarray(b, dtype=float)
        check_finite_system(A, b)
        m, n = A.shape
        Q, R = qr(A, mode="economic")
        z = Q.T @ b
        if m < n:  # pad to n x n: the extra rows are zero
            R = np.vstack([R, np.zeros((n - m, n))])
            z = np.concatenate([z, np.zeros(n - m)])
        return cls(R, z, max(float(b @ b - z @ z), 0.0), m)

    @classmethod
    def from_factor(cls, factor, prior=None) -> "LstsqSystem":
        """The preconditioned system (R P^-1, z) of a ``design.DesignFactor``."""
        R = factor.R if prior is None else factor.R / np.asarray(prior)[None, :]
        return cls(np.ascontiguousarray(R), factor.z.copy(), factor.rho2, factor.nrows)

    @property
    def ncols(self) -> int:
        return self.R.shape[1]

    def residual_norm2(self, x, support=None) -> float:
        """||A x - b||^2; with ``support`` x holds only the coefficients of those columns."""
        x = np.asarray(x, dtype=float)
        r = (self.R if support is None else self.R[:, support]) @ x - self.z
        return float(r @ r) + self.rho2

    def rmse(self, x, support=None) -> float:
        """Root mean square residual over the rows of A."""
        return float(np.sqrt(self.residual_norm2(x, support) / max(self.nrows, 1)))


def check_finite_system(A, b) -> None:
    """Clear errors for shape mismatches and non-finite input."""
    if A.ndim != 2 or b.shape != (A.shape[0],):
        raise ValueError(f"A must be (m, n) and b (m,), got {A.shape} and {b.shape}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        raise ValueError("A and b must be finite (found NaN or inf)")
