"""Real spherical harmonics and their gradients (numba).

Convention (matches :func:`sparseace.basis.coupling.complex_to_real`): orthonormal on the unit
sphere, Y_{l,m} = sqrt2 N_lm P_l^m(cos t) cos(m p) for m > 0, N_l0 P_l^0(cos t) for m = 0 and
sqrt2 N_l|m| P_l^|m|(cos t) sin(|m| p) for m < 0, with P_l^m without the Condon-Shortley phase.
Flat index of (l, m): l*l + l + m.

Evaluation uses the solid harmonics S_lm(x, y, z) = r^l Y_lm (homogeneous polynomials), which
have no singularity at the poles: for a unit vector u and |r| = d, Y(u) = S(u) and
grad_r Y(r/|r|) = (grad S(u) - l S(u) u) / d (Euler's relation for homogeneous polynomials).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def num_harmonics(lmax: int) -> int:
    return (lmax + 1) ** 2


@njit(cache=True)
def harmonics_workspace(lmax):
    """Work arrays for ``real_harmonics`` (allocate once, reuse for every call)."""
    return (np.zeros(lmax + 1), np.zeros(lmax + 1), np.zeros((lmax + 1, 3)),
            np.zeros((lmax + 1, 3)), np.zeros((lmax + 1, lmax + 1)),
            np.zeros((lmax + 1, lmax + 1, 3)))


@njit(cache=True)
def real_harmonics(u, lmax, Y, dY, inv_r, work):
    """Fill Y[(lmax+1)^2] with Y_lm(u) and dY[(lmax+1)^2, 3] with grad_r Y_lm(r/|r|).

    u: unit vector (3,); inv_r: 1/|r| (1/Å); work: ``harmonics_workspace(lmax)``.
    """
    x, y, z = u[0], u[1], u[2]
    C, S, dC, dS, q, dq = work
    # C_m + i S_m = (x + i y)^m and gradients
    dC[0, :] = 0.0
    dS[0, :] = 0.0
    C[0] = 1.0
    S[0] = 0.0
    for m in range(1, lmax + 1):
        C[m] = x * C[m - 1] - y * S[m - 1]
        S[m] = x * S[m - 1] + y * C[m - 1]
        for c in range(3):
            dC[m, c] = x * dC[m - 1, c] - y * dS[m - 1, c]
            dS[m, c] = x * dS[m - 1, c] + y * dC[m - 1, c]
        dC[m, 0] += C[m - 1]
        dC[m, 1] -= S[m - 1]
        dS[m, 0] += S[m - 1]
        dS[m, 1] += C[m - 1]
    # q_l^m: r^(l-m) * (associated Legendre P_l^m / sin^m), as polynomials in (z, r^2); here r = 1
    # but gradients are taken of the homogeneous polynomial: d(r^2)/dr = 2 r_vec.
    r2 = x * x + y * y + z * z
    for m in range(lmax + 1):
        # q_m^m = (2m-1)!!, a constant
        val = 1.0
        for k in range(1, 2 * m, 2):
            val *= k
        q[m, m] = val
        dq[m, m, :] = 0.0
        if m + 1 <= lmax:
            q[m + 1, m] = (2 * m + 1) * z * q[m, m]
            dq[m + 1, m, 0] = 0.0
            dq[m + 1, m, 1] = 0.0
            dq[m + 1, m, 2] = (2 * m + 1) * q[m, m]
        for l in range(m + 2, lmax + 1):
            a = (2 * l - 1) / (l - m)
            b = (l + m - 1) / (l - m)
            q[l, m] = a * z * q[l - 1, m] - b * r2 * q[l - 2, m]
            for c in range(3):
                dq[l, m, c] = a * z * dq[l - 1, m, c] - b * r2 * dq[l - 2, m, c]
            dq[l, m, 2] += a * q[l - 1, m]
            dq[l, m, 0] -= b * 2.0 * x * q[l - 2, m]
            dq[l, m, 1] -= b * 2.0 * y * q[l - 2, m]
            dq[l, m, 2] -= b * 2.0 * z * q[l - 2, m]
    sqrt2 = math.sqrt(2.0)
    for l in range(lmax + 1):
        base = l * l + l
        # N_lm = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!)
        fac = 1.0  # (l-m)!/(l+m)! built incrementally
        for m in range(l + 1):
            if m > 0:
                fac /= (l + m) * (l - m + 1)
            N = math.sqrt((2 * l + 1) / (4.0 * math.pi) * fac)
            if m == 0:
                s = N * q[l, 0]
                Y[base] = s
                for c in range(3):
                    g = N * dq[l, 0, c]
                    dY[base, c] = (g - l * s * u[c]) * inv_r
            else:
                f = sqrt2 * N
                sc = f * q[l, m] * C[m]
                ss = f * q[l, m] * S[m]
                Y[base + m] = sc
                Y[base - m] = ss
                for c in range(3):
                    gc = f * (dq[l, m, c] * C[m] + q[l, m] * dC[m, c])
                    gs = f * (dq[l, m, c] * S[m] + q[l, m] * dS[m, c])
                    dY[base + m, c] = (gc - l * sc * u[c]) * inv_r
                    dY[base - m, c] = (gs - l * ss * u[c]) * inv_r
