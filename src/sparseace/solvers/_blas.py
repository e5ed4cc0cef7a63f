"""BLAS calls on blocks of preallocated buffers, in place.

``ActiveQR`` keeps its factor in one buffer sized for the largest active set; the block a path
needs at each iterate is a strided view, which numpy and scipy's wrappers would copy (at
k = 5000 the triangle alone is 100 MB).  These wrappers call scipy's BLAS (through
``scipy.linalg.cython_blas``) with the buffer's leading dimension instead.  All per-iterate
products go to this one BLAS: numpy wheels bundle a second OpenBLAS, and on a small machine
the idle threads of one pool spinning while the other works made a path 2.2x slower.

Arrays are C-ordered; BLAS reads a C-ordered (rows, cols) buffer as its Fortran transpose.
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba.extending import get_cython_function_address

_INT = ctypes.POINTER(ctypes.c_int)
_DBL = ctypes.POINTER(ctypes.c_double)
_PTR = ctypes.c_void_p


def _function(name, *argtypes):
    address = get_cython_function_address("scipy.linalg.cython_blas", name)
    return ctypes.CFUNCTYPE(None, *argtypes)(address)


_dtrsm = _function("dtrsm", *[ctypes.c_char_p] * 4, _INT, _INT, _DBL, _PTR, _INT, _PTR, _INT)
_dgemm = _function("dgemm", *[ctypes.c_char_p] * 2, _INT, _INT, _INT, _DBL, _PTR, _INT, _PTR,
                   _INT, _DBL, _PTR, _INT)
_dtrsv = _function("dtrsv", *[ctypes.c_char_p] * 3, _INT, _PTR, _INT, _PTR, _INT)
_dgemv = _function("dgemv", ctypes.c_char_p, _INT, _INT, _DBL, _PTR, _INT, _PTR, _INT, _DBL,
                   _PTR, _INT)


def _int(value: int):
    return ctypes.byref(ctypes.c_int(value))


def _double(value: float):
    return ctypes.byref(ctypes.c_double(value))


def _check(*arrays):
    for a in arrays:
        if a.dtype != np.float64 or not a.flags.c_contiguous:
            raise ValueError("BLAS buffers must be C-ordered float64")


def solve_triangular_rows(R: np.ndarray, k: int, Y: np.ndarray, transposed: bool) -> None:
    """Y[q] <- R_k^-T Y[q] (``transposed``) or R_k^-1 Y[q] for each row of Y (p, k), in place;
    R_k = R[:k, :k] is upper triangular inside the C-ordered buffer R.  For a few right-hand
    sides one dtrsv per row: OpenBLAS' dtrsm is 4-10x slower there."""
    _check(R, Y)
    if k == 0:
        return
    # in Fortran order R is R^T, lower triangular: R^T y = b is 'N', R x = y is 'T'
    if Y.shape[0] > 8:
        _dtrsm(b"L", b"L", b"N" if transposed else b"T", b"N", _int(k), _int(Y.shape[0]),
               _double(1.0), R.ctypes.data, _int(R.shape[1]), Y.ctypes.data, _int(k))
        return
    for q in range(Y.shape[0]):
        _dtrsv(b"L", b"N" if transposed else b"T", b"N", _int(k), R.ctypes.data,
               _int(R.shape[1]), Y[q].ctypes.data, _int(1))


def multiply_rows(X: np.ndarray, M: np.ndarray, k: int, start: int, out: np.ndarray,
                  alpha: float = 1.0, beta: float = 0.0) -> None:
    """out <- alpha X @ M[:k, start:start + w] + beta out, in place, for X (p, k), out (p, w)
    C-ordered or a row of a C-ordered buffer (p = 1), and M a C-ordered buffer.  One
    matrix-vector product per row (for one right-hand side OpenBLAS' dgemv streams the block
    3.6x faster than dgemm)."""
    _check(X, M)
    out2 = out.reshape(1, -1) if out.ndim == 1 else out
    if out2.dtype != np.float64 or out2.strides[-1] != 8 or out2.shape[0] != X.shape[0]:
        raise ValueError("out must be float64 (p, w) with contiguous rows")
    w = out2.shape[1]
    if w == 0:
        return
    if k == 0:
        out *= beta
        return
    # in Fortran order M[:k, start:] is its transpose (w x k): out[q] = M^T X[q]
    for q in range(X.shape[0]):
        _dgemv(b"N", _int(w), _int(k), _double(alpha), M.ctypes.data + 8 * start,
               _int(M.shape[1]), X[q].ctypes.data, _int(1), _double(beta),
               out2[q].ctypes.data, _int(1))


def solve_triangular_right(B: np.ndarray, k: int, start: int) -> None:
    """B[:k, start:] <- R^-T B[:k, start:] in place, R = B[:k, :k] upper triangular, for a
    C-ordered buffer B (one pass over the block for all its columns)."""
    _check(B)
    w = B.shape[1] - start
    if k == 0 or w <= 0:
        return
    # in Fortran order the block is M^T (w x k) and R is L = R^T: solve Z L^T = M^T
    _dtrsm(b"R", b"L", b"T", b"N", _int(w), _int(k), _double(1.0), B.ctypes.data,
           _int(B.shape[1]), B.ctypes.data + 8 * start, _int(B.shape[1]))


def gram_block(A: np.ndarray, rows: int, start: int, width: int, out: np.ndarray) -> None:
    """out <- A[:rows, start:start + width]^T A[:rows, start:] (width, n - start), in place, for
    C-ordered A (m, n) and out."""
    _check(A, out)
    n = A.shape[1]
    if out.shape != (width, n - start):
        raise ValueError("out must be (width, n - start)")
    # in Fortran order: out^T (n - start, width) = A_F[start:, :rows] A_F[start:][:width]^T
    _dgemm(b"N", b"T", _int(n - start), _int(width), _int(rows), _double(1.0),
           A.ctypes.data + 8 * start, _int(n), A.ctypes.data + 8 * start, _int(n),
           _double(0.0), out.ctypes.data, _int(n - start))
