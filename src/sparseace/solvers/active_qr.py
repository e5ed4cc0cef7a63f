"""Q-less QR of a growing and shrinking set of active columns, with corrected semi-normal
equation (CSNE) solves.

For the active columns A_S = Q R the factor R (k x k) is kept without Q: a column is appended
by solving R^T r = A_S^T a and rho = sqrt(||a||^2 - ||r||^2); a column is removed by deleting it
from R and restoring the triangle with Givens rotations.  Least squares min ||A_S x - b|| is
solved as R^T R x = A_S^T b followed by one correction step with the true residual (CSNE),
which makes it as accurate as a QR solve with Q.

With the Gram matrix G = A^T A, the rows G[S, :] (k x n) and the block G[S, S] are kept in
buffers updated on insert and delete, so that the products a path needs at every iterate,
A^T A_S x = G[:, S] x (n k flops) and A_S^T A_S x (k^2 flops), copy nothing.  The triangular
solves and products (BLAS, ``_blas``) and the Givens sweep (compiled) work on the leading
blocks of the buffers in place, several right-hand sides per pass: they are bound by memory
traffic (at k = 5000 the R triangle is 100 MB), and a copy of a block would cost more than the
operation.
Inputs are checked for finite values once, by the path functions.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.linalg import LinAlgError, cholesky, qr

from ._blas import multiply_rows, solve_triangular_rows


@njit(cache=True)
def _remove_row(M, k, position):
    """Move rows position+1..k-1 of M up by one, in place (row k-1 keeps its old values)."""
    for i in range(position, k - 1):
        M[i] = M[i + 1]


@njit(cache=True)
def _remove_column(M, k, position):
    """Move columns position+1..k-1 of M[:k] left by one and zero column k-1, in place."""
    for i in range(k):
        for j in range(position, k - 1):
            M[i, j] = M[i, j + 1]
        M[i, k - 1] = 0.0


@njit(cache=True)
def _delete_column(R, k, position):
    """Remove column ``position`` of R[:k, :k] and restore the triangle (Givens rotations on
    rows position..k-1); afterwards R[:k-1, :k-1] is the factor and row/column k-1 are zero."""
    _remove_column(R, k, position)
    for i in range(position, k - 1):
        a, b = R[i, i], R[i + 1, i]
        if b == 0.0:
            continue
        r = np.hypot(a, b)
        c, s = a / r, b / r
        for j in range(i, k - 1):
            u, w = R[i, j], R[i + 1, j]
            R[i, j] = c * u + s * w
            R[i + 1, j] = c * w - s * u
        R[i + 1, i] = 0.0
    for j in range(k):
        R[k - 1, j] = 0.0


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
            self._GS = np.zeros((capacity, A.shape[1]))  # G[active, :]
            self._GSS = np.zeros((capacity, capacity))  # G[active, active]
        self.active: list[int] = []
        # R is what a factorisation from scratch would give: with a Gram matrix, insertions
        # compute exactly the Cholesky factor of G[S, S] and only deletions (rotations) depart
        # from it; without, insertions are semi-normal updates, not a QR of A_S
        self._fresh = True
        # rho^2 = ||a||^2 - ||r||^2 carries a rounding error of a few eps ||a||^2: a smaller
        # value cannot be told from zero, whatever piv_tol asks (pivTol bounds rho / ||a||)
        self._d2_floor = max(piv_tol ** 2, 64 * np.finfo(float).eps)
        self.max_ratio = max_ratio

    @property
    def k(self) -> int:
        return len(self.active)

    @property
    def Rk(self) -> np.ndarray:
        return self.R[: self.k, : self.k]

    def _cross(self, j: int) -> np.ndarray:
        """A_S^T A[:, j]."""
        if self.gram is not None:
            return self._GS[: self.k, j]
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
            GS = np.zeros((new, self._GS.shape[1]))
            GS[:cap] = self._GS
            GSS = np.zeros((new, new))
            GSS[:cap, :cap] = self._GSS
            self._GS, self._GSS = GS, GSS

    def insert(self, j: int) -> None:
        """Append column j; raises SingularError if it depends on the active columns."""
        k = self.k
        if k == self.R.shape[0]:
            self._grow()
        cross = self._cross(j)
        r = np.array(cross, ndmin=2)  # a copy, solved in place
        solve_triangular_rows(self.R, k, r, transposed=True)
        r = r[0]
        d2 = self.col_norm2[j] - r @ r
        if d2 <= self._d2_floor * self.col_norm2[j] or self.col_norm2[j] == 0:
            raise SingularError(f"column {j} is linearly dependent on the active set")
        rho = np.sqrt(d2)
        d = np.abs(np.diag(self.Rk))
        if k and max(d.max(), rho) > self.max_ratio * min(d.min(), rho):
            raise SingularError(f"adding column {j} makes R's diagonal ratio exceed "
                                f"{self.max_ratio:g}")
        self.R[:k, k] = r
        self.R[k, k] = rho
        self.R[k, :k] = 0.0
        if self.gram is not None:
            self._GSS[:k, k] = cross
            self._GSS[k, :k] = cross
            self._GSS[k, k] = self.gram[j, j]
            self._GS[k] = self.gram[j]
        self.active.append(int(j))
        self._fresh = self._fresh and self.gram is not None

    def delete(self, position: int) -> None:
        """Remove the active column at ``position``; Givens rotations restore the triangle."""
        k = self.k
        _delete_column(self.R, k, position)
        if self.gram is not None:
            _remove_row(self._GS, k, position)
            _remove_row(self._GSS, k, position)
            _remove_column(self._GSS, k, position)
        self.active.pop(position)
        self._fresh = self._fresh and position == k - 1

    def refactorise(self) -> None:
        """Recompute R from the active columns, removing the rounding that updates accumulate
        (nothing to do while R is fresh).  With a Gram matrix, R is the Cholesky factor of
        G[S, S] (k^3 / 3 flops, against 2 m k^2 for a QR of A_S)."""
        k = self.k
        if not k or self._fresh:
            return
        Rk = None
        if self.gram is not None:
            try:
                Rk = cholesky(self._GSS[:k, :k], check_finite=False)
            except LinAlgError:  # G[S, S] too ill-conditioned for Cholesky: QR of A_S
                pass
        if Rk is None:
            Rk = qr(self.A[:, self.active], mode="r")[0][:k, :k]
        self.R[:k, :k] = Rk * np.where(np.diag(Rk) < 0, -1.0, 1.0)[:, None]
        self._fresh = True

    def diag_ratio(self) -> float:
        d = np.abs(np.diag(self.Rk))
        return float(d.max() / d.min()) if len(d) else 1.0

    def solve_normal(self, rhs: np.ndarray) -> np.ndarray:
        """X with R^T R X = rhs, for rhs (k,) or one right-hand side per row (p, k)."""
        Y = np.array(rhs, dtype=float, ndmin=2, order="C")  # a copy, solved in place
        solve_triangular_rows(self.R, self.k, Y, transposed=True)
        solve_triangular_rows(self.R, self.k, Y, transposed=False)
        return Y.reshape(np.shape(rhs))

    def _rows(self, X: np.ndarray, buffer: np.ndarray, cols: int) -> np.ndarray:
        """X @ buffer[:k, :cols] for X (k,) or (p, k)."""
        X = np.asarray(X, dtype=float)
        out = multiply_rows(np.array(X, ndmin=2, order="C"), buffer, self.k, cols)
        return out.reshape(X.shape[:-1] + (cols,))

    def _normal_product(self, X: np.ndarray) -> np.ndarray:
        """A_S^T A_S X (X: (k,) or (p, k), one vector per row), from the Gram matrix when
        there is one."""
        if self.gram is not None:
            return self._rows(X, self._GSS, self.k)
        cols = self.A[:, self.active]
        return (X @ cols.T) @ cols

    def gram_product(self, X: np.ndarray) -> np.ndarray:
        """A^T A_S X: (n,) for coefficients X (k,) of the active columns, (p, n) for (p, k)."""
        if self.gram is not None:
            return self._rows(X, self._GS, self.A.shape[1])
        return (X @ self.A[:, self.active].T) @ self.A

    def lstsq(self, Atb_active: np.ndarray, b: np.ndarray) -> np.ndarray:
        """min ||A_S x - b|| by CSNE: a semi-normal solve plus one correction with the residual
        (with a Gram matrix, the residual of the normal equations)."""
        if self.gram is not None:
            return self.solve_gram(Atb_active)
        x = self.solve_normal(Atb_active)
        cols = self.A[:, self.active]
        return x + self.solve_normal(cols.T @ (b - cols @ x))

    def solve_gram(self, rhs: np.ndarray) -> np.ndarray:
        """X with A_S^T A_S X = rhs ((k,) or (p, k)), refined once with the residual."""
        X = self.solve_normal(rhs)
        return X + self.solve_normal(rhs - self._normal_product(X))
