"""Q-less QR of a growing and shrinking set of active columns, with corrected semi-normal
equation (CSNE) solves.

For the active columns A_S = Q R the factor R (k x k) is kept without Q: a column is appended
by solving R^T r = A_S^T a and rho = sqrt(||a||^2 - ||r||^2); a column is removed by deleting it
from R and restoring the triangle with Givens rotations.  Least squares min ||A_S x - b|| is
solved as R^T R x = A_S^T b followed by one correction step with the true residual (CSNE),
which makes it as accurate as a QR solve with Q.  Cross products A_S^T a come from the Gram
matrix G = A^T A when one is given.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import get_blas_funcs, qr, solve_triangular


class SingularError(RuntimeError):
    """The active columns are (numerically) linearly dependent."""


class ActiveQR:
    """Triangular factor of A[:, active], active columns in insertion order."""

    def __init__(self, A: np.ndarray, gram: np.ndarray | None = None, capacity: int = 64,
                 piv_tol: float = 1e-12, max_ratio: float = 1e10):
        self.A = A
        self.gram = gram
        self.col_norm2 = np.einsum("ij,ij->j", A, A) if gram is None else np.diag(gram).copy()
        self.R = np.zeros((capacity, capacity))
        self.active: list[int] = []
        self.piv_tol = piv_tol
        self.max_ratio = max_ratio
        self._rot = get_blas_funcs("rotg", dtype=float)

    @property
    def k(self) -> int:
        return len(self.active)

    @property
    def Rk(self) -> np.ndarray:
        return self.R[: self.k, : self.k]

    def cross(self, columns, j: int) -> np.ndarray:
        """A[:, columns]^T A[:, j]."""
        if self.gram is not None:
            return self.gram[columns, j]
        return self.A[:, columns].T @ self.A[:, j]

    def _grow(self) -> None:
        cap = self.R.shape[0]
        R = np.zeros((2 * cap, 2 * cap))
        R[:cap, :cap] = self.R
        self.R = R

    def insert(self, j: int) -> None:
        """Append column j; raises SingularError if it depends on the active columns."""
        k = self.k
        if k == self.R.shape[0]:
            self._grow()
        r = solve_triangular(self.Rk, self.cross(self.active, j), trans="T") if k else np.zeros(0)
        d2 = self.col_norm2[j] - r @ r
        if d2 <= (self.piv_tol ** 2) * self.col_norm2[j] or self.col_norm2[j] == 0:
            raise SingularError(f"column {j} is linearly dependent on the active set")
        self.R[:k, k] = r
        self.R[k, k] = np.sqrt(d2)
        self.R[k, :k] = 0.0
        self.active.append(int(j))
        if self.diag_ratio() > self.max_ratio:
            self.delete(k)
            raise SingularError(f"adding column {j} makes R's diagonal ratio exceed "
                                f"{self.max_ratio:g}")

    def delete(self, position: int) -> None:
        """Remove the active column at ``position``; Givens rotations restore the triangle."""
        k = self.k
        R = self.R
        R[:k, position:k - 1] = R[:k, position + 1:k]
        R[:k, k - 1] = 0.0
        for i in range(position, k - 1):
            a, b = R[i, i], R[i + 1, i]
            if b == 0.0:
                continue
            c, s = self._rot(a, b)
            rows = R[[i, i + 1], i:k - 1]
            R[i, i:k - 1] = c * rows[0] + s * rows[1]
            R[i + 1, i:k - 1] = -s * rows[0] + c * rows[1]
            R[i + 1, i] = 0.0
        R[k - 1, :k] = 0.0
        self.active.pop(position)

    def refactorise(self) -> None:
        """Recompute R from the active columns (removes accumulated rounding)."""
        k = self.k
        if k:
            Rk = qr(self.A[:, self.active], mode="r")[0][:k, :k]
            self.R[:k, :k] = Rk * np.where(np.diag(Rk) < 0, -1.0, 1.0)[:, None]

    def diag_ratio(self) -> float:
        d = np.abs(np.diag(self.Rk))
        return float(d.max() / d.min()) if len(d) else 1.0

    def solve_normal(self, rhs: np.ndarray) -> np.ndarray:
        """x with R^T R x = rhs."""
        y = solve_triangular(self.Rk, rhs, trans="T")
        return solve_triangular(self.Rk, y)

    def _normal_product(self, x: np.ndarray) -> np.ndarray:
        """A_S^T A_S x, from the Gram matrix when there is one."""
        if self.gram is not None:
            return self.gram[np.ix_(self.active, self.active)] @ x
        cols = self.A[:, self.active]
        return cols.T @ (cols @ x)

    def lstsq(self, Atb_active: np.ndarray, b: np.ndarray) -> np.ndarray:
        """min ||A_S x - b|| by CSNE: a semi-normal solve plus one correction with the residual
        (with a Gram matrix, the residual of the normal equations)."""
        if self.gram is not None:
            return self.solve_shifted(Atb_active, np.zeros_like(Atb_active))
        x = self.solve_normal(Atb_active)
        cols = self.A[:, self.active]
        return x + self.solve_normal(cols.T @ (b - cols @ x))

    def solve_shifted(self, Atb_active: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """x with A_S^T A_S x = A_S^T b - shift, refined once with the residual."""
        rhs = Atb_active - shift
        x = self.solve_normal(rhs)
        return x + self.solve_normal(rhs - self._normal_product(x))
