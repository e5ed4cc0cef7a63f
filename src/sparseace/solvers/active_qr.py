"""Q-less QR of a growing and shrinking set of active columns, kept as a partial Cholesky
factorisation of the Gram matrix.

For the active columns A_S = Q R (k of them, in insertion order) one buffer B (capacity, n)
holds the k rows Q^T A = R^-T G[S, :] of the Gram matrix G = A^T A projected on span(A_S),
with the columns permuted so that the active ones come first: B[:k, :k] = R (upper
triangular) and B[:k, k:] = Q^T A_I for the inactive columns I.  This is a pivoted Cholesky
factorisation of G, its pivots chosen by the path.

- A column j enters at position k: r = B[:k, j] is R's new column, rho^2 = G_jj - ||r||^2 its
  new diagonal, and the new row B[k, I] = (G[j, I] - r^T B[:k, I]) / rho costs one pass over
  B[:k, I] (k (n - k) reads): the only per-iterate pass of that size.  G is read one row per
  insertion; no copy of G[S, :] is kept.
- A column leaves: it moves behind the active block and Givens rotations on the rows below
  restore the triangle, over all columns (rotations are orthogonal: B stays Q^T A); the last
  row, no longer in the span, is dropped.
- Right-hand sides: for vectors f over the columns (A^T b; ASP's signs of the active columns)
  y_f = R^-T f_S is kept (one entry per insertion, rotated with B on deletion), and so is
  u_f = B^T y_f = G[:, S] G_SS^-1 f_S (one axpy per insertion or deletion).  A path's
  coefficients are x = R^-1 y (one triangular solve) and its correlations
  A^T b - A^T A_S x = A^T b - u: no product with G[:, S] at all.

R is computed from exact rows of G at every insertion, so it is the Cholesky factor of
G[S, S] that a refactorisation would compute; only deletions depart from it, by rounding that
grows linearly with their number.  The rows of G come from ``GramRows``: its stored upper
triangle (half of G), or A^T a_j computed at insertion.  Inputs are checked for finite values
once, by the path functions.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy.linalg import cholesky

from ._blas import gram_block, multiply_rows, solve_triangular_right, solve_triangular_rows


@njit(cache=True)
def _swap_columns(M, rows, a, b, out):
    """Swap columns a and b of M's first rows, the new column b into ``out`` (one pass)."""
    for i in range(rows):
        out[i] = M[i, a]
        M[i, a] = M[i, b]
        M[i, b] = out[i]


@njit(cache=True)
def _by_column(U, pos):
    """U[:, pos] (numpy's fancy indexing of a few long rows is 10x slower)."""
    out = np.empty(U.shape)
    for q in range(U.shape[0]):
        for j in range(U.shape[1]):
            out[q, j] = U[q, pos[j]]
    return out


@njit(cache=True)
def _new_row_rhs(Y, U, B, k, r, f, rho):
    """Y[:, k] = (f - Y[:, :k] r) / rho and U += Y[:, k] B[k, :] (B[k, :k] is zero)."""
    for q in range(Y.shape[0]):
        s = f[q]
        for i in range(k):
            s -= Y[q, i] * r[i]
        y = s / rho
        Y[q, k] = y
        for j in range(k, B.shape[1]):
            U[q, j] += y * B[k, j]


PANEL = 512  # columns per panel of the rotations (4 KB of a row: the running row stays in L1)


@njit(cache=True)
def _delete(B, Y, U, perm, diag, k, p):
    """Remove the active column at position p (of k): move it to position k-1, behind the
    active block, restore the triangle of rows p..k-1 by Givens rotations, rotate Y's columns
    alike, then drop row k-1 (its part of U, then its values).  The rotations are found on
    the triangle (columns < k), then applied to the inactive columns panel by panel
    (``_rotate_panels``: each value read and written once)."""
    for i in range(k):
        t = B[i, p]
        for j in range(p, k - 1):
            B[i, j] = B[i, j + 1]
        B[i, k - 1] = t
    for q in range(U.shape[0]):
        t = U[q, p]
        for j in range(p, k - 1):
            U[q, j] = U[q, j + 1]
        U[q, k - 1] = t
    t = perm[p]
    for j in range(p, k - 1):
        perm[j] = perm[j + 1]
    perm[k - 1] = t
    cos, sin = np.ones(k), np.zeros(k)
    for i in range(p, k - 1):
        # rotation i zeroes B[i+1, i], found from column i as rotations p..i-1 left it
        a, b = B[i, i], B[i + 1, i]
        r = np.hypot(a, b)
        c, s = (1.0, 0.0) if r == 0.0 else (a / r, b / r)
        cos[i], sin[i] = c, s
        upper, lower = B[i], B[i + 1]
        for j in range(i, k):
            u, w = upper[j], lower[j]
            upper[j] = c * u + s * w
            lower[j] = c * w - s * u
        lower[i] = 0.0
        diag[i] = abs(upper[i])
        for q in range(Y.shape[0]):
            u, w = Y[q, i], Y[q, i + 1]
            Y[q, i] = c * u + s * w
            Y[q, i + 1] = c * w - s * u
    for q in range(Y.shape[0]):
        U[q, k - 1] -= Y[q, k - 1] * B[k - 1, k - 1]
    _rotate_panels(B, Y, U, cos, sin, k, p)
    for q in range(Y.shape[0]):
        Y[q, k - 1] = 0.0
    for j in range(k):
        B[k - 1, j] = 0.0


