"""Radial bases (numba): Agnesi distance transform, orthonormal polynomials, envelopes.

Many-body radial functions R_n(r) = e(x) P_{n-1}(x), e(x) = (1 - x^2)^2, P the orthonormal
Jacobi(4,4) polynomials (orthonormal for the weight e(x)^2, so the R_n are orthonormal in
L2[-1, 1]).  Pair functions phi_q(r) = P_q(x) e_pair(r), P the orthonormal Legendre polynomials
and e_pair(r) = s^-2 - sc^-2 + 2 sc^-3 (s - sc), s = r/r0, sc = rcut/r0 (repulsive at r -> 0).
In both cases x(r) in [-1, 1] is the Agnesi transform

    s = (r - rin)/(r0 - rin),  y = 1 / (1 + a s^q / (1 + s^(q-p))),
    x = -1 + 2 (y - y(rin)) / (y(rcut) - y(rin)),
    a = (-2q + p(-2 + 4q)) / (p + p^2 + q + q^2).

Distances in Å.  Everything vanishes (with its first derivative) at rcut and beyond.
"""

from __future__ import annotations

from math import lgamma, exp, sqrt

import numpy as np
from numba import njit

ENVELOPE_POLY = 0  # (1 - x^2)^2
ENVELOPE_PAIR = 1  # Coulomb-like, repulsive at short range


def agnesi_a(p: int, q: int) -> float:
    return (-2 * q + p * (-2 + 4 * q)) / (p + p * p + q + q * q)


def jacobi_recurrence(alpha: float, nmax: int) -> np.ndarray:
    """Recurrence of the orthonormal symmetric Jacobi(alpha, alpha) polynomials.

    Returns rec (nmax, 3): P_k = rec[k,0] x P_{k-1} - rec[k,1] P_{k-2} for the classical
    polynomials (rec[0] unused), and rec[k,2] the factor normalising P_k.  alpha = 0 gives the
    Legendre polynomials.
    """
    rec = np.zeros((max(nmax, 1), 3))
    for k in range(nmax):
        if k >= 1:
            two = 2 * k + 2 * alpha
            if k == 1:
                rec[k, 0] = (alpha + 1) * (2 * alpha + 2) / (2 * alpha + 2)  # P_1 = (alpha+1) x
            else:
                rec[k, 0] = (two - 1) * two / (2 * k * (k + 2 * alpha))
                rec[k, 1] = (k + alpha - 1) ** 2 * two / (k * (k + 2 * alpha) * (two - 2))
        # h_k = 2^(2a+1)/(2k+2a+1) Gamma(k+a+1)^2 / (Gamma(k+2a+1) k!)
        logh = (
            (2 * alpha + 1) * np.log(2.0) - np.log(2 * k + 2 * alpha + 1)
            + 2 * lgamma(k + alpha + 1) - lgamma(k + 2 * alpha + 1) - lgamma(k + 1)
        )
        rec[k, 2] = 1.0 / sqrt(exp(logh))
    return rec


@njit(cache=True)
def agnesi_transform(r, r0, rin, rcut, p, q, a):
    """Return (x, dx/dr) of the Agnesi transform for distance r (Å)."""
    def y_and_dy(s):
        sqp = s ** (q - p)
        f = a * s ** q / (1.0 + sqp)
        df = a * s ** (q - 1) * (q + p * sqp) / (1.0 + sqp) ** 2
        y = 1.0 / (1.0 + f)
        return y, -df * y * y

    scale = 1.0 / (r0 - rin)
    y_in, _ = y_and_dy(0.0)
    y_cut, _ = y_and_dy((rcut - rin) * scale)
    y, dy = y_and_dy((r - rin) * scale)
    c = 2.0 / (y_cut - y_in)
    return -1.0 + c * (y - y_in), c * dy * scale


@njit(cache=True)
def radial_functions(r, r0, rin, rcut, p, q, a, rec, nfun, envelope, out, dout):
    """Fill out[:nfun], dout[:nfun] with the radial functions and their r-derivatives."""
    if r >= rcut:
        for k in range(nfun):
            out[k] = 0.0
            dout[k] = 0.0
        return
    x, dxdr = agnesi_transform(r, r0, rin, rcut, p, q, a)
    if envelope == ENVELOPE_POLY:
        w = 1.0 - x * x
        env = w * w
        denv = -4.0 * x * w * dxdr
    else:
        s = r / r0
        sc = rcut / r0
        env = 1.0 / (s * s) - 1.0 / (sc * sc) + 2.0 / (sc * sc * sc) * (s - sc)
        denv = (-2.0 / (s * s * s) + 2.0 / (sc * sc * sc)) / r0
    pm2, pm1, dpm2, dpm1 = 0.0, 1.0, 0.0, 0.0  # classical P_{k-2}, P_{k-1} and x-derivatives
    for k in range(nfun):
        if k == 0:
            P, dP = 1.0, 0.0
        else:
            P = rec[k, 0] * x * pm1 - rec[k, 1] * pm2
            dP = rec[k, 0] * (pm1 + x * dpm1) - rec[k, 1] * dpm2
        pm2, pm1, dpm2, dpm1 = pm1, P, dpm1, dP
        nrm = rec[k, 2]
        out[k] = nrm * P * env
        dout[k] = nrm * (dP * dxdr * env + P * denv)
