"""Q-less QR of a growing and shrinking set of active columns, with corrected semi-normal
equation (CSNE) solves.

For the active columns A_S = Q R the factor R (k x k) is kept without Q: a column is appended
by solving R^T r = A_S^T a and rho = sqrt(||a||^2 - ||r||^2); a column is removed by deleting it
from R and restoring the triangle with Givens rotations.  Least squares min ||A_S x - b|| is
solved as R^T R x = A_S^T b followed by one correction step with the true residual (CSNE),
which makes it as accurate as a QR solve with Q.

With the Gram matrix G = A^T A, the active columns G[:, S] (n x k) and the block G[S, S] are
kept in buffers updated on insert and delete, so that the products a path needs at every
iterate, A^T A_S x = G[:, S] x (n k flops) and A_S^T A_S x (k^2 flops), copy nothing.
Inputs are checked for finite values once, by the path functions.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import get_blas_funcs, qr, solve_triangular


class SingularError(RuntimeError):
    """The active columns are (numerically) linearly dependent."""


class ActiveQR:
    """Triangular factor of A[:, active], active columns in insertion order."""

    def __init__(self, A: np.ndarray, gram: np.ndarray | None = None, capacity: int = 64,
                 piv_tol: float = 1e-12, max_ratio: float = 1e10,
                 max_capacity: int | None = None):
        self.A = A
        self.gram = gram
        self.col_norm2 = np.einsum("ij,ij->j", A, A) if gram is None else np.diag(gram).copy()
        self.max_capacity = max_capacity or A.shape[1]
        capacity = min(capacity, self.max_capacity)
        self.R = np.zeros((capacity, capacity))
        if gram is not None:
            self._GS = np.zeros((A.shape[1], capacity), order="F")  # G[:, active]
            self._GSS = np.zeros((capacity, capacity))              # G[active, active]
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

    def _cross(self, j: int) -> np.ndarray:
        """A_S^T A[:, j]."""
        if self.gram is not None:
            return self._GS[j, : self.k]  # G symmetric: G[S, j] = G[j, S]
        return self.A[:, self.active].T @ self.A[:, j]

    def _grow(self) -> None:
        cap = self.R.shape[0]
        new = min(2 * cap, self.max_capacity)
        if new <= cap:
            raise ValueError(f"more than {self.max_capacity} active columns")
        R = np.zeros((new, new))
        R[:cap, :cap] = self.R
        self.R = R
        if self.gram is not None:
            GS = np.zeros((self._GS.shape[0], new), order="F")
            GS[:, :cap] = self._GS
            GSS = np.zeros((new, new))
            GSS[:cap, :cap] = self._GSS
            self._GS, self._GSS = GS, GSS

    def insert(self, j: int) -> None:
        """Append column j; raises SingularError if it depends on the active columns."""
        k = self.k
        if k == self.R.shape[0]:
            self._grow()
        cross = self._cross(j)
        r = solve_triangular(self.Rk, cross, trans="T", check_finite=False) if k else cross
        d2 = self.col_norm2[j] - r @ r
        if d2 <= (self.piv_tol ** 2) * self.col_norm2[j] or self.col_norm2[j] == 0:
            raise SingularError(f"column {j} is linearly dependent on the active set")
        self.R[:k, k] = r
        self.R[k, k] = np.sqrt(d2)
        self.R[k, :k] = 0.0
        if self.gram is not None:
            self._GSS[:k, k] = cross
            self._GSS[k, :k] = cross
            self._GSS[k, k] = self.gram[j, j]
            self._GS[:, k] = self.gram[j]  # G symmetric: column j = row j (contiguous)
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
        if self.gram is not None:
            self._GS[:, position:k - 1] = self._GS[:, position + 1:k]
            G = self._GSS
            G[position:k - 1, :k] = G[position + 1:k, :k]
            G[:k - 1, position:k - 1] = G[:k - 1, position + 1:k]
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
        y = solve_triangular(self.Rk, rhs, trans="T", check_finite=False)
        return solve_triangular(self.Rk, y, check_finite=False)

    def _normal_product(self, x: np.ndarray) -> np.ndarray:
        """A_S^T A_S x, from the Gram matrix when there is one."""
        if self.gram is not None:
            k = self.k
            return self._GSS[:k, :k] @ x
        cols = self.A[:, self.active]
        return cols.T @ (cols @ x)

    def gram_product(self, x: np.ndarray) -> np.ndarray:
        """A^T A_S x (n,) for coefficients x of the active columns."""
        if self.gram is not None:
            return self._GS[:, : self.k] @ x
        return self.A.T @ (self.A[:, self.active] @ x)

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
