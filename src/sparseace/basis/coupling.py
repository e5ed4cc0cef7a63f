"""Rotation- and reflection-invariant couplings of real spherical harmonics.

For a tuple of angular momenta ``ls`` (non-decreasing) and a pattern of identical factors, the
invariant couplings are the real coefficient tensors ``C[m_1, ..., m_N]`` such that
``sum_m C[m] prod_t Y^R_{l_t m_t}(r_t)`` is invariant under simultaneous O(3) transformations of
all ``r_t`` and symmetric under permutations of identical factors.

Construction: complex generalised Clebsch-Gordan coupling trees (l1 l2 -> L2, L2 l3 -> L3, ...,
-> 0), transformed to real spherical harmonics, split into real and imaginary parts, symmetrised
over the permutations of identical factors, then orthonormalised by Gram-Schmidt in their
enumeration order; couplings that are linearly dependent on earlier ones are dropped.  The
procedure is deterministic, so the basis is the same on every machine up to rounding.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from functools import lru_cache
from math import factorial, sqrt

import numpy as np

DEPENDENCE_TOL = 1e-9  # relative residual below which a coupling is linearly dependent


@lru_cache(maxsize=None)
def clebsch_gordan(j1: int, m1: int, j2: int, m2: int, J: int, M: int) -> float:
    """<j1 m1 j2 m2 | J M> for integer angular momenta (Racah's formula, exact sum)."""
    if m1 + m2 != M or abs(m1) > j1 or abs(m2) > j2 or abs(M) > J:
        return 0.0
    if J < abs(j1 - j2) or J > j1 + j2:
        return 0.0
    f = factorial
    pref2 = Fraction(
        (2 * J + 1) * f(J + j1 - j2) * f(J - j1 + j2) * f(j1 + j2 - J),
        f(j1 + j2 + J + 1),
    ) * (f(J + M) * f(J - M) * f(j1 - m1) * f(j1 + m1) * f(j2 - m2) * f(j2 + m2))
    total = Fraction(0)
    kmin = max(0, j2 - J - m1, j1 - J + m2)
    kmax = min(j1 + j2 - J, j1 - m1, j2 + m2)
    for k in range(kmin, kmax + 1):
        den = (
            f(k) * f(j1 + j2 - J - k) * f(j1 - m1 - k) * f(j2 + m2 - k)
            * f(J - j2 + m1 + k) * f(J - j1 - m2 + k)
        )
        total += Fraction((-1) ** k, den)
    return float(total) * sqrt(pref2)


@lru_cache(maxsize=None)
def complex_to_real(l: int) -> np.ndarray:
    """Unitary U with Y^R_l = U Y^C_l (rows/columns indexed by m + l).

    Real harmonics: Y^R_{l,m} = sqrt2 N P_l^m cos(m phi) (m > 0), N P_l^0 (m = 0),
    sqrt2 N P_l^|m| sin(|m| phi) (m < 0), with P_l^m without the Condon-Shortley phase;
    complex harmonics Y^C with the Condon-Shortley phase (as scipy's ``sph_harm_y``).
    """
    U = np.zeros((2 * l + 1, 2 * l + 1), dtype=complex)
    s = 1.0 / sqrt(2.0)
    U[l, l] = 1.0
    for mu in range(1, l + 1):
        U[l + mu, l + mu] = (-1) ** mu * s
        U[l + mu, l - mu] = s
        U[l - mu, l - mu] = 1j * s
        U[l - mu, l + mu] = -1j * (-1) ** mu * s
    return U


def _coupling_trees(ls: tuple[int, ...]) -> list[np.ndarray]:
    """All complex coupling trees (l1 l2 -> L2, L2 l3 -> L3, ... -> 0) as dense tensors."""
    N = len(ls)

    def chains(prefix: tuple[int, ...]):
        t = len(prefix)  # index of the next factor to couple
        if t == N - 1:  # the last coupling must give L = 0, so L_{N-1} = l_N
            if prefix[-1] == ls[t]:
                yield prefix
            return
        Lprev = prefix[-1]
        for L in range(abs(Lprev - ls[t]), Lprev + ls[t] + 1):
            yield from chains(prefix + (L,))

    return [_tree_tensor(ls, chain) for chain in chains((ls[0],))]


def _tree_tensor(ls: tuple[int, ...], chain: tuple[int, ...]) -> np.ndarray:
    """Tensor of the coupling tree with intermediate momenta ``chain`` (chain[0] = l_1)."""
    N = len(ls)
    # partial[M index] over m_1..m_t: start with delta on L1 = l1
    shape = tuple(2 * l + 1 for l in ls)
    T = np.zeros(shape)
    for ms in itertools.product(*[range(-l, l + 1) for l in ls]):
        if sum(ms) != 0:
            continue
        val = 1.0
        M = ms[0]
        for t in range(1, N):
            Lprev = chain[t - 1]
            Lnext = chain[t] if t < N - 1 else 0
            Mnext = M + ms[t]
            val *= clebsch_gordan(Lprev, M, ls[t], ms[t], Lnext, Mnext)
            if val == 0.0:
                break
            M = Mnext
        T[tuple(m + l for m, l in zip(ms, ls))] = val
    return T


def _to_real(T: np.ndarray, ls: tuple[int, ...]) -> np.ndarray:
    """Coefficients on products of real harmonics: C^R = T contracted with conj(U_l) per axis."""
    out = T.astype(complex)
    for axis, l in enumerate(ls):
        out = np.moveaxis(np.tensordot(np.conj(complex_to_real(l)), out, axes=([1], [axis])), 0, axis)
    return out


def _symmetrise(T: np.ndarray, runs: tuple[int, ...]) -> np.ndarray:
    """Average T over the permutations within each run of identical consecutive factors."""
    start = 0
    for size in runs:
        if size > 1:
            axes_block = list(range(start, start + size))
            acc = np.zeros_like(T)
            perms = list(itertools.permutations(axes_block))
            for p in perms:
                order = list(range(T.ndim))
                for a, b in zip(axes_block, p):
                    order[a] = b
                acc += np.transpose(T, order)
            T = acc / len(perms)
        start += size
    return T


@lru_cache(maxsize=None)
def invariant_couplings(ls: tuple[int, ...], runs: tuple[int, ...]) -> np.ndarray:
    """Orthonormal real invariant couplings, shape (r, prod(2l+1)).

    ``ls``: angular momenta of the factors, identical factors adjacent; ``runs``: lengths of the
    runs of identical factors (sum(runs) == len(ls)).  Returns an empty (0, .) array when no
    O(3)-invariant exists (e.g. odd sum of l, or one factor with l > 0).
    """
    size = int(np.prod([2 * l + 1 for l in ls]))
    if len(ls) == 1:  # a single factor is invariant only for l = 0
        return np.ones((1, 1)) if ls == (0,) else np.zeros((0, size))
    if sum(ls) % 2 == 1:
        return np.zeros((0, size))
    kept: list[np.ndarray] = []
    for T in _coupling_trees(ls):
        TR = _to_real(T, ls)
        for part in (TR.real, TR.imag):
            v = _symmetrise(part, runs).ravel()
            norm = np.linalg.norm(v)
            if norm < 1e-12:
                continue
            v = v / norm
            for _ in range(2):  # Gram-Schmidt, twice for stability
                for u in kept:
                    v = v - (u @ v) * u
            resid = np.linalg.norm(v)
            if resid > DEPENDENCE_TOL:
                kept.append(v / resid)
    if not kept:
        return np.zeros((0, size))
    return np.array(kept)
