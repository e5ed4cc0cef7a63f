"""BLAS level-3 calls on blocks of preallocated buffers, in place.

``ActiveQR`` keeps R, G[:, S] and G[S, S] in buffers sized for the largest active set; the
block a path needs at each iterate is a strided view, which numpy and scipy's wrappers would
copy (at k = 5000 the R block is 200 MB).  These wrappers call scipy's BLAS (through
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
    R_k = R[:k, :k] is upper triangular inside the C-ordered buffer R."""
    _check(R, Y)
    if k == 0:
        return
    # in Fortran order R is R^T, lower triangular: R^T y = b is 'N', R x = y is 'T'
    _dtrsm(b"L", b"L", b"N" if transposed else b"T", b"N", _int(k), _int(Y.shape[0]),
           _double(1.0), R.ctypes.data, _int(R.shape[1]), Y.ctypes.data, _int(k))


def multiply_rows(X: np.ndarray, M: np.ndarray, k: int, cols: int) -> np.ndarray:
    """X @ M[:k, :cols] (p, cols) for X (p, k) and the leading block of a C-ordered buffer M."""
    _check(X, M)
    p = X.shape[0]
    out = np.empty((p, cols))
    if k == 0:
        out[:] = 0.0
        return out
    # in Fortran order: out^T (cols x p) = M[:k, :cols]^T (cols x k) @ X^T (k x p)
    _dgemm(b"N", b"N", _int(cols), _int(p), _int(k), _double(1.0), M.ctypes.data,
           _int(M.shape[1]), X.ctypes.data, _int(k), _double(0.0), out.ctypes.data,
           _int(cols))
    return out