@njit(cache=True)
def _rotate_panels(B, Y, U, cos, sin, k, p):
    """Rotations p..k-2 on rows p..k-1 of the inactive columns (>= k), panel by panel, the
    running lower row kept in a panel-sized buffer; row k-1 (out of the span at the end) goes
    into U (U -= Y[:, k-1] B[k-1, :]) and is zeroed."""
    n = B.shape[1]
    for panel in range((n - k + PANEL - 1) // PANEL):
        j0 = k + panel * PANEL
        j1 = min(j0 + PANEL, n)
        row = B[p, j0:j1].copy()
        for i in range(p, k - 1):
            c, s = cos[i], sin[i]
            upper, lower = B[i, j0:j1], B[i + 1, j0:j1]
            for j in range(j1 - j0):
                u, w = row[j], lower[j]
                upper[j] = c * u + s * w
                row[j] = c * w - s * u
        for q in range(Y.shape[0]):
            y = Y[q, k - 1]
            for j in range(j1 - j0):
                U[q, j0 + j] -= y * row[j]
        B[k - 1, j0:j1] = 0.0


@njit(cache=True)
def _is_upper_triangular(A):
    for i in range(A.shape[0]):
        for j in range(min(i, A.shape[1])):
            if A[i, j] != 0.0:
                return False
    return True


class GramRows:
    """Rows of the Gram matrix G = A^T A, as ``ActiveQR`` reads them (one per insertion).

    ``stored``: the upper triangle is computed once (BLAS gemm) and kept in blocks of rows,
    block L = rows l0..l0+b holding G[L, l0:]: half the memory of G.  For an upper-triangular
    A (a reduced system's R) the products run over its first l0 + b rows only (n^3 / 3 flops
    instead of n^3).  Otherwise a row is computed when asked, A^T a_j (m n flops)."""

    def __init__(self, A: np.ndarray, stored: bool = True, block: int = 1024):
        self.A = A
        m, n = A.shape
        self.diag = np.einsum("ij,ij->j", A, A)
        self.block = block
        self.blocks = []
        if not stored:
            return
        A = np.ascontiguousarray(A, dtype=float)
        triangular = m == n and _is_upper_triangular(A)
        for l0 in range(0, n, block):
            width = min(block, n - l0)
            out = np.empty((width, n - l0))
            gram_block(A, l0 + width if triangular else m, l0, width, out)
            self.blocks.append(out)

    def row(self, j: int) -> np.ndarray:
        """G[j, :] (a new array)."""
        if not self.blocks:
            return self.A.T @ self.A[:, j]
        b = self.block
        L, n = j // b, self.A.shape[1]
        out = np.empty(n)
        out[j:] = self.blocks[L][j - L * b, j - L * b:]
        for M in range(L + 1):  # G[:j, j] from the rows of blocks 0..L
            m0 = M * b
            rows = min(b, j - m0)
            out[m0:m0 + rows] = self.blocks[M][:rows, j - m0]
        return out


class SingularError(RuntimeError):
    """A column is (numerically) linearly dependent on the active columns."""


class ActiveQR:
    """Factor of A[:, active] as rows of the projected Gram matrix (see the module docstring),
    with ``n_rhs`` right-hand sides f (one value per column, given when it enters)."""

    def __init__(self, gram: GramRows, n_rhs: int = 1, capacity: int | None = None,
                 piv_tol: float = 1e-12, max_ratio: float = 1e10):
        self.gram = gram
        m, n = gram.A.shape
        self.col_norm2 = gram.diag
        self.capacity = min(capacity or n, n, m)
        self.B = np.zeros((self.capacity, n))  # pages are touched as rows are filled
        self.Y = np.zeros((n_rhs, self.capacity))
        self.U = np.zeros((n_rhs, n))  # by position
        self.F = np.zeros((n_rhs, n))  # by column
        self.diag = np.zeros(self.capacity)  # R's diagonal (positive)
        self.perm = np.arange(n)  # column at each position
        self.pos = np.arange(n)  # position of each column
        self.k = 0
        # rho^2 = ||a||^2 - ||r||^2 carries a rounding error of a few eps ||a||^2: a smaller
        # value cannot be told from zero, whatever piv_tol asks (pivTol bounds rho / ||a||)
        self._d2_floor = max(piv_tol ** 2, 64 * np.finfo(float).eps)
        self.max_ratio = max_ratio

    @property
    def active(self) -> np.ndarray:
        """Active columns in insertion order."""
        return self.perm[: self.k]

    @property
    def R(self) -> np.ndarray:
        return self.B[: self.k, : self.k]

    def insert(self, j: int, f=(0.0,)) -> None:
        """Append column j with right-hand-side values f (n_rhs,); raises SingularError if it
        depends on the active columns or makes R's diagonal ratio exceed ``max_ratio``."""
        k, B = self.k, self.B
        q = self.pos[j]
        if q < k:
            raise ValueError(f"column {j} is already active")
        if k == self.capacity:
            raise ValueError(f"more than {self.capacity} active columns")
        # j moves to position k first (a swap of two inactive columns, harmless if j is
        # then refused), its column of B read on the way
        r = np.empty(k)
        _swap_columns(B, k, q, k, r)
        if q != k:
            self.U[:, [q, k]] = self.U[:, [k, q]]
            self.perm[[q, k]] = self.perm[[k, q]]
            self.pos[self.perm[[q, k]]] = [q, k]
        d2 = self.col_norm2[j] - np.einsum("i,i", r, r)  # no BLAS call: see _blas
        if d2 <= self._d2_floor * self.col_norm2[j] or self.col_norm2[j] == 0:
            raise SingularError(f"column {j} is linearly dependent on the active set")
        rho = np.sqrt(d2)
        d = self.diag[:k]
        if k and max(d.max(), rho) > self.max_ratio * min(d.min(), rho):
            raise SingularError(f"adding column {j} makes R's diagonal ratio exceed "
                                f"{self.max_ratio:g}")
        self.diag[k] = rho
        self.r = r  # R's new column above the diagonal (for ``solve_appended``)
        row = B[k]
        row[:k] = 0.0
        row[k] = rho
        row[k + 1:] = self.gram.row(j)[self.perm[k + 1:]]
        multiply_rows(r[None, :], B, k, k + 1, row[k + 1:], alpha=-1.0, beta=1.0)
        row[k + 1:] /= rho
        self.F[:, j] = f
        _new_row_rhs(self.Y, self.U, B, k, r, self.F[:, j].copy(), rho)
        self.k += 1

    def delete(self, position: int) -> None:
        """Remove the active column at ``position``; Givens rotations restore the triangle."""
        k = self.k
        _delete(self.B, self.Y, self.U, self.perm, self.diag, k, position)
        self.pos[self.perm[position:k]] = np.arange(position, k)
        self.k -= 1

    def refactorise(self) -> None:
        """Recompute R, B, Y and U from G, removing the rounding that deletions accumulate:
        a Cholesky factorisation of G[S, S] and a triangular solve with G[S, I] (k^2 (n - k)
        flops, which a path can afford rarely)."""
        k, B, S = self.k, self.B, self.active
        if not k:
            return
        for i, j in enumerate(S):
            B[i, :] = self.gram.row(j)[self.perm]
        B[:k, :k] = cholesky(B[:k, :k], check_finite=False)
        self.diag[:k] = np.abs(np.diagonal(B[:k, :k]))
        solve_triangular_right(B, k, k)
        Yk = np.ascontiguousarray(self.F[:, S])
        solve_triangular_rows(B, k, Yk, transposed=True)
        self.Y[:, :k] = Yk
        multiply_rows(Yk, B, k, 0, self.U)

    def solve(self, Y: np.ndarray, k: int | None = None) -> np.ndarray:
        """X with R X = Y, for Y (k,) or one right-hand side per row (p, k); ``k``: with the
        leading k x k block of R instead."""
        X = np.array(Y, dtype=float, ndmin=2, order="C")  # a copy, solved in place
        solve_triangular_rows(self.B, self.k if k is None else k, X, transposed=False)
        return X.reshape(np.shape(Y))

    def solve_appended(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Solutions of R X = Y just after an insertion from those before it: X (p, k - 1)
        solved the old R, y (p,) is Y's new column.  The new R is [[R_old, r], [0, rho]], so
        X_new = [X - t h, t] with t = y / rho and h = R_old^-1 r: one triangular solve for
        all right-hand sides."""
        k = self.k
        h = self.solve(self.r, k - 1)
        t = y / self.diag[k - 1]
        return np.concatenate([X - t[:, None] * h[None, :], t[:, None]], axis=1)

    @property
    def y(self) -> np.ndarray:
        """R^-T f_S for each right-hand side (n_rhs, k)."""
        return self.Y[:, : self.k]

    def projections(self) -> np.ndarray:
        """u_f = G[:, S] G_SS^-1 f_S for each right-hand side (n_rhs, n), by column."""
        return _by_column(self.U, self.pos)
